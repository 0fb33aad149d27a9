import { fromBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { BadRequestSchema } from "../../src/gen/google/rpc/error_details_pb.js";
import { DECODER_REFUSAL, type Outcome, type RawCase } from "./corpus.js";

/**
 * Requests written byte by byte, because no generated client would send them: strings that are not
 * UTF-8 (proto3 requires UTF-8; decoders must reject it, not replace it with U+FFFD), a Struct
 * nested 100,000 deep, truncated or random bytes, and JSON the Connect protocol must refuse.
 * All go to CreateSaga over the Connect protocol (unary POST), where the body is exactly what we
 * write.
 */
export function wireCases(): RawCase[] {
  const proto = (name: string, body: () => Uint8Array, want: Omit<RawCase, "name" | "rpc" | "contentType" | "body">): RawCase => ({
    name, rpc: "CreateSaga", contentType: "application/proto", body, ...want,
  });
  const json = (name: string, body: string, want: Omit<RawCase, "name" | "rpc" | "contentType" | "body">): RawCase => ({
    name, rpc: "CreateSaga", contentType: "application/json", body: () => body, ...want,
  });
  const invalid = { code: Code.InvalidArgument } as const;
  const refused = DECODER_REFUSAL;
  const BAD_UTF8 = Uint8Array.of(0x6f, 0x6b, 0xff, 0xfe, 0xc3); // "ok", then bytes no UTF-8 text contains
  const step = (name: Uint8Array | string = "a") => ld(2, cat(ld(1, bytes(name)), ld(2, bytes("noop"))));
  const saga = (...fields: Uint8Array[]) => cat(...fields);

  return [
    proto("invalid UTF-8 in the saga name", () => saga(ld(1, BAD_UTF8), step()), refused),
    proto("invalid UTF-8 in a step name", () => saga(ld(1, bytes("bad-input")), step(BAD_UTF8)), refused),
    proto("invalid UTF-8 in a var value", () => saga(ld(1, bytes("bad-input")), step(), ld(3, cat(ld(1, bytes("k")), ld(2, BAD_UTF8)))), refused),
    proto("invalid UTF-8 in a label key", () => saga(ld(1, bytes("bad-input")), step(), ld(4, cat(ld(1, BAD_UTF8), ld(2, bytes("v"))))), refused),
    proto("invalid UTF-8 in a config string", () => saga(ld(1, bytes("bad-input")), ld(2, cat(ld(1, bytes("a")), ld(2, bytes("noop")), ld(3, struct("x", ld(3, BAD_UTF8)))))), refused),
    proto("config Struct nested 100,000 deep", () => saga(ld(1, bytes("bad-input")), ld(2, cat(ld(1, bytes("a")), ld(2, bytes("noop")), deepStruct(100_000)))), refused),
    proto("truncated message", () => saga(ld(1, bytes("bad-input")), step()).subarray(0, 14), refused),
    proto("length prefix past the end", () => Uint8Array.of(0x0a, 0xff, 0xff, 0x03, 0x61), refused),
    proto("random bytes", () => Uint8Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 251), refused),
    proto("wire type 7 (invalid)", () => Uint8Array.of(0x0f, 0x00), refused),
    json("JSON that does not parse", '{"name": "bad-input", "steps": [', invalid),
    json("JSON with invalid UTF-8 in the name", '{"name": "bad-input\xff", "steps": [{"name": "a", "action": "noop"}]}', invalid),
    json("JSON with invalid UTF-8 in a var value", '{"name": "bad-input", "vars": {"k": "v\xff"}, "steps": [{"name": "a", "action": "noop"}]}', invalid),
    json("JSON with an unknown field", '{"name": "bad-input", "stepz": [], "steps": [{"name": "a", "action": "noop"}]}', invalid),
    json("JSON with a string where a list belongs", '{"name": "bad-input", "steps": "a"}', invalid),
    json("JSON enum by an unknown name", '{"name": "bad-input", "failurePolicy": "FAILURE_POLICY_NOPE", "steps": [{"name": "a", "action": "noop"}]}', invalid),
    json("JSON enum number 99", '{"name": "bad-input", "failurePolicy": 99, "steps": [{"name": "a", "action": "noop"}]}', { ...invalid, field: "failure_policy" }),
    json("JSON duration \"-5s\"", '{"name": "bad-input", "steps": [{"name": "a", "action": "noop", "retryPolicy": {"initialInterval": "-5s"}}]}', { ...invalid, field: "steps[0].retry_policy.initial_interval" }),
    json("JSON duration \"soon\"", '{"name": "bad-input", "steps": [{"name": "a", "action": "noop", "retryPolicy": {"timeout": "soon"}}]}', invalid),
    json("JSON int32 overflow", '{"name": "bad-input", "maxRetries": 10000000000, "steps": [{"name": "a", "action": "noop"}]}', invalid),
    json("JSON top-level array", '[{"name": "bad-input"}]', invalid),
  ];
}

/** POSTs a raw case (Connect unary protocol) and reads the error the way a Connect client does. */
export async function sendRaw(baseUrl: string, token: string, c: RawCase): Promise<Outcome> {
  const body = c.body();
  const res = await fetch(`${baseUrl}/saga.v1.SagaService/${c.rpc}`, {
    method: "POST",
    headers: { "content-type": c.contentType, "connect-protocol-version": "1", authorization: `Bearer ${token}` },
    body: typeof body === "string" ? Buffer.from(body, "latin1") : body,
    signal: AbortSignal.timeout(60_000),
  });
  const text = Buffer.from(await res.arrayBuffer());
  if (res.status === 200) return { code: "OK", message: "", fields: [] };
  let parsed: { code?: string; message?: string; details?: { type: string; value: string }[] };
  try {
    parsed = JSON.parse(text.toString("utf8"));
  } catch {
    return { code: `HTTP ${res.status}`, message: text.toString("utf8").slice(0, 200), fields: [] };
  }
  const fields = (parsed.details ?? [])
    .filter((d) => d.type === "google.rpc.BadRequest")
    .flatMap((d) => fromBinary(BadRequestSchema, Buffer.from(d.value, "base64")).fieldViolations.map((v) => v.field));
  const code = Object.keys(Code).find((name) => Number.isNaN(Number(name)) && snake(name) === parsed.code);
  return { code: code ?? `unknown code ${parsed.code}`, message: parsed.message ?? "", fields };
}

function snake(name: string): string {
  return name.replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}

// ---- protobuf wire format, by hand -------------------------------------------------------------

function varint(n: number): Uint8Array {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Uint8Array.from(out);
}

/** A length-delimited field. */
function ld(field: number, payload: Uint8Array): Uint8Array {
  return cat(varint((field << 3) | 2), varint(payload.length), payload);
}

function bytes(text: Uint8Array | string): Uint8Array {
  return typeof text === "string" ? new TextEncoder().encode(text) : text;
}

function cat(...parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts));
}

/** StepSpec.config (field 3) = Struct { fields: { key: <value bytes> } }. */
function struct(key: string, value: Uint8Array): Uint8Array {
  return cat(ld(1, cat(ld(1, bytes(key)), ld(2, value))));
}

/**
 * StepSpec.config as a Struct {a: {a: ... {}}} `depth` levels deep. Every level only adds a
 * prefix (tags and lengths) to what it wraps, so the sizes are computed inside out and the bytes
 * written once, outside in: linear in the depth.
 */
function deepStruct(depth: number): Uint8Array {
  const prefixes: Uint8Array[] = [];
  let structSize = 0; // the innermost Struct is empty
  for (let level = 0; level < depth; level++) {
    const value = 1 + varint(structSize).length + structSize; // Value { struct_value = 5 }
    const entry = 3 + 1 + varint(value).length + value; // { key = 1: "a", value = 2 }
    prefixes.push(cat(Uint8Array.of(0x0a), varint(entry), Uint8Array.of(0x0a, 0x01, 0x61, 0x12), varint(value), Uint8Array.of(0x2a), varint(structSize)));
    structSize = 1 + varint(entry).length + entry;
  }
  return cat(Uint8Array.of(0x1a), varint(structSize), ...prefixes.reverse());
}
