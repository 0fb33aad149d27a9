import { Code, ConnectError } from "@connectrpc/connect";

/**
 * How the worker reads a failed call. The server's contract (worker.proto) is: NOT_FOUND on a call
 * that names a session means the session expired or was never known here, so register again;
 * FAILED_PRECONDITION (STALE_ATTEMPT) means the task was superseded and the result must be dropped;
 * INVALID_ARGUMENT and auth errors will not get better by repeating the call.
 */
export type CallFailure = "transient" | "session-lost" | "stale" | "permanent";

/** Codes a repeat of the same call may not get: overload, restarts, lost connections, timeouts. */
const TRANSIENT = new Set<Code>([
  Code.Unavailable,
  Code.DeadlineExceeded,
  Code.ResourceExhausted,
  Code.Aborted,
  Code.Internal,
  Code.Unknown,
  Code.Canceled,
]);

/** Classifies `err` from a WorkerService call; `namesSession` says whether the request carried a session id. */
export function classifyCallError(err: unknown, namesSession: boolean): CallFailure {
  const code = ConnectError.from(err).code;
  if (code === Code.NotFound && namesSession) return "session-lost";
  if (code === Code.FailedPrecondition) return "stale";
  return TRANSIENT.has(code) ? "transient" : "permanent";
}

/** A short text for logs: the code name and message, without a stack. */
export function describeError(err: unknown): string {
  return ConnectError.from(err).message;
}
