import type { JsonObject } from "@bufbuild/protobuf";
import { durationMs } from "@bufbuild/protobuf/wkt";
import type { Task } from "../gen/saga/v1/worker_pb.js";
import { TaskAbortedError, type AbortCause } from "./task-aborted-error.js";
import { createTaskContext } from "./task-context.js";
import { taskOutcome, type Settled, type TaskOutcome } from "./task-outcome.js";
import type { ActionHandler } from "./worker-options.js";

/**
 * One acknowledged task, from the ack until its result is sent: it owns the signal the handler
 * sees, the attempt's local timeout and the progress waiting for the next heartbeat.
 */
export class RunningTask {
  readonly token: string;
  /** Log fields naming the task. */
  readonly fields: Record<string, unknown>;
  /** How often the server needs a heartbeat for this task; undefined when it sets no limit. */
  readonly heartbeatTimeoutMs: number | undefined;
  private readonly controller = new AbortController();
  private pendingProgress: JsonObject | undefined;

  constructor(readonly task: Task) {
    this.token = task.token;
    this.fields = { saga_id: task.sagaId, saga_name: task.sagaName, step: task.step, action: task.action, attempt: task.attempt };
    const heartbeatMs = task.heartbeatTimeout ? durationMs(task.heartbeatTimeout) : 0;
    this.heartbeatTimeoutMs = heartbeatMs > 0 ? heartbeatMs : undefined;
  }

  /** Fires the handler's signal; the first cause wins, so the report matches the first reason. */
  abort(cause: AbortCause, message: string): void {
    if (!this.controller.signal.aborted) this.controller.abort(new TaskAbortedError(cause, message));
  }

  /** Progress recorded since the last heartbeat that carried some, if any. */
  get progress(): JsonObject | undefined {
    return this.pendingProgress;
  }

  /** Clears `progress` once a heartbeat delivered it, unless the handler recorded newer progress meanwhile. */
  progressSent(progress: JsonObject | undefined): void {
    if (progress !== undefined && this.pendingProgress === progress) this.pendingProgress = undefined;
  }

  /** Runs `handler` to the end and says what to report; never rejects. */
  async run(handler: ActionHandler, requestHeartbeat: () => void): Promise<TaskOutcome> {
    const timeoutMs = this.task.timeout ? durationMs(this.task.timeout) : 0;
    const timer =
      timeoutMs > 0 ? setTimeout(() => this.abort("timeout", `attempt timed out after ${timeoutMs} ms`), timeoutMs) : undefined;
    const ctx = createTaskContext(this.task, this.controller.signal, (progress) => {
      if (progress !== undefined) this.pendingProgress = copyProgress(progress);
      requestHeartbeat();
    });
    let settled: Settled;
    try {
      settled = { ok: true, value: await handler(ctx) };
    } catch (error) {
      settled = { ok: false, error };
    } finally {
      clearTimeout(timer);
    }
    const reason: unknown = this.controller.signal.reason;
    return taskOutcome(settled, reason instanceof TaskAbortedError ? reason : undefined);
  }
}

/**
 * A JSON copy, so the handler mutating its object later does not change what is sent, and a value
 * that is not a JSON object fails in the handler's own `heartbeat` call rather than in the loop.
 */
function copyProgress(progress: JsonObject): JsonObject {
  const copy: unknown = JSON.parse(JSON.stringify(progress) ?? "null");
  if (copy === null || typeof copy !== "object" || Array.isArray(copy)) {
    throw new TypeError("heartbeat progress must be a JSON object");
  }
  return copy as JsonObject;
}
