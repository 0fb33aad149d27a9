/**
 * Templates in step configs: `{{vars.NAME}}`, `{{steps.STEP.output[.PATH]}}`, `{{saga.id}}` and
 * `{{saga.name}}`, with optional whitespace inside the braces. Only string values are templated,
 * never object keys. An unclosed `{{` is plain text. Validation (create time) and rendering (run
 * time) share one parser here, so a template accepted at create time always renders the same way.
 */
import { DomainError } from "./errors.js";
import { indexPath, memberPath } from "./field-path.js";
import type { Json, JsonObject } from "./types.js";

/** What a template reads. `invalid` is text between `{{ }}` that is none of the forms above. */
export type TemplateTarget =
  | { kind: "vars"; name: string }
  | { kind: "steps"; step: string; path: string[] }
  | { kind: "saga"; field: "id" | "name" }
  | { kind: "invalid" };

/**
 * One template found in a config: its target, its text as written (`{{ vars.x }}`) for messages,
 * and `jsonPath`, the field path of the string holding it (`config.items[3].id`), rooted at the
 * name passed to findTemplateRefs so a validator can prefix it (`steps[10].config.url`).
 */
export type TemplateRef = TemplateTarget & { text: string; jsonPath: string };

/** What renderTemplates may read. Outputs are keyed by step name. */
export interface TemplateScope {
  vars: Record<string, string>;
  outputs: Record<string, JsonObject>;
  saga: { id: string; name: string };
}

/** The forms a template may take, for error messages. */
export const TEMPLATE_FORMS = "{{vars.NAME}}, {{steps.STEP.output[.PATH]}}, {{saga.id}} or {{saga.name}}";

const TEMPLATE = /\{\{([\s\S]*?)\}\}/g;
const VARS = /^vars\.([A-Za-z_][A-Za-z0-9_]*)$/;
const STEPS = /^steps\.([A-Za-z0-9][A-Za-z0-9_-]*)\.output((?:\.[^.\s]+)*)$/;
const SAGA = /^saga\.(id|name)$/;
const ARRAY_INDEX = /^(?:0|[1-9][0-9]*)$/;

/** Parses the text between `{{` and `}}`; never throws. */
function parseTemplate(inner: string): TemplateTarget {
  const text = inner.trim();
  const vars = VARS.exec(text);
  if (vars) return { kind: "vars", name: vars[1]! };
  const steps = STEPS.exec(text);
  if (steps) return { kind: "steps", step: steps[1]!, path: steps[2] ? steps[2].slice(1).split(".") : [] };
  const saga = SAGA.exec(text);
  if (saga) return { kind: "saga", field: saga[1] === "id" ? "id" : "name" };
  return { kind: "invalid" };
}

/**
 * Every template in `config`, in document order, each with the field path of its string. Never
 * throws: text that does not parse comes back as `kind: "invalid"` so the caller reports it.
 */
export function findTemplateRefs(config: Json, root = "config"): TemplateRef[] {
  const refs: TemplateRef[] = [];
  walkStrings(config, root, (value, jsonPath) => {
    for (const match of value.matchAll(TEMPLATE)) {
      refs.push({ ...parseTemplate(match[1]!), text: match[0], jsonPath });
    }
  });
  return refs;
}

/**
 * A copy of `config` with every template replaced. A string that is exactly one template becomes the
 * referenced JSON value as is (a number stays a number, an object an object); templates inside a
 * longer string are interpolated (strings raw, other values as JSON). The result shares nothing
 * with `config` or `scope`, so an action may mutate it freely.
 *
 * @throws DomainError INVALID_ARGUMENT naming the template and its path when a reference cannot be
 *   resolved (unknown var, step without output, missing path, invalid template). The engine fails
 *   the step with the non-retryable kind TEMPLATE_ERROR.
 */
export function renderTemplates(config: JsonObject, scope: TemplateScope): JsonObject {
  return renderObject(config, "config", scope);
}

/**
 * A copy of `config` with only the `{{vars.NAME}}` templates whose var is given filled in, as text;
 * the rest stays for run time. RenderDefinition shows an operator this partial plan: what the saga
 * will be told once its vars are known, before any step has an output.
 */
export function renderVarTemplates(config: JsonObject, vars: Record<string, string>): JsonObject {
  const fill = (value: Json): Json => {
    if (typeof value === "string") {
      return value.replace(TEMPLATE, (text, inner: string) => {
        const target = parseTemplate(inner);
        return target.kind === "vars" && Object.hasOwn(vars, target.name) ? vars[target.name]! : text;
      });
    }
    if (Array.isArray(value)) return value.map(fill);
    if (value === null || typeof value !== "object") return value;
    const out: JsonObject = {};
    for (const [key, item] of Object.entries(value)) setMember(out, key, fill(item));
    return out;
  };
  return fill(config) as JsonObject;
}

function renderValue(value: Json, path: string, scope: TemplateScope): Json {
  if (typeof value === "string") return renderString(value, path, scope);
  if (Array.isArray(value)) return value.map((item, i) => renderValue(item, indexPath(path, i), scope));
  if (value !== null && typeof value === "object") return renderObject(value, path, scope);
  return value;
}

function renderObject(value: JsonObject, path: string, scope: TemplateScope): JsonObject {
  const out: JsonObject = {};
  for (const [key, item] of Object.entries(value)) {
    setMember(out, key, renderValue(item, memberPath(path, key), scope));
  }
  return out;
}

function renderString(value: string, path: string, scope: TemplateScope): Json {
  const matches = [...value.matchAll(TEMPLATE)];
  if (matches.length === 0) return value;
  const only = matches[0]!;
  if (matches.length === 1 && only[0].length === value.length) {
    return cloneJson(resolve(only[0], only[1]!, path, scope));
  }
  return value.replace(TEMPLATE, (text, inner: string) => {
    const resolved = resolve(text, inner, path, scope);
    return typeof resolved === "string" ? resolved : JSON.stringify(resolved);
  });
}

function resolve(text: string, inner: string, path: string, scope: TemplateScope): Json {
  const target = parseTemplate(inner);
  const fail = (why: string): never => {
    throw new DomainError("INVALID_ARGUMENT", `template ${text} at ${path}: ${why}`, [
      { field: path, description: `template ${text}: ${why}` },
    ]);
  };
  switch (target.kind) {
    case "vars":
      return Object.hasOwn(scope.vars, target.name) ? scope.vars[target.name]! : fail(`unknown var "${target.name}"`);
    case "saga":
      return scope.saga[target.field];
    case "invalid":
      return fail(`not a valid template; expected ${TEMPLATE_FORMS}`);
    case "steps": {
      if (!Object.hasOwn(scope.outputs, target.step)) return fail(`step "${target.step}" has no output`);
      let current: Json = scope.outputs[target.step]!;
      for (const [i, segment] of target.path.entries()) {
        const next = child(current, segment);
        if (next === undefined) {
          const at = target.path.slice(0, i + 1).join(".");
          return fail(`the output of step "${target.step}" has no value at "${at}"`);
        }
        current = next;
      }
      return current;
    }
  }
}

/** Own members only, so `constructor` or `__proto__` never resolve to something inherited. */
function child(value: Json, segment: string): Json | undefined {
  if (Array.isArray(value)) return ARRAY_INDEX.test(segment) ? value[Number(segment)] : undefined;
  if (value !== null && typeof value === "object" && Object.hasOwn(value, segment)) return value[segment];
  return undefined;
}

function cloneJson(value: Json): Json {
  if (Array.isArray(value)) return value.map(cloneJson);
  if (value === null || typeof value !== "object") return value;
  const out: JsonObject = {};
  for (const [key, item] of Object.entries(value)) setMember(out, key, cloneJson(item));
  return out;
}

/** defineProperty, not assignment: a key named "__proto__" must stay an ordinary own key. */
function setMember(target: JsonObject, key: string, value: Json): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function walkStrings(value: Json, path: string, visit: (value: string, path: string) => void): void {
  if (typeof value === "string") visit(value, path);
  else if (Array.isArray(value)) value.forEach((item, i) => walkStrings(item, indexPath(path, i), visit));
  else if (value !== null && typeof value === "object") {
    for (const [key, item] of Object.entries(value)) walkStrings(item, memberPath(path, key), visit);
  }
}
