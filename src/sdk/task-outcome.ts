import { ActionError, normalizeOutput, toActionFailure } from "../actions/action.js";
import type { JsonObject } from "@bufbuild/protobuf";
import type { TaskAbortedError } from "./task-aborted-error.js";

/** The one report a finished task sends; "drop" sends none. */
export type TaskOutcome =
  | { kind: "complete"; output: JsonObject }
  | { kind: "fail"; errorKind: string; message: string; retryable: boolean; retryAfterMs?: number }
  | { kind: "cancelled"; message: string }
  | { kind: "drop" };

/** How a handler settled: its value, or what it threw. */
export type Settled = { ok: true; value: unknown } | { ok: false; error: unknown };

/**
 * Chooses the report for a settled handler. A handler that succeeds is reported as complete even
 * after a cancel (the work happened; the server's fencing decides), except when the server no
 * longer knows the token, where any report would be refused. A handler that fails after its
 * signal fired is reported by why the signal fired, not by the error it happened to throw, as
 * the engine does for built-in actions.
 */
export function taskOutcome(settled: Settled, aborted: TaskAbortedError | undefined): TaskOutcome {
  if (aborted?.abortCause === "superseded") return { kind: "drop" };
  if (settled.ok) {
    try {
      return { kind: "complete", output: normalizeOutput(settled.value) as JsonObject };
    } catch (err) {
      return failure(err);
    }
  }
  switch (aborted?.abortCause) {
    case "cancelled":
      return { kind: "cancelled", message: aborted.message };
    case "timeout":
      return { kind: "fail", errorKind: "TIMEOUT", message: aborted.message, retryable: true };
    case "shutdown":
      return { kind: "fail", errorKind: "WORKER_STOPPED", message: aborted.message, retryable: true };
    default:
      return failure(settled.error);
  }
}

function failure(err: unknown): TaskOutcome {
  const { kind, message, retryable } = toActionFailure(err);
  const retryAfterMs = err instanceof ActionError ? err.retryAfterMs : undefined;
  return retryAfterMs === undefined
    ? { kind: "fail", errorKind: kind, message, retryable }
    : { kind: "fail", errorKind: kind, message, retryable, retryAfterMs };
}
