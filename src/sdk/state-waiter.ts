/**
 * Lets callers wait for a condition on state that changes by plain method calls (slots freeing,
 * tasks finishing) without polling: the owner calls `notify()` after every change.
 */
export class StateWaiter {
  private readonly checks = new Set<() => void>();

  /** Re-evaluates every pending condition. */
  notify(): void {
    for (const check of [...this.checks]) check();
  }

  /** Resolves true once `condition()` holds, or false after `timeoutMs` (never, for Infinity). */
  until(condition: () => boolean, timeoutMs: number): Promise<boolean> {
    if (condition()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (value: boolean): void => {
        clearTimeout(timer);
        this.checks.delete(check);
        resolve(value);
      };
      const check = (): void => {
        if (condition()) done(true);
      };
      const timer = Number.isFinite(timeoutMs) ? setTimeout(() => done(false), timeoutMs) : undefined;
      this.checks.add(check);
    });
  }
}
