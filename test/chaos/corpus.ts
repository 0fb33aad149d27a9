import { Code, ConnectError } from "@connectrpc/connect";
import type { SagaClient } from "../../src/client/index.js";
import { BadRequestSchema } from "../../src/gen/google/rpc/error_details_pb.js";

/** How the server answered one request: "OK" or a Connect code name, with the message and fields. */
export interface Outcome {
  code: string;
  message: string;
  /** Field paths of the BadRequest detail's violations. */
  fields: string[];
}

/** What a malformed request must get. */
export interface Expectation {
  code: Code | "OK";
  /** A BadRequest violation must name exactly this field (or match this pattern). */
  field?: string | RegExp;
  /** The message must contain this. */
  message?: string;
  /** Anything else the answer must satisfy; returns what was wrong, or null. */
  verify?: (outcome: Outcome) => string | null;
  /**
   * Bytes the protobuf decoder itself refuses (not UTF-8, truncated, nested past its recursion
   * limit): INVALID_ARGUMENT, or the INTERNAL "parse binary: ..." connect-es answers with, which is
   * what gRPC's status code table prescribes for "Error parsing request proto".
   */
  decoderRefusal?: true;
}

/** For bytes the protobuf decoder must refuse (see Expectation.decoderRefusal). */
export const DECODER_REFUSAL: Expectation = { code: Code.InvalidArgument, decoderRefusal: true };

/** Fixture sagas the non-create cases point at (created before the corpus runs). */
export interface Fixtures {
  /** A COMPLETED saga with one noop step `a`. */
  completed: { id: string; sequence: bigint };
  /** A FAILED (HOLD) saga whose step `a` failed for good; `b` depends on it. */
  failed: { id: string; sequence: bigint };
}

/** A request sent through the generated client, once per protocol. */
export interface TypedCase extends Expectation {
  name: string;
  rpc: string;
  call: (client: SagaClient, fixtures: Fixtures, options: { timeoutMs: number }) => Promise<unknown>;
}

/** A request written by hand on the wire (bytes a well-behaved client would never send). */
export interface RawCase extends Expectation {
  name: string;
  rpc: string;
  contentType: "application/proto" | "application/json";
  body: () => Uint8Array | string;
}

export function outcomeOf(err: unknown): Outcome {
  const e = ConnectError.from(err);
  return {
    code: Code[e.code],
    message: e.rawMessage,
    fields: e.findDetails(BadRequestSchema).flatMap((b) => b.fieldViolations.map((v) => v.field)),
  };
}

export const OK: Outcome = { code: "OK", message: "", fields: [] };

/** Why `outcome` does not meet `want`, or null if it does. */
export function judge(want: Expectation, outcome: Outcome): string | null {
  const code = want.code === "OK" ? "OK" : Code[want.code];
  if (want.decoderRefusal && outcome.code === "Internal" && outcome.message.startsWith("parse binary: ")) return null;
  if (outcome.code !== code) return `expected ${code}, got ${outcome.code}: ${outcome.message.slice(0, 200)}`;
  if (want.field !== undefined) {
    const f = want.field;
    const named = outcome.fields.some((x) => (typeof f === "string" ? x === f : f.test(x)));
    if (!named) return `no violation names ${String(f)}; fields: [${outcome.fields.slice(0, 5).join(", ")}], message: ${outcome.message.slice(0, 200)}`;
  }
  if (want.message !== undefined && !outcome.message.includes(want.message)) {
    return `message lacks ${JSON.stringify(want.message)}: ${outcome.message.slice(0, 200)}`;
  }
  return want.verify?.(outcome) ?? null;
}

/** `n` characters. */
export const chars = (n: number, c = "x") => c.repeat(n);

/** A JSON object nested `depth` levels: {a: {a: ... {}}}. */
export function nested(depth: number): Record<string, unknown> {
  let v: Record<string, unknown> = {};
  for (let i = 1; i < depth; i++) v = { a: v };
  return v;
}
