import type { JsonObject } from "@bufbuild/protobuf";
import { TaskPhase, type Task } from "../gen/saga/v1/worker_pb.js";

/** Everything a handler knows about the task it runs; plain values, no protobuf messages. */
export interface TaskContext {
  /** The step's (or compensation's) config with its templates rendered. */
  readonly input: JsonObject;
  /** The same object as `input`, under the name step definitions use. */
  readonly config: JsonObject;
  readonly vars: Readonly<Record<string, string>>;
  /** Outputs of the saga's completed steps, by step name. */
  readonly outputs: Readonly<Record<string, JsonObject>>;
  readonly sagaId: string;
  readonly sagaName: string;
  readonly step: string;
  readonly action: string;
  readonly phase: "action" | "compensate";
  /** The attempt number, from 1; a task offered again after its worker was lost keeps it. */
  readonly attempt: number;
  /** How many times this attempt has been offered, from 1. */
  readonly delivery: number;
  /** The same for every attempt of this step's action (or compensation): pass it on to de-duplicate side effects. */
  readonly idempotencyKey: string;
  /**
   * Fires when the server cancels the task or stops knowing it, when the attempt's timeout runs
   * out, and when stop() runs out of grace. Its `reason` is a {@link TaskAbortedError}. Handlers
   * must stop promptly; the work may already be offered to another worker.
   */
  readonly signal: AbortSignal;
  /** The progress the previous delivery or attempt reported, to resume from; undefined if none. */
  readonly lastProgress: JsonObject | undefined;
  /**
   * Records progress (a JSON object) that the next heartbeat carries; the server hands the latest
   * to the next attempt as `lastProgress`. Without an argument it only asks for a heartbeat soon.
   */
  heartbeat(progress?: JsonObject): void;
}

/** Builds the context for `task`; `heartbeat` and `signal` belong to the running task. */
export function createTaskContext(task: Task, signal: AbortSignal, heartbeat: (progress?: JsonObject) => void): TaskContext {
  const config = task.config ?? {};
  return Object.freeze({
    input: config,
    config,
    vars: task.vars,
    outputs: task.outputs,
    sagaId: task.sagaId,
    sagaName: task.sagaName,
    step: task.step,
    action: task.action,
    phase: task.phase === TaskPhase.COMPENSATION ? "compensate" : "action",
    attempt: task.attempt,
    delivery: task.delivery,
    idempotencyKey: task.idempotencyKey,
    signal,
    lastProgress: task.lastProgress,
    heartbeat,
  });
}
