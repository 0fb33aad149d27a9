import { ActionError } from "../actions/action.js";
import type { Task } from "../gen/saga/v1/worker_pb.js";
import { describeError } from "./call-errors.js";
import { RunningTask } from "./running-task.js";
import { StateWaiter } from "./state-waiter.js";
import type { TaskOutcome } from "./task-outcome.js";
import type { ResolvedOptions } from "./resolve-options.js";
import type { ActionHandler, WorkerLogger } from "./worker-options.js";

/** Tasks that arrive within this long of each other share one AckTasks call. */
const ACK_BATCH_MS = 1;

export interface DispatcherDeps {
  options: ResolvedOptions;
  logger: WorkerLogger;
  /** Sends AckTasks for `tokens`; resolves with the tokens the server refused, rejects if the ack failed for good. */
  acknowledge(tokens: string[]): Promise<ReadonlySet<string>>;
  /** Sends a finished task's result; never rejects. */
  report(task: RunningTask, outcome: TaskOutcome): Promise<void>;
  /** A handler recorded progress or asked for a heartbeat. */
  requestHeartbeat(): void;
  /** A task started running (its heartbeat timeout may shorten the heartbeat interval). */
  taskStarted(): void;
}

/**
 * Takes offered tasks, holds them until a slot (and the action's own limit) has room, acks them in
 * batches and runs the accepted ones. A task is only acked once it has a slot, so one that has to
 * wait is not yet the worker's: if it waits past its ack deadline the server offers it elsewhere.
 * Slots count from the ack until the result is sent, as the server counts them.
 */
export class TaskDispatcher {
  private readonly waiting = new Map<string, Task>();
  private readonly acking = new Map<string, { task: Task; cancelled?: string; superseded?: boolean }>();
  private readonly running = new Map<string, RunningTask>();
  private readonly perAction = new Map<string, number>();
  private readonly state = new StateWaiter();
  private ackBatch: Task[] = [];
  private ackTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly deps: DispatcherDeps) {}

  /** Whether new tasks are refused (drain). */
  get draining(): boolean {
    return this.stopped;
  }

  /** Slots neither busy nor promised to a waiting task. */
  get freeSlots(): number {
    return Math.max(0, this.deps.options.slots - this.busy - this.waiting.size);
  }

  /** The tasks a heartbeat must list. */
  runningTasks(): RunningTask[] {
    return [...this.running.values()];
  }

  /** A task from the stream or a poll; ignored while draining and when its token is already here. */
  offer(task: Task): void {
    const token = task.token;
    if (this.stopped || this.waiting.has(token) || this.acking.has(token) || this.running.has(token)) return;
    this.waiting.set(token, task);
    this.pump();
  }

  /** The server asks to stop `token`; a task not yet acked is answered at once, without running. */
  cancel(token: string, reason: string): void {
    const message = reason || "cancelled by the server";
    this.running.get(token)?.abort("cancelled", message);
    const pending = this.acking.get(token);
    if (pending) pending.cancelled = message;
    const waiting = this.waiting.get(token);
    if (waiting) {
      this.waiting.delete(token);
      void this.deps.report(new RunningTask(waiting), { kind: "cancelled", message });
    }
  }

  /** The server no longer holds `token`: stop it and send nothing for it. */
  forget(token: string): void {
    this.running.get(token)?.abort("superseded", "the server no longer holds this task");
    const pending = this.acking.get(token);
    if (pending) pending.superseded = true;
    this.waiting.delete(token);
    this.state.notify();
  }

  /** Stops taking tasks; waiting ones are let go unacked, so the server offers them elsewhere. */
  drain(): void {
    this.stopped = true;
    this.waiting.clear();
    this.state.notify();
  }

  /** Fires the signal of every running task. */
  abortAll(message: string): void {
    for (const task of this.running.values()) task.abort("shutdown", message);
  }

  /** Resolves true once nothing is acked or running, or false after `timeoutMs`. */
  whenIdle(timeoutMs: number): Promise<boolean> {
    return this.state.until(() => this.busy === 0, timeoutMs);
  }

  /** Resolves once a slot is free (or the dispatcher drains). */
  async whenFree(): Promise<void> {
    await this.state.until(() => this.freeSlots > 0 || this.stopped, Infinity);
  }

  private get busy(): number {
    return this.acking.size + this.running.size;
  }

  private hasRoom(action: string): boolean {
    if (this.busy >= this.deps.options.slots) return false;
    const limit = this.deps.options.actions.get(action)?.maxConcurrency ?? 0;
    return limit === 0 || (this.perAction.get(action) ?? 0) < limit;
  }

  private pump(): void {
    for (const [token, task] of this.waiting) {
      if (this.stopped || this.busy >= this.deps.options.slots) break;
      if (!this.hasRoom(task.action)) continue;
      this.waiting.delete(token);
      this.perAction.set(task.action, (this.perAction.get(task.action) ?? 0) + 1);
      this.acking.set(token, { task });
      this.ackBatch.push(task);
    }
    if (this.ackBatch.length > 0 && this.ackTimer === undefined) {
      this.ackTimer = setTimeout(() => void this.flushAcks(), ACK_BATCH_MS);
    }
  }

  private async flushAcks(): Promise<void> {
    this.ackTimer = undefined;
    const batch = this.ackBatch;
    this.ackBatch = [];
    const tokens = batch.map((task) => task.token);
    let refused: ReadonlySet<string>;
    try {
      refused = await this.deps.acknowledge(tokens);
    } catch (err) {
      this.deps.logger.error("ack failed; the tasks will be offered again", { error: describeError(err), tasks: tokens.length });
      refused = new Set(tokens);
    }
    for (const task of batch) {
      const pending = this.acking.get(task.token);
      this.acking.delete(task.token);
      if (refused.has(task.token) || pending?.superseded) this.release(task.action);
      else void this.runAccepted(task, pending?.cancelled);
    }
    this.state.notify();
    this.pump();
  }

  /** Runs an acked task (or, when it was cancelled while its ack was on the way, only reports that) and frees its slot. */
  private async runAccepted(task: Task, cancelledBefore?: string): Promise<void> {
    const running = new RunningTask(task);
    this.running.set(task.token, running);
    this.deps.taskStarted();
    try {
      const outcome: TaskOutcome =
        cancelledBefore !== undefined
          ? { kind: "cancelled", message: cancelledBefore }
          : await running.run(this.handler(task.action), this.deps.requestHeartbeat);
      await this.deps.report(running, outcome);
    } finally {
      this.running.delete(task.token);
      this.release(task.action);
      this.state.notify();
      this.pump();
    }
  }

  private release(action: string): void {
    const count = (this.perAction.get(action) ?? 1) - 1;
    if (count > 0) this.perAction.set(action, count);
    else this.perAction.delete(action);
  }

  /** The server only offers actions the worker registered, so a stranger is a server bug; fail it retryably. */
  private handler(action: string): ActionHandler {
    return (
      this.deps.options.actions.get(action)?.handler ??
      (() => {
        throw new ActionError(`this worker does not serve action ${JSON.stringify(action)}`, {
          kind: "UNKNOWN_ACTION",
          retryable: true,
        });
      })
    );
  }
}
