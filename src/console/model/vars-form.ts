import type { JsonObject, JsonValue } from "@bufbuild/protobuf";

/**
 * The "Start a saga" form is generated from a definition version's vars schema (JSON Schema
 * draft 2020-12, see src/domain/vars-schema.ts). Vars travel as text (CreateSaga's
 * map<string,string>); sagad converts them to the declared types, checks them and fills in the
 * defaults, so the form sends only what the operator typed, as text, and leaves an empty field
 * out (its default applies). The server is the judge: the checks here only catch what a form can
 * see at once (a missing required var, "abc" for an integer) before the round trip.
 */

/** How a var is entered: a text box, a number box, or a choice. */
export type VarKind = "string" | "integer" | "number" | "boolean" | "enum" | "json";

export interface VarField {
  /** The var's name, as templates read it (`{{vars.key}}`). */
  readonly key: string;
  /** The form control's name, and the `data-field-error` it answers to. */
  readonly control: string;
  readonly kind: VarKind;
  readonly required: boolean;
  /** The schema's `default`, as the saga would store it (text). */
  readonly defaultText?: string;
  readonly title?: string;
  readonly description?: string;
  /** For enum and boolean: the values to choose from, as text. */
  readonly options?: readonly string[];
  /** What else the schema says about the value, for the operator ("1 to 30", a pattern, …). */
  readonly constraints: readonly string[];
}

/** The control name of a var; the contract with the page and its tests is `vars.<key>`. */
export function varControl(key: string): string {
  return `vars.${key}`;
}

/** One field per declared var: the required ones first, then the others, each in the schema's order. */
export function varFields(schema: JsonObject | undefined): VarField[] {
  if (!schema) return [];
  const properties = isObject(schema.properties) ? schema.properties : {};
  const required = new Set(Array.isArray(schema.required) ? schema.required.filter((r): r is string => typeof r === "string") : []);
  const fields = Object.entries(properties).map(([key, raw]) => fieldOf(key, isObject(raw) ? raw : {}, required.has(key)));
  return [...fields.filter((f) => f.required), ...fields.filter((f) => !f.required)];
}

function fieldOf(key: string, prop: JsonObject, required: boolean): VarField {
  const kind = kindOf(prop);
  const field: { -readonly [K in keyof VarField]: VarField[K] } = { key, control: varControl(key), kind, required, constraints: constraintsOf(prop) };
  if (prop.default !== undefined) field.defaultText = asText(prop.default);
  if (typeof prop.title === "string") field.title = prop.title;
  if (typeof prop.description === "string") field.description = prop.description;
  if (kind === "enum") field.options = (Array.isArray(prop.enum) ? prop.enum : [prop.const as JsonValue]).map(asText);
  if (kind === "boolean") field.options = ["true", "false"];
  return field;
}

/** The declared type; `["integer", "null"]` counts as integer; `const` is an enum of one. */
function kindOf(prop: JsonObject): VarKind {
  if (Array.isArray(prop.enum) || prop.const !== undefined) return "enum";
  const types = Array.isArray(prop.type) ? prop.type : [prop.type];
  const type = types.find((t) => typeof t === "string" && t !== "null");
  switch (type) {
    case "integer":
    case "number":
    case "boolean":
    case "string":
      return type;
    case undefined:
      return "string";
    default:
      return "json";
  }
}

function constraintsOf(prop: JsonObject): string[] {
  const out: string[] = [];
  const min = typeof prop.minimum === "number" ? prop.minimum : undefined;
  const max = typeof prop.maximum === "number" ? prop.maximum : undefined;
  if (min !== undefined && max !== undefined) out.push(`${min} to ${max}`);
  else if (min !== undefined) out.push(`at least ${min}`);
  else if (max !== undefined) out.push(`at most ${max}`);
  if (typeof prop.exclusiveMinimum === "number") out.push(`more than ${prop.exclusiveMinimum}`);
  if (typeof prop.exclusiveMaximum === "number") out.push(`less than ${prop.exclusiveMaximum}`);
  if (typeof prop.minLength === "number" && typeof prop.maxLength === "number") out.push(`${prop.minLength} to ${prop.maxLength} characters`);
  else if (typeof prop.minLength === "number") out.push(`at least ${prop.minLength} characters`);
  else if (typeof prop.maxLength === "number") out.push(`at most ${prop.maxLength} characters`);
  if (typeof prop.pattern === "string") out.push(`matches ${prop.pattern}`);
  if (typeof prop.format === "string") out.push(`format ${prop.format}`);
  const types = Array.isArray(prop.type) ? prop.type : [prop.type];
  if (types.some((t) => t === "object" || t === "array")) out.push(`JSON ${types.filter((t) => t !== "null").join(" or ")}`);
  return out;
}

/** A schema value as the saga stores it: strings as they are, anything else as JSON. */
function asText(value: JsonValue): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

function isObject(value: JsonValue | undefined): value is JsonObject {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** What the operator has entered, by var key; "" is "not given". */
export type VarValues = Readonly<Record<string, string>>;

/**
 * The vars to send (only the ones given, as text) and, by var key, what the form can already
 * tell is wrong. The page sends nothing while `errors` is not empty.
 */
export function varsFromValues(fields: readonly VarField[], values: VarValues): { vars: Record<string, string>; errors: Map<string, string> } {
  const vars: Record<string, string> = {};
  const errors = new Map<string, string>();
  for (const field of fields) {
    const value = values[field.key] ?? "";
    const text = field.kind === "string" ? value : value.trim();
    if (text === "") {
      if (field.required && field.defaultText === undefined) errors.set(field.key, "is required");
      continue;
    }
    const wrong = typeProblem(field, text);
    if (wrong) errors.set(field.key, wrong);
    else vars[field.key] = text;
  }
  return { vars, errors };
}

function typeProblem(field: VarField, text: string): string | undefined {
  switch (field.kind) {
    case "integer":
      return /^-?\d+$/.test(text) ? undefined : "must be a whole number";
    case "number":
      return /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text) ? undefined : "must be a number";
    case "boolean":
    case "enum":
      return field.options?.includes(text) ? undefined : `must be one of ${field.options?.join(", ")}`;
    case "json":
      // ajv converts text to numbers and booleans, never to arrays or objects.
      return "sagad takes vars as text, so a JSON array or object var can only take its default";
    default:
      return undefined;
  }
}

/**
 * The server names a var's problem `vars["key"]` (AIP-193, see src/domain/field-path.ts), or a
 * part of it below that; the form shows it at the var's control. These are the paths to look under.
 */
export function serverPathsOf(key: string): string[] {
  return [`vars[${JSON.stringify(key)}]`, `vars.${key}`];
}

/**
 * The server's field paths that no control of the form shows (e.g. `vars["extra"]` for a var the
 * schema does not declare, or a bare `vars`), so the page shows them in its alert instead.
 */
export function unplacedPaths(paths: Iterable<string>, placed: readonly string[]): string[] {
  return [...paths].filter((path) => !placed.some((p) => path === p || path.startsWith(`${p}.`) || path.startsWith(`${p}[`)));
}
