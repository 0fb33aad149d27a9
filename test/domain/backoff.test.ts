import { describe, expect, it } from "vitest";
import { backoffDelayMs, DEFAULT_COMPENSATION_RETRY_POLICY, DEFAULT_RETRY_POLICY } from "../../src/domain/backoff.js";
import type { RetryPolicy } from "../../src/domain/types.js";

const policy = (overrides: Partial<RetryPolicy>): RetryPolicy => ({ ...DEFAULT_RETRY_POLICY, nonRetryableErrors: [], ...overrides });
const noJitter = () => 0.5;

describe("backoffDelayMs", () => {
  it("FIXED waits the initial interval every time", () => {
    const p = policy({ backoff: "FIXED", initialIntervalMs: 250 });
    expect([1, 2, 7].map((n) => backoffDelayMs(p, n, noJitter))).toEqual([250, 250, 250]);
  });

  it("LINEAR grows with the number of failed attempts", () => {
    const p = policy({ backoff: "LINEAR", initialIntervalMs: 100 });
    expect([1, 2, 3, 10].map((n) => backoffDelayMs(p, n, noJitter))).toEqual([100, 200, 300, 1000]);
  });

  it("EXPONENTIAL multiplies from the first failure", () => {
    const p = policy({ backoff: "EXPONENTIAL", initialIntervalMs: 100, multiplier: 3 });
    expect([1, 2, 3, 4].map((n) => backoffDelayMs(p, n, noJitter))).toEqual([100, 300, 900, 2700]);
  });

  it("caps at max_interval and survives overflow to Infinity", () => {
    const p = policy({ backoff: "EXPONENTIAL", initialIntervalMs: 1000, multiplier: 10, maxIntervalMs: 60_000 });
    expect(backoffDelayMs(p, 3, noJitter)).toBe(60_000);
    expect(backoffDelayMs(p, 100_000, noJitter)).toBe(60_000);
    expect(backoffDelayMs(policy({ backoff: "LINEAR", maxIntervalMs: 5000 }), Number.MAX_SAFE_INTEGER, noJitter)).toBe(5000);
  });

  it("applies jitter as a uniform pick in [w(1-j), w]", () => {
    const p = policy({ backoff: "FIXED", initialIntervalMs: 1000, jitter: 0.5 });
    expect(backoffDelayMs(p, 1, () => 0)).toBe(1000);
    expect(backoffDelayMs(p, 1, () => 0.5)).toBe(750);
    expect(backoffDelayMs(p, 1, () => 0.999999)).toBe(500);
  });

  it("jitters after capping, so the cap still holds and the floor is cap × (1 - j)", () => {
    const p = policy({ initialIntervalMs: 1000, multiplier: 2, maxIntervalMs: 4000, jitter: 1 });
    expect(backoffDelayMs(p, 20, () => 0)).toBe(4000);
    expect(backoffDelayMs(p, 20, () => 0.25)).toBe(3000);
  });

  it("rounds to whole milliseconds", () => {
    const p = policy({ backoff: "EXPONENTIAL", initialIntervalMs: 3, multiplier: 1.5 });
    expect(backoffDelayMs(p, 2, noJitter)).toBe(5); // 4.5 rounds up
  });

  it("without jitter ignores random entirely", () => {
    expect(backoffDelayMs(DEFAULT_RETRY_POLICY, 2, () => 0.9)).toBe(2000);
  });
});

describe("default policies", () => {
  it("match the proto's documented defaults", () => {
    expect(DEFAULT_RETRY_POLICY).toEqual({
      maxAttempts: 3,
      backoff: "EXPONENTIAL",
      initialIntervalMs: 1000,
      maxIntervalMs: 60_000,
      multiplier: 2,
      jitter: 0,
      timeoutMs: 0,
      nonRetryableErrors: [],
    });
    expect(DEFAULT_COMPENSATION_RETRY_POLICY).toEqual({ ...DEFAULT_RETRY_POLICY, maxAttempts: 5 });
  });

  it("cannot be mutated by a careless caller", () => {
    expect(() => {
      (DEFAULT_RETRY_POLICY as RetryPolicy).maxAttempts = 9;
    }).toThrow(TypeError);
  });
});
