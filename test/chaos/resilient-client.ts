import { Code, ConnectError } from "@connectrpc/connect";
import type { SagaClient, SagaEvent, SagaStatus } from "../../src/client/index.js";
import { RESTING } from "../helpers/wait.js";

/** What the harness's clients went through; reported per scenario. */
export interface CallStats {
  calls: number;
  /** Failed attempts that were retried (a real client would), by Connect code name. */
  retried: Record<string, number>;
  /** Errors that were not retryable, by code name: each fails the scenario unless expected. */
  errors: Record<string, number>;
  /** Unary calls that hit their deadline, split by whether they began while a fault was active. */
  deadlineHitsDuringFault: number;
  deadlineHitsOutsideFault: number;
  /** Watch streams silent for longer than the idle limit (then resumed), split likewise. */
  watchStallsDuringFault: number;
  watchStallsOutsideFault: number;
  /** Stream resumptions with after_sequence (after an error, a stall or an early end). */
  watchResumes: number;
  /** Events that did not follow the previous one's sequence by exactly one. */
  watchSequenceBreaks: number;
  /** Calls given up on after the overall budget (each also fails the scenario). */
  gaveUp: number;
}

export function newCallStats(): CallStats {
  return {
    calls: 0, retried: {}, errors: {}, deadlineHitsDuringFault: 0, deadlineHitsOutsideFault: 0,
    watchStallsDuringFault: 0, watchStallsOutsideFault: 0, watchResumes: 0, watchSequenceBreaks: 0, gaveUp: 0,
  };
}

export interface ResilientOptions {
  /** Clients of the replicas, tried in turn; a call that fails on one retries on the next. */
  clients: () => readonly SagaClient[];
  /** True while a fault is injected (a replica down, Postgres stopped). */
  faultActive: () => boolean;
  /** Deadline of each unary call. */
  deadlineMs?: number;
  /** A watch with no message for this long is abandoned and resumed (and counted as a stall). */
  watchIdleMs?: number;
}

/**
 * A client the way a careful caller writes one: every call has a deadline, transport failures and
 * UNAVAILABLE are retried with backoff on the next replica, watches resume from the last sequence
 * they saw. Everything it had to do is counted, so the harness can tell a survived fault from one
 * that leaked through (a non-retryable error, a deadline hit outside any fault).
 */
export class ResilientClient {
  readonly stats: CallStats = newCallStats();
  private readonly deadlineMs: number;
  private readonly watchIdleMs: number;

  constructor(private readonly opts: ResilientOptions) {
    this.deadlineMs = opts.deadlineMs ?? 10_000;
    this.watchIdleMs = opts.watchIdleMs ?? 30_000;
  }

  /**
   * Runs `fn` until it succeeds, a non-retryable error happens (thrown unless `accept` turns it
   * into a result), or `budgetMs` has passed.
   */
  async unary<T>(
    what: string,
    fn: (client: SagaClient, options: { timeoutMs: number }) => Promise<T>,
    budgetMs: number,
    accept?: (err: ConnectError) => T | undefined,
  ): Promise<T> {
    const giveUpAt = Date.now() + budgetMs;
    for (let attempt = 0; ; attempt++) {
      const client = this.nextClient();
      const duringFault = this.opts.faultActive();
      this.stats.calls++;
      try {
        return await fn(client, { timeoutMs: this.deadlineMs });
      } catch (raw) {
        const err = ConnectError.from(raw);
        if (err.code === Code.DeadlineExceeded) {
          if (duringFault || this.opts.faultActive()) this.stats.deadlineHitsDuringFault++;
          else this.stats.deadlineHitsOutsideFault++;
        }
        if (!isRetryable(err)) {
          const accepted = accept?.(err);
          if (accepted !== undefined) return accepted;
          bump(this.stats.errors, Code[err.code]);
          throw new Error(`${what}: ${Code[err.code]}: ${err.rawMessage}`, { cause: err });
        }
        bump(this.stats.retried, Code[err.code]);
        if (Date.now() > giveUpAt) {
          this.stats.gaveUp++;
          throw new Error(`${what}: still failing after ${budgetMs} ms: ${Code[err.code]}: ${err.rawMessage}`, { cause: err });
        }
        await sleep(Math.min(1000, 50 * 2 ** Math.min(attempt, 5)));
      }
    }
  }

  /**
   * Follows a saga from `afterSequence` until it rests, calling `onEvent` for each event exactly
   * once and in order. Returns the resting status, or null if `budgetMs` passed first (stuck).
   *
   * "Rests" is the server's call: the stream ends after the saga's latest event when that event
   * has a resting status. An event's own status is not enough: an operator's SkipStep on a FAILED
   * saga commits STEP_SKIPPED (status still FAILED) and then RUNNING in one transaction.
   */
  async watchUntilResting(
    id: string,
    afterSequence: bigint,
    onEvent: (event: SagaEvent) => void,
    budgetMs: number,
  ): Promise<{ status: SagaStatus | null; cursor: bigint }> {
    const giveUpAt = Date.now() + budgetMs;
    let cursor = afterSequence;
    let last: SagaStatus | null = null;
    for (let attempt = 0; Date.now() < giveUpAt; attempt++) {
      if (attempt > 0) this.stats.watchResumes++;
      const client = this.nextClient();
      const controller = new AbortController();
      let stalled = false;
      let received = false;
      let duringFault = this.opts.faultActive();
      let idle: NodeJS.Timeout | undefined;
      const arm = () => {
        clearTimeout(idle);
        const wait = Math.max(1, Math.min(this.watchIdleMs, giveUpAt - Date.now()));
        idle = setTimeout(() => {
          stalled = Date.now() < giveUpAt;
          controller.abort();
        }, wait);
      };
      this.stats.calls++;
      try {
        arm();
        for await (const msg of client.watchSaga({ id, afterSequence: cursor }, { signal: controller.signal })) {
          arm();
          duringFault = this.opts.faultActive();
          if (msg.kind.case !== "event") continue;
          const event = msg.kind.value;
          if (event.sequence !== cursor + 1n) this.stats.watchSequenceBreaks++;
          if (event.sequence <= cursor) continue; // a duplicate: counted, not delivered twice
          cursor = event.sequence;
          received = true;
          onEvent(event);
          last = event.sagaStatus;
        }
        if (last !== null && RESTING.includes(last)) return { status: last, cursor };
        if (!received) {
          // Nothing after our cursor and the server ended the stream: the saga rests right there.
          const { saga } = await this.unary(`GetSaga ${id}`, (c, o) => c.getSaga({ id }, o), Math.max(1, giveUpAt - Date.now()));
          if (RESTING.includes(saga!.status) && saga!.sequence === cursor) return { status: saga!.status, cursor };
        }
        // Ended without a resting event (e.g. the server drained): resume shortly.
        await sleep(100);
      } catch (raw) {
        const err = ConnectError.from(raw);
        if (stalled) {
          if (duringFault || this.opts.faultActive()) this.stats.watchStallsDuringFault++;
          else this.stats.watchStallsOutsideFault++;
        } else if (controller.signal.aborted) {
          break; // our own budget ran out
        } else if (isRetryable(err)) {
          bump(this.stats.retried, `watch ${Code[err.code]}`);
          await sleep(Math.min(1000, 50 * 2 ** Math.min(attempt, 5)));
        } else {
          bump(this.stats.errors, `watch ${Code[err.code]}`);
          throw new Error(`WatchSaga ${id}: ${Code[err.code]}: ${err.rawMessage}`, { cause: err });
        }
      } finally {
        clearTimeout(idle);
      }
    }
    return { status: null, cursor };
  }

  /** A random replica per call (a load balancer's choice): strict turns would line every create up on one. */
  private nextClient(): SagaClient {
    const clients = this.opts.clients();
    if (clients.length === 0) throw new Error("no replica to call");
    return clients[Math.floor(Math.random() * clients.length)]!;
  }
}

/**
 * Transport failures (connection refused or reset: UNAVAILABLE, or INTERNAL/UNKNOWN without the
 * server's own message) and the server's UNAVAILABLE/ABORTED are what a client retries. The
 * server's `internal error` is a bug, never retried.
 */
export function isRetryable(err: ConnectError): boolean {
  switch (err.code) {
    case Code.Unavailable:
    case Code.DeadlineExceeded:
    case Code.Aborted:
    case Code.Canceled:
      return true;
    case Code.Internal:
    case Code.Unknown:
      return err.rawMessage !== "internal error";
    default:
      return false;
  }
}

export function bump(counts: Record<string, number>, key: string, by = 1): void {
  counts[key] = (counts[key] ?? 0) + by;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
