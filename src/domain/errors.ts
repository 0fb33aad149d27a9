/**
 * Domain errors carry a stable UPPER_SNAKE reason that clients may switch on; src/api/errors.ts is
 * the one place that maps them to Connect codes. Messages are for humans and name the field or state.
 */
export type DomainErrorReason =
  | "INVALID_ARGUMENT"
  | "NOT_FOUND"
  | "ALREADY_EXISTS"
  | "FAILED_PRECONDITION"
  | "RETRY_LIMIT_REACHED"
  | "OUT_OF_RANGE"
  | "UNAVAILABLE"
  /** No usable API token: missing, malformed, unknown or revoked. */
  | "UNAUTHENTICATED"
  /** A valid token without the scope the method needs. */
  | "PERMISSION_DENIED"
  /** A concurrent change got in the way; the same request, sent again, may succeed. */
  | "ABORTED"
  /** A worker's result for an attempt (or delivery) that is no longer the step's current one. */
  | "STALE_ATTEMPT";

/** One offending field, as in google.rpc.BadRequest.FieldViolation. */
export interface FieldViolation {
  field: string;
  description: string;
}

export class DomainError extends Error {
  override readonly name = "DomainError";
  constructor(
    readonly reason: DomainErrorReason,
    message: string,
    readonly violations: readonly FieldViolation[] = [],
    readonly metadata: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

/** A validation failure; the message leads with the first violation so a single line is useful. */
export function invalidArgument(violations: readonly FieldViolation[]): DomainError {
  const first = violations[0];
  const head = first ? `${first.field}: ${first.description}` : "invalid argument";
  const more = violations.length > 1 ? ` (and ${violations.length - 1} more)` : "";
  return new DomainError("INVALID_ARGUMENT", head + more, violations);
}

export function notFound(what: string, id: string): DomainError {
  return new DomainError("NOT_FOUND", `${what} ${JSON.stringify(id)} not found`, [], { id });
}

/** An operation that does not apply in the current state; the message names that state. */
export function failedPrecondition(message: string, state: string): DomainError {
  return new DomainError("FAILED_PRECONDITION", message, [], { state });
}

/**
 * The definition version a saga was rendered from changed before the saga was written (another
 * state, or a newer latest version). CreateSaga renders it again from the stored truth; a client
 * sees it (ABORTED) only if the definition keeps changing under one create.
 */
export class DefinitionChangedError extends DomainError {
  constructor(definitionName: string, version: number) {
    super(
      "ABORTED",
      `definition ${JSON.stringify(definitionName)} kept changing during the create (version ${version} superseded or its state changed); retry`,
      [],
      { name: definitionName, version: String(version) },
    );
  }
}
