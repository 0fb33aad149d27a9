/**
 * Turns a caller's retry policy (proto RetryPolicy, not yet trusted) into a complete RetryPolicy,
 * applying the documented defaults and recording every out-of-range field.
 */
import { indexPath } from "./field-path.js";
import { charLength } from "./text-size.js";
import type { BackoffKind, RetryPolicy } from "./types.js";
import type { Violations } from "./violations.js";

/**
 * A RetryPolicy as the API layer reads it from protobuf. Durations are milliseconds, null when the
 * field is unset, NaN when the message is not a valid Duration; 0 (or "") takes the default
 * wherever saga.proto says zero values do. `backoff` is
 * "" for unspecified, else the enum name without prefix; an unknown enum number arrives as its
 * decimal string and is rejected.
 */
export interface RawRetryPolicy {
  maxAttempts: number;
  backoff: string;
  initialIntervalMs: number | null;
  maxIntervalMs: number | null;
  multiplier: number;
  jitter: number;
  timeoutMs: number | null;
  nonRetryableErrors: string[];
  scheduleToStartMs?: number | null;
  heartbeatTimeoutMs?: number | null;
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const BACKOFFS: readonly BackoffKind[] = ["FIXED", "LINEAR", "EXPONENTIAL"];
const MAX_ERROR_KIND_LENGTH = 64;

/**
 * The effective policy for `raw` (a copy of `defaults` when null). Problems are recorded under
 * `field` (e.g. `steps[3].retry_policy`); the returned policy is only meaningful if none were.
 * An unset max_interval defaults to max(default, initial_interval), so raising only the initial
 * interval is never an error about a field the caller did not set.
 */
export function validateRetryPolicy(
  raw: RawRetryPolicy | null,
  defaults: Readonly<RetryPolicy>,
  field: string,
  report: Violations,
): RetryPolicy {
  if (raw === null) return { ...defaults, nonRetryableErrors: [...defaults.nonRetryableErrors] };
  const at = (name: string) => `${field}.${name}`;

  const maxAttempts = raw.maxAttempts === 0 ? defaults.maxAttempts : raw.maxAttempts;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 100) {
    const why = `must be between 1 and 100 (0 means the default, ${defaults.maxAttempts})`;
    report.add(at("max_attempts"), `${why}; got ${raw.maxAttempts}`);
  }

  const backoff = raw.backoff === "" ? defaults.backoff : BACKOFFS.find((b) => b === raw.backoff);
  if (backoff === undefined) {
    report.add(at("backoff"), `unknown backoff ${JSON.stringify(raw.backoff)}; expected FIXED, LINEAR or EXPONENTIAL`);
  }

  const initial = duration(raw.initialIntervalMs, defaults.initialIntervalMs, 1, HOUR, at("initial_interval"), report);
  const maxDefault = Math.max(defaults.maxIntervalMs, initial ?? 0);
  const max = duration(raw.maxIntervalMs, maxDefault, 1, DAY, at("max_interval"), report);
  if (initial !== null && max !== null && max < initial) {
    report.add(at("max_interval"), `must be at least initial_interval (${formatMs(initial)}); got ${formatMs(max)}`);
  }

  const multiplier = raw.multiplier === 0 ? defaults.multiplier : raw.multiplier;
  if (!(multiplier >= 1 && multiplier <= 10)) {
    const why = `must be between 1 and 10 (0 means the default, ${defaults.multiplier})`;
    report.add(at("multiplier"), `${why}; got ${raw.multiplier}`);
  }
  if (!(raw.jitter >= 0 && raw.jitter <= 1)) {
    report.add(at("jitter"), `must be between 0 and 1; got ${raw.jitter}`);
  }

  const timeout = duration(raw.timeoutMs, 0, 0, DAY, at("timeout"), report);
  const scheduleToStart = duration(raw.scheduleToStartMs ?? null, 0, 0, DAY, at("schedule_to_start_timeout"), report);
  const heartbeatTimeout = duration(raw.heartbeatTimeoutMs ?? null, 0, 0, DAY, at("heartbeat_timeout"), report);

  raw.nonRetryableErrors.forEach((kind, i) => {
    const path = indexPath(at("non_retryable_errors"), i);
    if (kind === "") report.add(path, "must not be empty");
    else if (charLength(kind) > MAX_ERROR_KIND_LENGTH) {
      report.add(path, `must be at most ${MAX_ERROR_KIND_LENGTH} characters; got ${charLength(kind)}`);
    }
  });

  return {
    maxAttempts,
    backoff: backoff ?? defaults.backoff,
    initialIntervalMs: initial ?? defaults.initialIntervalMs,
    maxIntervalMs: max ?? maxDefault,
    multiplier,
    jitter: raw.jitter,
    timeoutMs: timeout ?? 0,
    nonRetryableErrors: [...raw.nonRetryableErrors],
    ...(scheduleToStart ? { scheduleToStartMs: scheduleToStart } : {}),
    ...(heartbeatTimeout ? { heartbeatTimeoutMs: heartbeatTimeout } : {}),
  };
}

/** A duration in ms with null/0 meaning `fallback`; null (and a recorded violation) if invalid. */
function duration(
  value: number | null,
  fallback: number,
  min: number,
  max: number,
  field: string,
  report: Violations,
): number | null {
  if (value === null || value === 0) return fallback;
  const range = `between ${formatMs(min)} and ${formatMs(max)}`;
  if (Number.isNaN(value)) report.add(field, "is not a valid Duration: nanos must be within ±999,999,999 and have the sign of seconds");
  else if (!Number.isFinite(value)) report.add(field, `must be a finite duration ${range}; got ${value}`);
  else if (value < 0) report.add(field, `must not be negative; got ${value}ms`);
  else if (!Number.isInteger(value)) report.add(field, `must be a whole number of milliseconds; got ${value}ms`);
  else if (value < min || value > max) report.add(field, `must be ${range}; got ${formatMs(value)}`);
  else return value;
  return null;
}

/** "1500ms", "2s", "1h": the largest unit that divides the value exactly. */
function formatMs(ms: number): string {
  if (ms === 0) return "0s";
  for (const [unit, size] of [["h", HOUR], ["m", MINUTE], ["s", SECOND]] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
