import { Code } from "@connectrpc/connect";
import { SagaStatus } from "../client/index.js";

/**
 * The CLI's exit codes, one per thing a script may want to branch on. They are part of the
 * interface (documented in the README and `sagad help`): never renumber one.
 */
export const EXIT = {
  OK: 0,
  /** An error with no code of its own below (INTERNAL, UNKNOWN, DEADLINE_EXCEEDED, ...). */
  ERROR: 1,
  /** Bad usage (unknown flag, bad --var, unreadable or invalid file) or INVALID_ARGUMENT. */
  USAGE: 2,
  NOT_FOUND: 3,
  PERMISSION_DENIED: 4,
  /** No token, or one the server does not accept. */
  UNAUTHENTICATED: 5,
  /** FAILED_PRECONDITION (wrong state, DISABLED definition, version mismatch) or OUT_OF_RANGE. */
  FAILED_PRECONDITION: 6,
  /** ALREADY_EXISTS: a request id reused with another body. */
  ALREADY_EXISTS: 7,
  /**
   * UNAVAILABLE (the server cannot be reached or its database is down) or ABORTED (a concurrent
   * change got in the way): retrying may help. Also a URL that answers but is not a sagad.
   */
  UNAVAILABLE: 8,
  /** A bulk operation was not confirmed. */
  DECLINED: 9,
  SAGA_FAILED: 10,
  SAGA_COMPENSATED: 11,
  SAGA_COMPENSATION_FAILED: 12,
  SAGA_CANCELLED: 13,
  /** Interrupted by Ctrl-C (128 + SIGINT). */
  INTERRUPTED: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The exit-code table as `sagad help` prints it. */
export const EXIT_CODES_HELP = `Exit codes:
  0   done; for watch and create --watch: the saga COMPLETED
  1   other error (INTERNAL, UNKNOWN, DEADLINE_EXCEEDED, ...)
  2   usage error or INVALID_ARGUMENT (unknown flag, bad --var, a file with an error)
  3   NOT_FOUND            4   PERMISSION_DENIED     5   UNAUTHENTICATED (no or bad token)
  6   FAILED_PRECONDITION  7   ALREADY_EXISTS        8   UNAVAILABLE, ABORTED, no sagad at the URL
  9   a bulk operation was not confirmed
  10  the saga FAILED      11  COMPENSATED           12  COMPENSATION_FAILED
  13  CANCELLED            130 interrupted (Ctrl-C)`;

/** An error the CLI reports as one message on stderr, exiting with `code`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly code: ExitCode,
    /** Extra lines (field violations, hints) printed after the message. */
    readonly details: readonly string[] = [],
  ) {
    super(message);
  }
}

const BY_CONNECT_CODE: Partial<Record<Code, ExitCode>> = {
  [Code.InvalidArgument]: EXIT.USAGE,
  [Code.NotFound]: EXIT.NOT_FOUND,
  [Code.PermissionDenied]: EXIT.PERMISSION_DENIED,
  [Code.Unauthenticated]: EXIT.UNAUTHENTICATED,
  [Code.FailedPrecondition]: EXIT.FAILED_PRECONDITION,
  [Code.OutOfRange]: EXIT.FAILED_PRECONDITION,
  [Code.AlreadyExists]: EXIT.ALREADY_EXISTS,
  [Code.Unavailable]: EXIT.UNAVAILABLE,
  [Code.Aborted]: EXIT.UNAVAILABLE,
};

export function exitCodeForConnectCode(code: Code): ExitCode {
  return BY_CONNECT_CODE[code] ?? EXIT.ERROR;
}

const BY_REST: Partial<Record<SagaStatus, ExitCode>> = {
  [SagaStatus.COMPLETED]: EXIT.OK,
  [SagaStatus.FAILED]: EXIT.SAGA_FAILED,
  [SagaStatus.COMPENSATED]: EXIT.SAGA_COMPENSATED,
  [SagaStatus.COMPENSATION_FAILED]: EXIT.SAGA_COMPENSATION_FAILED,
  [SagaStatus.CANCELLED]: EXIT.SAGA_CANCELLED,
};

/** The exit code of a watch that ended with the saga resting in `status`. */
export function exitCodeForRest(status: SagaStatus): ExitCode {
  return BY_REST[status] ?? EXIT.ERROR;
}
