import { createHash, randomUUID } from "node:crypto";

/** Fixed namespace for ids derived from request ids (a random UUID chosen once for sagad). */
const REQUEST_ID_NAMESPACE = Buffer.from("6f1c2d0e9b4a4f8e8a37c1d5e2b9f004", "hex");

/**
 * The saga id: random, or for an idempotent create a UUIDv5 of the request id. Deriving it makes
 * the primary key do the de-duplication, so no cross-saga unique index is needed (keeps the tables
 * distributable by saga id).
 */
export function sagaIdFor(requestId: string | null): string {
  if (requestId === null) return randomUUID();
  const hash = createHash("sha1").update(REQUEST_ID_NAMESPACE).update(requestId, "utf8").digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Canonical JSON (object keys sorted) so the same request always hashes the same. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** Fingerprint of a create request: tells "same request again" from "same id, other body". */
export function requestHash(request: unknown): string {
  return createHash("sha256").update(canonical(request)).digest("base64url");
}
