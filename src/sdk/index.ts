/**
 * The sagad worker SDK (`sagad/worker`): serve saga step actions from any Node process. A worker
 * registers with sagad, receives tasks on a stream (or by long polling), runs them in its handlers
 * and reports each result; sagad handles retries, timeouts and compensation.
 *
 *   const worker = createWorker({ url, token, actions: { "charge-card": async (ctx) => ({ chargeId }) } });
 *   await worker.start();
 */
export { createWorker, type Worker } from "./create-worker.js";
export type { TaskContext } from "./task-context.js";
export { TaskAbortedError, type AbortCause } from "./task-aborted-error.js";
export type { ActionDefinition, ActionHandler, ActionResult, WorkerLogger, WorkerOptions } from "./worker-options.js";
export { ActionError } from "../actions/action.js";
