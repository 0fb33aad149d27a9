import type { Logger } from "pino";
import type { Clock } from "../domain/clock.js";
import { attemptFailed, type SagaInput } from "../domain/state-machine.js";
import type { TaskRow, TaskStore, OverdueKind } from "../store/task-store.js";
import type { WorkerSessionStore } from "../store/worker-session-store.js";
import type { Engine } from "./engine.js";

export interface TaskSweeperOptions {
  engine: Engine;
  tasks: TaskStore;
  sessions: WorkerSessionStore;
  clock: Clock;
  logger: Logger;
  intervalMs: number;
  /** Requeues of one attempt after lost workers before it fails with WORKER_LOST. */
  maxRequeues: number;
  /** A running task its live session has not listed in heartbeats for this long counts as lost. */
  unlistedMs: number;
  /** Told of tasks back in the queue (the dispatcher offers them again at once). */
  onRequeued(rows: readonly TaskRow[], why: "ack_timeout" | "worker_lost"): void;
}

/** The error kind of an attempt whose workers kept being lost. */
export const WORKER_LOST = "WORKER_LOST";
const BATCH = 200;

const OVERDUE_MESSAGES: Record<OverdueKind, (row: TaskRow) => string> = {
  TIMEOUT: (r) => `attempt ${r.attempt} timed out after ${r.timeoutMs}ms`,
  HEARTBEAT_TIMEOUT: (r) => `attempt ${r.attempt} sent no heartbeat for ${r.heartbeatMs}ms`,
  SCHEDULE_TO_START_TIMEOUT: (r) => `no worker started attempt ${r.attempt} within ${r.scheduleMs}ms (action ${JSON.stringify(r.action)})`,
};

/**
 * The backstop of task delivery, on every replica: offers nobody acknowledged go back to the
 * queue (no attempt used), tasks of sessions whose heartbeats stopped are requeued (capped, then
 * WORKER_LOST), and attempts past their timeouts fail. Each finding is claimed by one statement,
 * so replicas sweeping at once never record one twice; verdicts go through the one result path.
 */
export class TaskSweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(private readonly opts: TaskSweeperOptions) {}

  start(): void {
    this.timer = setInterval(() => {
      this.running ??= this.sweep()
        .catch((err: unknown) => this.opts.logger.warn({ err }, "task sweep failed; retrying at the next one"))
        .finally(() => (this.running = null));
    }, this.opts.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  /** One pass (tests call it directly). */
  async sweep(): Promise<void> {
    const { tasks, clock } = this.opts;
    const expired = await tasks.expireOffers(clock.now(), BATCH);
    if (expired.length > 0) this.opts.onRequeued(expired, "ack_timeout");
    for (const row of await tasks.requeueLost(clock.now(), this.opts.maxRequeues, this.opts.unlistedMs, BATCH)) {
      if (this.stopped) return;
      await this.workerLost(row);
    }
    for (const row of await tasks.cancelledUnstarted(BATCH)) {
      if (this.stopped) return;
      const message = `aborted: ${row.cancelReason} (before a worker started attempt ${row.attempt})`;
      await this.verdict(row, failure(row, "CANCELLED", message, false), "cancelled");
    }
    for (const row of await tasks.overdue(clock.now(), BATCH)) {
      if (this.stopped) return;
      const message = OVERDUE_MESSAGES[row.overdue](row);
      await this.verdict(row, failure(row, row.overdue, message, true), "timed_out");
    }
    // After the requeue above: a task whose session row is gone counts as lost all the same.
    for (const ended of await this.opts.sessions.deleteExpired(clock.now())) {
      this.opts.logger.info({ session_id: ended.id, instance_id: ended.instanceId, why: "heartbeats stopped" }, "worker session ended");
    }
  }

  private async workerLost(row: TaskRow & { lostWorker: string | null; unlisted: boolean }): Promise<void> {
    const worker = row.lostWorker ? `worker ${row.lostWorker}` : "its worker";
    const who = row.unlisted ? `${worker} no longer lists it in its heartbeats (restarted?)` : row.lostWorker ? `${worker} stopped heartbeating` : "its worker was lost";
    if (row.requeues > this.opts.maxRequeues) {
      const message = `${who}; attempt ${row.attempt} was lost ${row.requeues} times (at most ${this.opts.maxRequeues} requeues)`;
      await this.verdict(row, failure(row, WORKER_LOST, message, false), "failed");
      return;
    }
    const why = `${who} (requeue ${row.requeues} of at most ${this.opts.maxRequeues})`;
    const applied = await this.opts.engine.applyResult(row.sagaId, { type: "taskRequeued", step: row.step, phase: row.phase, attempt: row.attempt, why }, null);
    if (!applied) await this.opts.tasks.closeOrphan({ ...row }, this.opts.clock.now());
    else this.opts.onRequeued([row], "worker_lost");
  }

  private async verdict(row: TaskRow, input: SagaInput, result: "failed" | "timed_out" | "cancelled"): Promise<void> {
    const applied = await this.opts.engine.applyResult(row.sagaId, input, { key: row, result, digest: null });
    // Its saga no longer has this attempt in flight: the row is a leftover; stop finding it.
    if (!applied) await this.opts.tasks.closeOrphan(row, this.opts.clock.now());
  }
}

function failure(row: TaskRow, errorKind: string, error: string, retryable: boolean): SagaInput {
  return attemptFailed(row.phase, { step: row.step, attempt: row.attempt, error, errorKind, retryable });
}
