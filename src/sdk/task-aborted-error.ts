/**
 * Why a task's signal fired, so the result sent afterwards matches what happened:
 * - "cancelled": the server asked (saga cancelled, attempt timed out there); answered with ReportCancelled.
 * - "superseded": the server no longer holds the token (ack refused, heartbeat unknown); nothing is sent.
 * - "timeout": the attempt's start-to-close timeout ran out here; answered with FailTask TIMEOUT.
 * - "shutdown": stop() ran out of grace; answered with FailTask WORKER_STOPPED, retryable.
 */
export type AbortCause = "cancelled" | "superseded" | "timeout" | "shutdown";

/**
 * The `reason` of a task's aborted signal. Named "AbortError" like the DOM's, so code that checks
 * `err.name === "AbortError"` after `signal.throwIfAborted()` keeps working.
 */
export class TaskAbortedError extends Error {
  override readonly name = "AbortError";
  readonly abortCause: AbortCause;

  constructor(abortCause: AbortCause, message: string) {
    super(message);
    this.abortCause = abortCause;
  }
}
