/**
 * Checks one action config (a step's, a compensation's, or RetryStep's replacement): nesting depth,
 * finite numbers, size and templates. Shared so every way a config enters the system obeys the same
 * rules.
 */
import { indexPath, memberPath } from "./field-path.js";
import { findTemplateRefs, TEMPLATE_FORMS, type TemplateRef } from "./templates.js";
import { utf8Length } from "./text-size.js";
import type { Json, JsonObject } from "./types.js";
import type { Violations } from "./violations.js";

/** Bounds on one config. */
export interface ConfigLimits {
  /** UTF-8 bytes of JSON.stringify(config). */
  maxConfigBytes: number;
  /** Nesting of objects and arrays; the config object itself is level 1. */
  maxJsonDepth: number;
}

/** Why a template's reference is not allowed, or null if it is. Called for vars and steps refs only. */
export type RefCheck = (ref: TemplateRef & { kind: "vars" | "steps" }) => string | null;

/**
 * Records every problem of `config` under the field path `field` (e.g. `steps[10].config`). Depth
 * is checked first and, if exceeded, nothing else is, so no later walk can exhaust the stack.
 */
export function checkConfig(
  config: JsonObject,
  field: string,
  limits: ConfigLimits,
  checkRef: RefCheck,
  report: Violations,
): void {
  if (nestsDeeperThan(config, limits.maxJsonDepth)) {
    report.add(field, `nests objects and arrays deeper than ${limits.maxJsonDepth} levels`);
    return;
  }
  reportNonFinite(config, field, report);
  const bytes = utf8Length(JSON.stringify(config));
  if (bytes > limits.maxConfigBytes) {
    report.add(field, `is ${bytes} bytes as JSON; at most ${limits.maxConfigBytes} are allowed`);
  }
  for (const ref of findTemplateRefs(config, field)) {
    if (report.full) return;
    if (ref.kind === "invalid") {
      report.add(ref.jsonPath, `invalid template ${ref.text}; expected ${TEMPLATE_FORMS}`);
    } else if (ref.kind !== "saga") {
      const problem = checkRef(ref);
      if (problem !== null) report.add(ref.jsonPath, `template ${ref.text}: ${problem}`);
    }
  }
}

/**
 * Whether objects and arrays nest deeper than `max` levels (the value itself is level 1). Stops
 * descending as soon as the limit is passed, so a hostile depth costs at most `max` frames; check
 * it before anything else walks a caller's JSON.
 */
export function nestsDeeperThan(value: Json, max: number): boolean {
  if (value === null || typeof value !== "object") return false;
  if (max <= 0) return true;
  const children = Array.isArray(value) ? value : Object.values(value);
  return children.some((child) => nestsDeeperThan(child, max - 1));
}

/** NaN and ±Infinity are not JSON: JSON.stringify would silently turn them into null. */
function reportNonFinite(value: Json, path: string, report: Violations): void {
  if (typeof value === "number") {
    if (!Number.isFinite(value)) report.add(path, `must be a finite number; got ${value}`);
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => reportNonFinite(item, indexPath(path, i), report));
  } else if (value !== null && typeof value === "object") {
    for (const [key, item] of Object.entries(value)) reportNonFinite(item, memberPath(path, key), report);
  }
}
