/**
 * Time as the engine sees it. Injected everywhere a deadline, backoff or lease is computed so tests
 * can move time forward instead of sleeping.
 */
export interface Clock {
  now(): number;
  /** Calls `fn` once `ms` have passed on this clock; returns a cancel function. */
  setTimer(ms: number, fn: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(ms, fn) {
    const handle = setTimeout(fn, Math.max(0, ms));
    return () => clearTimeout(handle);
  },
};
