/**
 * Waits between reconnects and retried calls. Exponential from `initialMs`, capped at `maxMs`, with
 * "equal jitter" (half fixed, half random) so a fleet of workers that lost the same replica does not
 * come back in lock step, while no wait collapses to zero and turns into a hot loop.
 */
export interface Backoff {
  initialMs: number;
  maxMs: number;
}

/** Reconnects: 100 ms, 200 ms, … up to 10 s. */
export const RECONNECT_BACKOFF: Readonly<Backoff> = Object.freeze({ initialMs: 100, maxMs: 10_000 });

/**
 * The wait before retry number `failures` (1 for the first retry). Always in
 * [cap / 2, cap] where cap = min(maxMs, initialMs × 2^(failures-1)); `random` is like Math.random.
 */
export function backoffMs(backoff: Backoff, failures: number, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(0, Math.floor(failures) - 1), 30);
  const cap = Math.min(backoff.maxMs, backoff.initialMs * 2 ** exponent);
  return Math.round(cap / 2 + (cap / 2) * random());
}

/** Resolves after `ms`, or at once when `signal` fires (never rejects: callers check the signal). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
