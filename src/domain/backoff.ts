import type { RetryPolicy } from "./types.js";

/** The policy a step gets when the caller sets none (mirrors the defaults documented in saga.proto). */
export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  maxAttempts: 3,
  backoff: "EXPONENTIAL",
  initialIntervalMs: 1000,
  maxIntervalMs: 60_000,
  multiplier: 2,
  jitter: 0,
  timeoutMs: 0,
  nonRetryableErrors: Object.freeze([]) as unknown as string[],
});

/** Compensations undo side effects that already happened, so they get more attempts by default. */
export const DEFAULT_COMPENSATION_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  ...DEFAULT_RETRY_POLICY,
  maxAttempts: 5,
});

/**
 * The wait before the next attempt after `failedAttempts` (>= 1) attempts have failed.
 *
 * Guarantees: the result is a finite integer in [0, policy.maxIntervalMs] whatever the policy's
 * growth (a huge exponent caps instead of overflowing to Infinity or NaN). With jitter j the capped
 * wait w becomes a uniform pick in [w × (1 - j), w], so jitter only ever shortens a wait and the cap
 * still holds. `random` must return values in [0, 1), like Math.random; tests inject a fixed one.
 */
export function backoffDelayMs(policy: RetryPolicy, failedAttempts: number, random: () => number): number {
  const n = Math.max(1, Math.floor(failedAttempts));
  const cap = Math.max(0, policy.maxIntervalMs);
  const wait = Math.min(uncappedDelay(policy, n), cap);
  const jitter = clamp01(policy.jitter);
  const jittered = wait * (1 - jitter * clamp01(random()));
  return Math.min(cap, Math.max(0, Math.round(jittered)));
}

function uncappedDelay(policy: RetryPolicy, failedAttempts: number): number {
  const initial = Math.max(0, policy.initialIntervalMs);
  let delay: number;
  switch (policy.backoff) {
    case "FIXED":
      delay = initial;
      break;
    case "LINEAR":
      delay = initial * failedAttempts;
      break;
    case "EXPONENTIAL":
      delay = initial * Math.pow(policy.multiplier, failedAttempts - 1);
      break;
  }
  // Infinity (overflow) is fine: the caller caps it. NaN (e.g. 0 × Infinity) would not be, so it
  // is read as "no growth".
  return Number.isNaN(delay) ? initial : delay;
}

function clamp01(x: number): number {
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0;
}
