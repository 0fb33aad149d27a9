import type { Logger } from "pino";
import { isTransientPgError } from "../store/pool.js";

/**
 * Retries a store call through transient database errors (failover, restart, serialization),
 * with capped exponential backoff, for up to `budgetMs`. A result of the engine's own work must
 * not be dropped because Postgres blinked; after the budget the caller abandons the saga and
 * another replica (or this one, later) recovers it from its lease.
 */
export async function withTransientRetry<T>(log: Logger, fn: () => Promise<T>, budgetMs = 30_000): Promise<T> {
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isTransientPgError(err) || Date.now() - started > budgetMs) throw err;
      // Capped low: a restarted Postgres is back in well under a second, and sagas should be too.
      const delay = Math.min(500, 50 * 2 ** attempt);
      // `retry`, not `attempt`: on a driver's logger `attempt` is the step's attempt.
      log.warn({ err, retry: attempt, delay_ms: delay }, "transient database error; retrying");
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
