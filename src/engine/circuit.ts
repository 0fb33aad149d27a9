import {
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  handleWhenResult,
  type CircuitBreakerPolicy,
  type FailureReason,
  type IBackoff,
} from "cockatiel";
import type { Logger } from "pino";
import type { Clock } from "../domain/clock.js";

/**
 * How a call ended, as far as the target's health goes. `failure`: the target failed or did not
 * answer in time (retryable errors, timeouts). `success`: it answered, even with an error it means
 * (non-retryable). `neutral`: the call says nothing about the target (cancel, shutdown, a stale
 * attempt); it neither counts as a failure nor ends a failure streak.
 */
export type CallVerdict = { verdict: "success" } | { verdict: "failure"; error: string } | { verdict: "neutral" };

/** The breaker refused a call: the step must wait, at the latest until `until`. */
export interface Refusal {
  circuit: string;
  /** Epoch ms: the breaker's next probe time (or, while a probe is in flight, when one may be due). */
  until: number;
  /** Names the circuit, why it refuses and the next probe time. */
  reason: string;
}

export type CircuitStateName = "CLOSED" | "OPEN" | "HALF_OPEN";

/** One breaker as ListCircuits and the metrics show it. Times are epoch ms. */
export interface CircuitSnapshot {
  key: string;
  action: string;
  state: CircuitStateName;
  consecutiveFailures: number;
  totalFailures: number;
  totalSuccesses: number;
  totalRejected: number;
  waitingSteps: number;
  openedAt: number | null;
  /** Only while OPEN. */
  nextProbeAt: number | null;
  lastError: string | null;
}

export interface CircuitOptions {
  key: string;
  action: string;
  failures: number;
  openMs: number;
  clock: Clock;
  logger: Logger;
  /** Pace of the gradual release after a close: 1, 2, 4, … waiters per tick. */
  releaseTickMs: number;
  /** How long a woken probe candidate may take to make its call before the next waiter is woken. */
  probePatienceMs: number;
}

/**
 * cockatiel's ConsecutiveBreaker, except that a neutral outcome leaves the streak alone. cockatiel
 * hands every handled result to `failure()` right after storing it as `lastFailure`, which is how a
 * neutral one is told apart. (A neutral half-open probe still re-opens the breaker: cockatiel opens
 * on any handled probe result, and a probe that told us nothing is no reason to let traffic flow.)
 */
class StreakBreaker extends ConsecutiveBreaker {
  constructor(
    threshold: number,
    private readonly lastFailure: () => FailureReason<unknown> | undefined,
  ) {
    super(threshold);
  }

  override failure(): boolean {
    const last = this.lastFailure();
    if (last && "value" in last && (last.value as CallVerdict).verdict === "neutral") return false;
    return super.failure();
  }
}

const STATE_NAMES: Record<CircuitState, CircuitStateName> = {
  [CircuitState.Closed]: "CLOSED",
  [CircuitState.Open]: "OPEN",
  [CircuitState.HalfOpen]: "HALF_OPEN",
  [CircuitState.Isolated]: "OPEN", // never used: nothing isolates our breakers
};

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * One circuit breaker (a cockatiel CircuitBreakerPolicy) plus what sagad needs around it: counters
 * for ListCircuits and metrics, the steps of this replica waiting for it, and the timer that wakes
 * them — one probe candidate when the open time is over, then, once a probe closes the breaker,
 * the rest in growing batches, stopping as soon as it opens again.
 *
 * cockatiel measures the open time itself with Date.now(); the backoff given to it here answers
 * from the engine's clock instead, so the breaker, the durable next attempt times and tests on a
 * fake clock all agree on when a probe is due.
 */
export class Circuit {
  private readonly policy: CircuitBreakerPolicy;
  private readonly streak: StreakBreaker;
  private totalFailures = 0;
  private totalSuccesses = 0;
  private totalRejected = 0;
  private openedAt: number | null = null;
  private nextProbeAt: number | null = null;
  private lastError: string | null = null;
  private readonly waiters = new Map<number, (why: string) => void>();
  private nextWaiterId = 1;
  private cancelTimer: (() => void) | null = null;
  private releaseBatch = 1;
  private readonly log: Logger;

  constructor(private readonly opts: CircuitOptions) {
    this.log = opts.logger.child({ circuit: opts.key, action: opts.action });
    const probeDue: IBackoff<unknown> = {
      // cockatiel refuses while `Date.now() - openedAt < duration`.
      get duration() {
        return due() ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
      },
      next: () => probeDue,
    };
    const due = () => this.nextProbeAt !== null && opts.clock.now() >= this.nextProbeAt;
    this.streak = new StreakBreaker(opts.failures, () => this.policy.lastFailure);
    this.policy = circuitBreaker(
      handleWhenResult((result) => (result as CallVerdict).verdict !== "success"),
      { breaker: this.streak, halfOpenAfter: { next: () => probeDue } },
    );
    this.policy.onBreak(() => this.opened());
    this.policy.onHalfOpen(() => {
      this.log.info("circuit breaker half-open: one probe call goes through");
      this.reschedule();
    });
    this.policy.onReset(() => {
      this.nextProbeAt = null;
      this.releaseBatch = 1;
      this.log.info({ waiting: this.waiters.size }, "circuit breaker closed");
      this.reschedule();
    });
  }

  /** Why a call may not be made now (counted as rejected), or null when it may. */
  refusal(): Refusal | null {
    const now = this.opts.clock.now();
    const state = this.policy.state;
    if (state === CircuitState.Closed) return null;
    let until: number;
    let reason: string;
    if (state === CircuitState.Open && this.nextProbeAt !== null) {
      if (now >= this.nextProbeAt) return null; // this call is the probe
      until = this.nextProbeAt;
      reason = `circuit "${this.opts.key}" is open after ${this.streak.state} consecutive failures; next probe at ${iso(until)}`;
    } else {
      // A probe is in flight. If it fails, the next one is an open time away; if it succeeds, we wake earlier.
      until = now + this.opts.openMs;
      reason = `circuit "${this.opts.key}" is half-open: a probe call is in flight; next try at ${iso(until)} at the latest`;
    }
    this.totalRejected++;
    return { circuit: this.opts.key, until, reason };
  }

  /**
   * Makes the call through the breaker if it admits one now; the admission and the start of `fn`
   * happen in one synchronous step, so no other call can slip in between. `fn` must settle (race
   * it with the attempt's abort signal): a half-open probe that never settles would hold the
   * breaker half-open for good. If `fn` throws, that counts as a failure and is rethrown.
   */
  call<T extends CallVerdict>(fn: () => Promise<T>): { refused: Refusal } | { result: Promise<T> } {
    const refused = this.refusal();
    if (refused) return { refused };
    let thrown: { error: unknown } | null = null;
    const counted = async (): Promise<CallVerdict> => {
      let outcome: CallVerdict;
      try {
        outcome = await fn();
      } catch (error) {
        thrown = { error };
        outcome = { verdict: "failure", error: error instanceof Error ? error.message : String(error) };
      }
      if (outcome.verdict === "success") this.totalSuccesses++;
      else if (outcome.verdict === "failure") {
        this.totalFailures++;
        this.lastError = outcome.error;
      }
      return outcome;
    };
    const result = this.policy.execute(counted).then((outcome) => {
      if (thrown) throw thrown.error;
      return outcome as T;
    });
    return { result };
  }

  /**
   * Registers a waiting step; `wake` is called once, when it is its turn, with why (the probe, or
   * the release after the breaker closed), for the step's history. Returns the cancel.
   */
  wait(wake: (why: string) => void): () => void {
    const id = this.nextWaiterId++;
    this.waiters.set(id, wake);
    if (!this.cancelTimer) this.reschedule();
    return () => {
      this.waiters.delete(id);
    };
  }

  snapshot(): CircuitSnapshot {
    const state = STATE_NAMES[this.policy.state];
    return {
      key: this.opts.key,
      action: this.opts.action,
      state,
      consecutiveFailures: this.streak.state,
      totalFailures: this.totalFailures,
      totalSuccesses: this.totalSuccesses,
      totalRejected: this.totalRejected,
      waitingSteps: this.waiters.size,
      openedAt: this.openedAt,
      nextProbeAt: state === "OPEN" ? this.nextProbeAt : null,
      lastError: this.lastError,
    };
  }

  /** Stops the timer and forgets the waiters (their drivers are gone at shutdown). */
  close(): void {
    this.cancelTimer?.();
    this.cancelTimer = null;
    this.waiters.clear();
  }

  private opened(): void {
    const now = this.opts.clock.now();
    this.openedAt = now;
    this.nextProbeAt = now + this.opts.openMs;
    this.releaseBatch = 1;
    this.log.warn(
      { failures: this.streak.state, next_probe: iso(this.nextProbeAt), last_error: this.lastError, waiting: this.waiters.size },
      "circuit breaker opened",
    );
    this.reschedule();
  }

  /** Sets the one timer the current state needs: probe wake-up (OPEN) or release tick (CLOSED). */
  private reschedule(): void {
    this.cancelTimer?.();
    this.cancelTimer = null;
    if (this.waiters.size === 0) return;
    const state = this.policy.state;
    if (state === CircuitState.Closed) this.setTimer(0, () => this.releaseTick());
    else if (state === CircuitState.Open && this.nextProbeAt !== null) {
      this.setTimer(this.nextProbeAt - this.opts.clock.now(), () => this.probeTick());
    }
    // HALF_OPEN: the probe's outcome reschedules.
  }

  private releaseTick(): void {
    if (this.policy.state !== CircuitState.Closed) return;
    const batch = Math.min(this.releaseBatch, this.waiters.size);
    for (let i = 0; i < batch; i++) this.wakeFirst(`released: circuit "${this.opts.key}" closed`);
    this.releaseBatch *= 2;
    if (this.waiters.size > 0) this.setTimer(this.opts.releaseTickMs, () => this.releaseTick());
    else this.releaseBatch = 1;
  }

  private probeTick(): void {
    if (this.policy.state !== CircuitState.Open || this.nextProbeAt === null || this.waiters.size === 0) return;
    const early = this.nextProbeAt - this.opts.clock.now();
    // Timers may fire a millisecond early; a candidate woken now would only be refused again.
    if (early > 0) return this.setTimer(early, () => this.probeTick());
    this.wakeFirst(`probe: circuit "${this.opts.key}" lets one call through`);
    // If the candidate never makes its call (its saga moved on), the next waiter gets the turn.
    if (this.waiters.size > 0) this.setTimer(this.opts.probePatienceMs, () => this.probeTick());
  }

  private setTimer(ms: number, fn: () => void): void {
    const cancel = this.opts.clock.setTimer(ms, () => {
      if (this.cancelTimer === cancel) this.cancelTimer = null;
      fn();
    });
    this.cancelTimer = cancel;
  }

  private wakeFirst(why: string): void {
    const first = this.waiters.entries().next();
    if (first.done) return;
    const [id, wake] = first.value;
    this.waiters.delete(id);
    try {
      wake(why);
    } catch (err) {
      this.log.error({ err }, "waking a step waiting for the circuit failed");
    }
  }
}
