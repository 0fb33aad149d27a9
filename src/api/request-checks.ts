import { nestsDeeperThan } from "../domain/validate-config.js";
import { invalidArgument } from "../domain/errors.js";
import type { JsonObject } from "../domain/types.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Saga ids are UUIDs; anything else is the caller's mistake, not an unknown saga. */
export function requireSagaId(id: string, field = "id"): string {
  if (id === "") throw invalidArgument([{ field, description: "required" }]);
  if (!UUID.test(id)) throw invalidArgument([{ field, description: `${JSON.stringify(id.slice(0, 64))} is not a saga id (UUID)` }]);
  return id.toLowerCase();
}

export function requireStepName(step: string, field = "step"): string {
  if (step === "") throw invalidArgument([{ field, description: "required" }]);
  if (step.length > 64) throw invalidArgument([{ field, description: "at most 64 characters" }]);
  return step;
}

/** Bounds a caller-supplied JSON object (SkipStep's stand-in output) like a step config. */
export function checkJsonObject(value: JsonObject, field: string, maxBytes: number, maxDepth: number): JsonObject {
  // Checked before anything recursive touches it, so a hostile nesting cannot overflow the stack.
  if (nestsDeeperThan(value, maxDepth)) throw invalidArgument([{ field, description: `nests deeper than ${maxDepth} levels` }]);
  const notFinite = (v: unknown): boolean =>
    typeof v === "number" ? !Number.isFinite(v) : v !== null && typeof v === "object" && Object.values(v as object).some(notFinite);
  if (notFinite(value)) throw invalidArgument([{ field, description: "numbers must be finite (no NaN or Infinity)" }]);
  const bytes = Buffer.byteLength(JSON.stringify(value), "utf8");
  if (bytes > maxBytes) throw invalidArgument([{ field, description: `is ${bytes} bytes; the limit is ${maxBytes}` }]);
  return value;
}

export function checkText(value: string, field: string, maxChars: number): string {
  if ([...value].length > maxChars) throw invalidArgument([{ field, description: `at most ${maxChars} characters` }]);
  return value;
}
