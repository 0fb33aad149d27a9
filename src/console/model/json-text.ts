import type { JsonObject } from "@bufbuild/protobuf";

/** What an operator typed into a JSON editor, checked before anything is sent. */
export type JsonObjectText = { readonly ok: true; readonly value: JsonObject } | { readonly ok: false; readonly message: string };

/**
 * Parses the text of a config or output editor. Only the syntax and the shape are checked here
 * (a config and an output are protobuf Structs, so only an object can be sent at all); what the
 * object holds is for the server to judge, and its answer is shown at the field it names. The
 * message says where the syntax breaks, as "line 3, column 14", which the browser's own message
 * does not always do.
 */
export function parseJsonObject(text: string): JsonObjectText {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, message: syntaxMessage(text, err instanceof Error ? err.message : String(err)) };
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    const what = value === null ? "null" : Array.isArray(value) ? "an array" : `a ${typeof value}`;
    return { ok: false, message: `must be a JSON object ({ … }), not ${what}` };
  }
  return { ok: true, value: value as JsonObject };
}

/** The same object, indented for reading and editing. */
export function prettyJson(value: unknown): string {
  return JSON.stringify(value ?? {}, null, 2);
}

function syntaxMessage(text: string, raw: string): string {
  if (text.trim() === "") return "is empty: write a JSON object, such as {}";
  // V8 says "… in JSON at position 17" (newer versions add the line and column themselves).
  const cleaned = raw.replace(/^JSON\.parse: /, "").replace(/ \(line \d+ column \d+\)$/, "");
  const at = /at position (\d+)/.exec(raw);
  if (!at) return `is not valid JSON: ${cleaned}`;
  const position = Number(at[1]);
  const before = text.slice(0, position);
  const line = before.split("\n").length;
  const column = position - before.lastIndexOf("\n");
  return `is not valid JSON (line ${line}, column ${column}): ${cleaned.replace(/ in JSON at position \d+/, "")}`;
}

/** Whether two JSON values are equal, whatever the order of their keys. */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => Object.hasOwn(b, k) && sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
