/**
 * The checks a saga and a definition share (name, labels, failure policy, retry budget), so a
 * definition accepted at registration never yields a saga that CreateSaga would refuse.
 */
import { mapEntryPath } from "./field-path.js";
import { LABEL_KEY_PATTERN, SAGA_NAME_PATTERN } from "./names.js";
import { charLength } from "./text-size.js";
import type { FailurePolicy } from "./types.js";
import type { Violations } from "./violations.js";

export const DEFAULT_MAX_RETRIES = 3;
const MAX_LABELS = 64;
const MAX_LABEL_VALUE_CHARS = 256;
const FAILURE_POLICIES: readonly FailurePolicy[] = ["HOLD", "COMPENSATE"];

export function checkSagaName(name: string, field: string, report: Violations): void {
  if (name === "") report.add(field, "is required");
  else if (!SAGA_NAME_PATTERN.test(name)) {
    report.add(field, "must be 1 to 200 of [A-Za-z0-9_.:/-], starting with a letter or digit");
  }
}

export function checkLabels(labels: Record<string, string>, field: string, report: Violations): void {
  const entries = Object.entries(labels);
  if (entries.length > MAX_LABELS) report.add(field, `has ${entries.length} labels; at most ${MAX_LABELS} are allowed`);
  for (const [key, value] of entries) {
    const at = mapEntryPath(field, key);
    if (!LABEL_KEY_PATTERN.test(key)) report.add(at, "key must be 1 to 63 of [A-Za-z0-9_./-]");
    const chars = charLength(value);
    if (chars > MAX_LABEL_VALUE_CHARS) {
      report.add(at, `value is ${chars} characters; at most ${MAX_LABEL_VALUE_CHARS} are allowed`);
    }
  }
}

/** `raw` is "" for unspecified (then `fallback`), else the enum name without prefix. */
export function checkFailurePolicy(raw: string, fallback: FailurePolicy, report: Violations): FailurePolicy {
  if (raw === "") return fallback;
  const policy = FAILURE_POLICIES.find((p) => p === raw);
  if (policy === undefined) {
    report.add("failure_policy", `unknown failure policy ${JSON.stringify(raw)}; expected HOLD or COMPENSATE`);
  }
  return policy ?? fallback;
}

/** 0 means `fallback`. */
export function checkMaxRetries(raw: number, fallback: number, report: Violations): number {
  if (!Number.isInteger(raw) || raw < 0 || raw > 100) {
    report.add("max_retries", `must be between 0 and 100 (0 means the default, ${fallback}); got ${raw}`);
  }
  return raw === 0 ? fallback : raw;
}

export function checkMaxChars(value: string, field: string, max: number, report: Violations): void {
  const length = charLength(value);
  if (length > max) report.add(field, `must be at most ${max} characters; got ${length}`);
}
