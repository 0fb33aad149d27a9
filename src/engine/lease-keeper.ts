import type { Logger } from "pino";
import type { Clock } from "../domain/clock.js";
import type { SagaStore } from "../store/saga-store.js";
import { isTransientPgError } from "../store/pool.js";

export interface LeaseKeeperOptions {
  store: SagaStore;
  clock: Clock;
  logger: Logger;
  replicaId: string;
  leaseTtlMs: number;
  pollIntervalMs: number;
  /** Ids of the sagas this replica drives now. */
  held(): string[];
  onLost(id: string): void;
  onClaimed(id: string): Promise<void>;
}

/** How many sagas one poll may take over; bounded so one replica does not grab a whole backlog. */
const CLAIM_BATCH = 100;

/**
 * Renews this replica's leases in one statement every ttl/3, and polls for active sagas nobody
 * holds (a replica died or shut down). Polling is only the backstop for takeover: new work and
 * operator actions start on the fast path without waiting for it.
 */
export class LeaseKeeper {
  private cancelRenew: (() => void) | null = null;
  private cancelPoll: (() => void) | null = null;
  private running: Promise<unknown> = Promise.resolve();
  private stopped = false;

  constructor(private readonly opts: LeaseKeeperOptions) {}

  start(): void {
    this.scheduleRenew();
    this.schedulePoll(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelRenew?.();
    this.cancelPoll?.();
    await this.running.catch(() => undefined);
  }

  private scheduleRenew(): void {
    if (this.stopped) return;
    this.cancelRenew = this.opts.clock.setTimer(Math.max(1, Math.floor(this.opts.leaseTtlMs / 3)), () => {
      this.running = this.renew().finally(() => this.scheduleRenew());
    });
  }

  private schedulePoll(delayMs: number): void {
    if (this.stopped) return;
    this.cancelPoll = this.opts.clock.setTimer(delayMs, () => {
      this.running = this.poll().then((claimedFull) => this.schedulePoll(claimedFull ? 0 : this.opts.pollIntervalMs));
    });
  }

  private async renew(): Promise<void> {
    const ids = this.opts.held();
    if (ids.length === 0) return;
    try {
      const until = this.opts.clock.now() + this.opts.leaseTtlMs;
      const kept = await this.opts.store.renewLeases(this.opts.replicaId, ids, until);
      for (const id of ids) if (!kept.has(id)) this.opts.onLost(id);
    } catch (err) {
      this.logFailure(err, "lease renewal failed");
    }
  }

  /** Returns true when a full batch was claimed (more may be waiting: poll again at once). */
  private async poll(): Promise<boolean> {
    if (this.stopped) return false;
    try {
      const now = this.opts.clock.now();
      const ids = await this.opts.store.claimSagas(this.opts.replicaId, now, now + this.opts.leaseTtlMs, CLAIM_BATCH);
      await Promise.all(ids.map((id) => this.opts.onClaimed(id).catch((err: unknown) => this.logFailure(err, "takeover failed"))));
      return ids.length === CLAIM_BATCH;
    } catch (err) {
      this.logFailure(err, "claim poll failed");
      return false;
    }
  }

  private logFailure(err: unknown, message: string): void {
    if (isTransientPgError(err)) this.opts.logger.warn({ err }, message);
    else this.opts.logger.error({ err }, message);
  }
}
