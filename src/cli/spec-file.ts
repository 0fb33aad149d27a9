import { readFile } from "node:fs/promises";
import { fromJson, type DescMessage, type JsonValue, type MessageShape } from "@bufbuild/protobuf";
import { isMap, isSeq, type Document } from "yaml";
import { CliError, EXIT } from "./exit-codes.js";
import { parseYamlText } from "./yaml-text.js";

/** A definition or steps file, parsed: the message, and a way to point at any field in the text. */
export interface SpecFile<Desc extends DescMessage> {
  readonly path: string;
  readonly message: MessageShape<Desc>;
  /** `file:line:col` of the field at a proto field path such as `steps[2].depends_on[0]`. */
  locate(fieldPath: string): string;
}

/**
 * Reads a YAML or JSON file (JSON is YAML) shaped like the proto JSON of `schema`, with camelCase
 * or snake_case keys as proto JSON allows. Every error names the file, the line and column, and
 * the field, so a user can fix a 300-line file without bisecting it.
 */
export async function readSpecFile<Desc extends DescMessage>(path: string, schema: Desc): Promise<SpecFile<Desc>> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new CliError(`${path}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message}`, EXIT.USAGE);
  }
  return parseSpecText(path, text, schema);
}

/** The parsing half of {@link readSpecFile}, for text that is already in memory. */
export function parseSpecText<Desc extends DescMessage>(path: string, text: string, schema: Desc): SpecFile<Desc> {
  const { doc, value, at } = parseYamlText(path, text);
  const json = value as JsonValue;
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw new CliError(`${path}:1:1: expected a mapping of ${schema.name} fields`, EXIT.USAGE);
  }
  const locateKeys = (keys: readonly (string | number)[]): string => at(nodeOffset(doc, keys));
  let message: MessageShape<Desc>;
  try {
    message = fromJson(schema, json);
  } catch (err) {
    const found = findBadField(schema, json, []);
    const where = found ? locateKeys(found.keys) : `${path}:1:1`;
    const field = found && found.keys.length > 0 ? `${formatKeys(found.keys)}: ` : "";
    throw new CliError(`${where}: ${field}${plainDecodeError(found?.message ?? (err as Error).message)}`, EXIT.USAGE);
  }
  return {
    path,
    message,
    locate: (fieldPath) => locateKeys(matchFileKeys(doc, parseFieldPath(fieldPath))),
  };
}

interface BadField {
  readonly keys: readonly (string | number)[];
  readonly message: string;
}

/**
 * Which field fromJson choked on: decodes each field on its own and descends into the one that
 * fails, so the library does the decoding and we only find where.
 */
function findBadField(schema: DescMessage, json: JsonValue, keys: readonly (string | number)[]): BadField | undefined {
  if (json === null || typeof json !== "object" || Array.isArray(json)) return undefined;
  for (const [key, value] of Object.entries(json)) {
    const here = [...keys, key];
    try {
      fromJson(schema, { [key]: value } as JsonValue);
      continue;
    } catch (err) {
      const field = schema.fields.find((f) => f.name === key || f.jsonName === key);
      const nested = field?.fieldKind === "message" && !isWellKnown(field.message)
        ? findBadField(field.message, value, here)
        : field?.fieldKind === "list" && field.listKind === "message" && Array.isArray(value) && !isWellKnown(field.message)
          ? firstDefined(value.map((item, i) => findBadField(field.message, item, [...here, i])))
          : undefined;
      return nested ?? { keys: here, message: field === undefined ? `unknown field "${key}" in ${schema.typeName}` : (err as Error).message };
    }
  }
  return undefined;
}

function isWellKnown(desc: DescMessage): boolean {
  return desc.typeName.startsWith("google.protobuf.");
}

function firstDefined<T>(items: readonly (T | undefined)[]): T | undefined {
  return items.find((item) => item !== undefined);
}

/** protobuf-es says `cannot decode field saga.v1.StepSpec.name from JSON: 5`; say what was wrong. */
function plainDecodeError(message: string): string {
  return message.replace(/^cannot decode (field|message) [\w.]+ from JSON: /, "invalid value: ");
}

/** `steps[2].depends_on[0]` → ["steps", 2, "depends_on", 0]; `vars["a.b"]` keeps the quoted key. */
export function parseFieldPath(path: string): (string | number)[] {
  const keys: (string | number)[] = [];
  for (const match of path.matchAll(/([^.[\]]+)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]/g)) {
    if (match[1] !== undefined) keys.push(match[1]);
    else if (match[2] !== undefined) keys.push(Number(match[2]));
    else if (match[3] !== undefined) keys.push(JSON.parse(`"${match[3]}"`) as string);
  }
  return keys;
}

function formatKeys(keys: readonly (string | number)[]): string {
  return keys.map((k, i) => (typeof k === "number" ? `[${k}]` : i === 0 ? k : `.${k}`)).join("");
}

/**
 * The keys as they are spelled in the file: a server path says `depends_on`, the file may say
 * `dependsOn`. Stops at the deepest key the file has, so a missing field points at its parent.
 */
function matchFileKeys(doc: Document, wanted: readonly (string | number)[]): (string | number)[] {
  const found: (string | number)[] = [];
  for (const key of wanted) {
    const node = found.length === 0 ? doc.contents : doc.getIn(found, true);
    if (typeof key === "number" && isSeq(node) && key < node.items.length) {
      found.push(key);
    } else if (typeof key === "string" && isMap(node)) {
      const spellings = [key, snakeToCamel(key)];
      const hit = spellings.find((s) => node.has(s));
      if (hit === undefined) break;
      found.push(hit);
    } else {
      break;
    }
  }
  return found;
}

function snakeToCamel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Where the key (for a mapping entry) or the item (for a sequence element) starts in the text. */
function nodeOffset(doc: Document, keys: readonly (string | number)[]): number {
  if (keys.length === 0) return doc.contents?.range?.[0] ?? 0;
  const parent = keys.length === 1 ? doc.contents : doc.getIn(keys.slice(0, -1), true);
  const last = keys[keys.length - 1];
  if (isMap(parent)) {
    const pair = parent.items.find((p) => (p.key as { value?: unknown } | null)?.value === last);
    const keyNode = pair?.key as { range?: [number, number, number] } | undefined;
    if (keyNode?.range) return keyNode.range[0];
  }
  if (isSeq(parent) && typeof last === "number") {
    const item = parent.items[last] as { range?: [number, number, number] } | undefined;
    if (item?.range) return item.range[0];
  }
  return nodeOffset(doc, keys.slice(0, -1));
}
