/**
 * A definition's vars schema (JSON Schema draft 2020-12, checked by ajv): which vars its templates may
 * read, and whether a CreateSaga's vars fit. Vars travel as strings (CreateSaga's map<string,string>),
 * so they are converted to the declared types to be checked, and kept as text afterwards.
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import { indexPath, mapEntryPath, memberPath } from "./field-path.js";
import type { Json, JsonObject } from "./types.js";
import type { Violations } from "./violations.js";

/** A schema that passed {@link compileVarsSchema}. */
export interface VarsSchema {
  /** The names under `properties`: the vars templates may read. */
  declared: ReadonlySet<string>;
  /**
   * The vars as a saga stores them (given ones, then the schema's defaults, all as text), or the
   * problems found, each under `vars["NAME"]`.
   */
  apply(vars: Record<string, string>, report: Violations): Record<string, string>;
}

/** A definition without a schema takes no vars at all. */
export const NO_VARS: VarsSchema = {
  declared: new Set(),
  apply(vars, report) {
    for (const name of Object.keys(vars)) {
      report.add(mapEntryPath("vars", name), "unknown var; the definition has no vars_schema, so it takes no vars");
    }
    return {};
  },
};

/**
 * Checks `schema` (field `field`, e.g. `vars_schema`) and compiles it. The top level must be an
 * object schema whose `properties` declare the vars; unknown keywords are errors (ajv strict mode),
 * so a typo like `defualt` is caught at registration, not ignored.
 *
 * @returns null when a violation was recorded.
 */
export function compileVarsSchema(schema: JsonObject, field: string, report: Violations): VarsSchema | null {
  const ajv = new Ajv2020({ strict: true, allErrors: true, coerceTypes: true, useDefaults: true, validateFormats: false });
  if (!ajv.validateSchema(schema)) {
    // The meta-schema's anyOf branches each report on the same spot; one line per spot is enough.
    const seen = new Set<string>();
    for (const error of ajv.errors ?? []) {
      const at = schemaPath(schema, field, error.instancePath);
      if (!seen.has(at)) report.add(at, describe(error));
      seen.add(at);
    }
    return null;
  }
  const before = report.full;
  if (schema.type !== "object") report.add(memberPath(field, "type"), `must be "object" (vars are named); got ${JSON.stringify(schema.type ?? null)}`);
  const properties = schema.properties;
  if (properties === undefined || properties === null || typeof properties !== "object" || Array.isArray(properties)) {
    report.add(memberPath(field, "properties"), "is required: it declares the vars the templates may read");
  }
  if (report.full !== before || schema.type !== "object" || !isObject(properties)) return null;

  let validate: ValidateFunction;
  try {
    validate = ajv.compile(schema);
  } catch (err) {
    const message = (err as Error).message;
    const keyword = /unknown keyword: "?([^"\s]+)"?/.exec(message)?.[1];
    const at = keyword === undefined ? null : findKey(schema, keyword, field);
    report.add(at ?? field, at ? `unknown JSON Schema keyword ${JSON.stringify(keyword)}` : `is not a usable schema: ${message}`);
    return null;
  }
  const declared = new Set(Object.keys(properties));
  return {
    declared,
    apply(vars, report) {
      const data: Record<string, Json> = { ...vars };
      if (!validate(data)) {
        for (const error of validate.errors ?? []) report.add(varPath(error), describe(error));
        return {};
      }
      return Object.fromEntries(Object.entries(data).map(([name, value]) => [name, typeof value === "string" ? value : JSON.stringify(value)]));
    },
  };
}

function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** ajv's message, with the allowed values or the offending name where ajv keeps them in params. */
function describe(error: ErrorObject): string {
  const params = error.params as Record<string, unknown>;
  if (error.keyword === "enum" && Array.isArray(params.allowedValues)) {
    return `${error.message}: ${params.allowedValues.map((v) => JSON.stringify(v)).join(", ")}`;
  }
  if (error.keyword === "additionalProperties") return "unknown var; the vars schema does not allow it";
  if (error.keyword === "required") return "is required by the vars schema";
  return error.message ?? error.keyword;
}

/** `/region` → `vars["region"]`; a missing or extra var is named by ajv's params. */
function varPath(error: ErrorObject): string {
  const params = error.params as Record<string, unknown>;
  const [first, ...rest] = error.instancePath.split("/").slice(1).map(unescapePointer);
  const name = first ?? (typeof params.missingProperty === "string" ? params.missingProperty : typeof params.additionalProperty === "string" ? params.additionalProperty : undefined);
  if (name === undefined) return "vars";
  return rest.reduce((path, segment) => memberPath(path, segment), mapEntryPath("vars", name));
}

/** A JSON pointer into the schema document, spelled as a field path (`vars_schema.properties.n.type`). */
function schemaPath(schema: Json, field: string, pointer: string): string {
  let path = field;
  let node: Json | undefined = schema;
  for (const segment of pointer.split("/").slice(1).map(unescapePointer)) {
    if (Array.isArray(node)) {
      path = indexPath(path, Number(segment));
      node = node[Number(segment)];
    } else {
      path = memberPath(path, segment);
      node = isObject(node) ? node[segment] : undefined;
    }
  }
  return path;
}

/** The field path of the first member named `key`, depth first, or null. */
function findKey(node: Json, key: string, path: string): string | null {
  if (Array.isArray(node)) {
    for (const [i, item] of node.entries()) {
      const found = findKey(item, key, indexPath(path, i));
      if (found !== null) return found;
    }
  } else if (isObject(node)) {
    if (Object.hasOwn(node, key)) return memberPath(path, key);
    for (const [name, item] of Object.entries(node)) {
      const found = findKey(item, key, memberPath(path, name));
      if (found !== null) return found;
    }
  }
  return null;
}

function unescapePointer(segment: string): string {
  return segment.replace(/~1/g, "/").replace(/~0/g, "~");
}
