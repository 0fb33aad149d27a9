import { Code, ConnectError } from "@connectrpc/connect";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";

/** An RPC failure as the console shows it: a headline, the server's message, and per-field messages. */
export interface Problem {
  readonly code: Code;
  /** What happened, for the operator ("Not allowed", "Invalid input", …). */
  readonly title: string;
  /** The server's own message, which names what was wrong. */
  readonly message: string;
  /** Field path (as the server names it, e.g. "output.amount") → its messages. */
  readonly fields: ReadonlyMap<string, readonly string[]>;
  /** The stable reason from google.rpc.ErrorInfo (e.g. "RETRY_LIMIT_REACHED"), when there is one. */
  readonly reason?: string;
  /** For PERMISSION_DENIED: the scope the call needed, so the page can say which token would do. */
  readonly requiredScope?: string;
}

const TITLES: Partial<Record<Code, string>> = {
  [Code.InvalidArgument]: "Invalid input",
  [Code.NotFound]: "Not found",
  [Code.AlreadyExists]: "Already exists",
  [Code.FailedPrecondition]: "Not possible in this state",
  [Code.OutOfRange]: "Out of range",
  [Code.PermissionDenied]: "Not allowed with this token",
  [Code.Unauthenticated]: "Signed out",
  [Code.Unavailable]: "sagad is unavailable",
  [Code.ResourceExhausted]: "Too large or too many",
  [Code.Aborted]: "Changed meanwhile",
  [Code.DeadlineExceeded]: "Timed out",
};

/** Turns anything a call threw into a {@link Problem}; a network failure reads as Unavailable. */
export function toProblem(err: unknown): Problem {
  const error = ConnectError.from(err);
  const fields = new Map<string, string[]>();
  for (const bad of error.findDetails(BadRequestSchema)) {
    for (const v of bad.fieldViolations) fields.set(v.field, [...(fields.get(v.field) ?? []), v.description]);
  }
  const info = error.findDetails(ErrorInfoSchema)[0];
  // fetch() rejects with a TypeError when nothing answers; connect-web passes it on as UNKNOWN.
  const unreachable = error.code === Code.Unknown && error.cause instanceof TypeError;
  const code = unreachable ? Code.Unavailable : error.code;
  return {
    code,
    title: TITLES[code] ?? "Request failed",
    message: unreachable ? "sagad did not answer: it is stopped or restarting, or the network is down." : error.rawMessage,
    fields,
    ...(info?.reason ? { reason: info.reason } : {}),
    ...(info?.metadata.required_scope ? { requiredScope: info.metadata.required_scope } : {}),
  };
}

/** The messages for one field and everything under it ("output" also gets "output.amount"'s). */
export function fieldMessages(problem: Problem | undefined, field: string): string[] {
  if (!problem) return [];
  const out: string[] = [];
  for (const [path, messages] of problem.fields) {
    if (path === field || path.startsWith(`${field}.`) || path.startsWith(`${field}[`)) {
      out.push(...messages.map((m) => (path === field ? m : `${path}: ${m}`)));
    }
  }
  return out;
}
