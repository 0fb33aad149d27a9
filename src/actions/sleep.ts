import { ActionError, abortedError, type Action, type ActionContext } from "./action.js";

/** setTimeout fires at once for longer delays, so nothing above this is accepted. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
const DURATION = /^(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h)$/;

/**
 * Parses an action-config duration: a non-negative number of milliseconds, or a string such as
 * "150ms", "2s", "1.5m", "1h" (one unit, no sign). Rounds to whole milliseconds and rejects values
 * a timer cannot hold. Throws a non-retryable INVALID_CONFIG naming `field`, since retrying the
 * same config cannot help.
 */
export function parseDuration(value: unknown, field: string): number {
  let ms: number | undefined;
  if (typeof value === "number") {
    ms = value;
  } else if (typeof value === "string") {
    const match = DURATION.exec(value.trim());
    if (match?.[1] !== undefined && match[2] !== undefined) ms = Number(match[1]) * (UNIT_MS[match[2]] ?? NaN);
  }
  if (ms === undefined || !Number.isFinite(ms) || ms < 0 || Math.round(ms) > MAX_TIMER_MS) {
    throw new ActionError(
      `config.${field} must be a duration like "150ms", "2s", "1m", "1h" or a number of milliseconds ` +
        `(0 to ${MAX_TIMER_MS}), got ${JSON.stringify(value) ?? String(value)}`,
      { kind: "INVALID_CONFIG", retryable: false },
    );
  }
  return Math.round(ms);
}

/**
 * Waits `config.duration`, then succeeds with `{ slept_ms }`. Rejects with ABORTED as soon as
 * `ctx.signal` fires; either way the timer is cleared and the abort listener removed, so an
 * aborted or finished sleep holds no resources.
 */
export const sleepAction: Action = {
  name: "sleep",
  async run(ctx: ActionContext) {
    const ms = parseDuration(ctx.config["duration"], "duration");
    await delay(ms, ctx.signal);
    return { slept_ms: ms };
  },
};

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(abortedError(signal, "sleep"));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortedError(signal, "sleep"));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
