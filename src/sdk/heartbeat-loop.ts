import type { Client } from "@connectrpc/connect";
import type { WorkerService } from "../gen/saga/v1/worker_pb.js";
import { classifyCallError, describeError } from "./call-errors.js";
import type { Session } from "./session.js";
import type { TaskDispatcher } from "./task-dispatcher.js";
import type { WorkerLogger } from "./worker-options.js";

/** Even a task with a tiny heartbeat timeout does not make the worker beat faster than this. */
const MIN_INTERVAL_MS = 10;

export interface HeartbeatDeps {
  client: Client<typeof WorkerService>;
  session: Session;
  dispatcher: TaskDispatcher;
  logger: WorkerLogger;
  /** The server says the session is draining. */
  onDraining(): void;
  /** Ends the loop's calls when the worker closes. */
  signal: AbortSignal;
}

/**
 * Keeps the session alive (liveness comes only from heartbeats, tasks or not) and extends the
 * lease of every running task. It beats every heartbeat_interval, or at half the shortest
 * heartbeat timeout of the running tasks when that is sooner, and carries the progress handlers
 * recorded since the last beat. The answer's cancels and unknown tokens stop those tasks.
 */
export class HeartbeatLoop {
  private timer: NodeJS.Timeout | undefined;
  private beating: Promise<void> | undefined;
  private lastBeatAt = 0;
  private stopped = false;

  constructor(private readonly deps: HeartbeatDeps) {}

  start(): void {
    this.lastBeatAt = Date.now();
    this.schedule(this.intervalMs());
  }

  /**
   * A handler asked for a heartbeat (usually with progress): beat now if the last one is at least
   * half an interval old, otherwise the progress goes with the next regular beat. That bounds the
   * rate at twice the regular one whatever handlers do.
   */
  request(): void {
    if (this.stopped || this.beating || Date.now() - this.lastBeatAt < this.intervalMs() / 2) return;
    this.beatNow();
  }

  /**
   * A task started: if its heartbeat timeout makes the interval shorter, bring the next beat
   * forward, so the task's first heartbeat is not left waiting for the longer session interval.
   */
  reschedule(): void {
    if (this.stopped || this.beating) return;
    this.schedule(Math.max(0, this.lastBeatAt + this.intervalMs() - Date.now()));
  }

  /** Stops beating; resolves after a beat in flight has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.beating;
  }

  private intervalMs(): number {
    let interval = this.deps.session.heartbeatIntervalMs;
    for (const task of this.deps.dispatcher.runningTasks()) {
      if (task.heartbeatTimeoutMs !== undefined) interval = Math.min(interval, task.heartbeatTimeoutMs / 2);
    }
    return Math.max(MIN_INTERVAL_MS, interval);
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    if (!this.stopped) this.timer = setTimeout(() => this.beatNow(), ms);
  }

  private beatNow(): void {
    clearTimeout(this.timer);
    this.beating = this.beat().then((next) => {
      this.beating = undefined;
      this.schedule(next);
    });
  }

  /** One heartbeat; resolves with the wait before the next (never rejects). */
  private async beat(): Promise<number> {
    const { client, session, dispatcher, logger, signal } = this.deps;
    this.lastBeatAt = Date.now();
    let sessionId: string | undefined;
    try {
      sessionId = (await session.current()).id;
      const sent = dispatcher.runningTasks().map((task) => ({ task, progress: task.progress }));
      const tasks = sent.map(({ task, progress }) => ({ token: task.token, progress }));
      const res = await client.heartbeat({ sessionId, tasks }, { signal, timeoutMs: session.heartbeatIntervalMs });
      for (const { task, progress } of sent) task.progressSent(progress);
      for (const cancel of res.cancel) dispatcher.cancel(cancel.token, cancel.reason);
      for (const token of res.unknownTokens) dispatcher.forget(token);
      if (res.draining) this.deps.onDraining();
    } catch (err) {
      if (signal.aborted) return 0;
      logger.warn("heartbeat failed", { error: describeError(err) });
      if (sessionId !== undefined && classifyCallError(err, true) === "session-lost") {
        // Register again right away (the next beat does): the session's tasks are lost after its ttl.
        session.lost(sessionId);
        return MIN_INTERVAL_MS;
      }
    }
    return this.intervalMs();
  }
}
