import type { Logger } from "pino";
import type { Clock } from "../domain/clock.js";
import type { SagaStore } from "../store/saga-store.js";
import { isTransientPgError } from "../store/pool.js";

export interface LeaseKeeperOptions<Holder> {
  store: SagaStore;
  clock: Clock;
  logger: Logger;
  replicaId: string;
  leaseTtlMs: number;
  pollIntervalMs: number;
  /** What this replica drives now, by saga id. */
  held(): ReadonlyMap<string, Holder>;
  /** The lease of `id` was lost while `holder` (as seen when renewal started) drove it. */
  onLost(id: string, holder: Holder): void;
  /** The lease of `id` was renewed while `holder` drove it. */
  onKept(id: string, holder: Holder): void;
  onClaimed(id: string): Promise<void>;
}

/** How many sagas one poll may take over; bounded so one replica does not grab a whole backlog. */
const CLAIM_BATCH = 100;

/**
 * Renews this replica's leases in one statement every ttl/3, and polls for active sagas nobody
 * holds (a replica died or shut down). Polling is only the backstop for takeover: new work and
 * operator actions start on the fast path without waiting for it. Renewal keeps going while the
 * replica drains at shutdown, until the engine releases the leases.
 */
export class LeaseKeeper<Holder> {
  private cancelRenew: (() => void) | null = null;
  private cancelPoll: (() => void) | null = null;
  private renewing: Promise<void> = Promise.resolve();
  private polling: Promise<void> = Promise.resolve();
  private pollStopped = false;
  private renewStopped = false;

  constructor(private readonly opts: LeaseKeeperOptions<Holder>) {}

  start(): void {
    this.scheduleRenew();
    this.schedulePoll(0);
  }

  /** Claim nothing more (shutdown begins); leases held are still renewed. */
  async stopPolling(): Promise<void> {
    this.pollStopped = true;
    this.cancelPoll?.();
    await this.polling;
  }

  async stop(): Promise<void> {
    await this.stopPolling();
    this.renewStopped = true;
    this.cancelRenew?.();
    await this.renewing;
  }

  private scheduleRenew(): void {
    if (this.renewStopped) return;
    this.cancelRenew = this.opts.clock.setTimer(Math.max(1, Math.floor(this.opts.leaseTtlMs / 3)), () => {
      this.renewing = this.renew().finally(() => this.scheduleRenew());
    });
  }

  private schedulePoll(delayMs: number): void {
    if (this.pollStopped) return;
    this.cancelPoll = this.opts.clock.setTimer(delayMs, () => {
      this.polling = this.poll().then((claimedFull) => this.schedulePoll(claimedFull ? 0 : this.opts.pollIntervalMs));
    });
  }

  private async renew(): Promise<void> {
    const held = new Map(this.opts.held());
    if (held.size === 0) return;
    try {
      const until = this.opts.clock.now() + this.opts.leaseTtlMs;
      const kept = await this.opts.store.renewLeases(this.opts.replicaId, [...held.keys()], until);
      for (const [id, holder] of held) {
        if (kept.has(id)) this.opts.onKept(id, holder);
        else this.opts.onLost(id, holder);
      }
    } catch (err) {
      this.logFailure(err, "lease renewal failed");
    }
  }

  /** Returns true when a full batch was claimed (more may be waiting: poll again at once). */
  private async poll(): Promise<boolean> {
    if (this.pollStopped) return false;
    try {
      const now = this.opts.clock.now();
      const ids = await this.opts.store.claimSagas(this.opts.replicaId, now, now + this.opts.leaseTtlMs, CLAIM_BATCH);
      await Promise.all(ids.map((id) => this.opts.onClaimed(id).catch((err: unknown) => this.logFailure(err, "takeover failed", { saga_id: id }))));
      return ids.length === CLAIM_BATCH;
    } catch (err) {
      this.logFailure(err, "claim poll failed");
      return false;
    }
  }

  private logFailure(err: unknown, message: string, fields: Record<string, unknown> = {}): void {
    if (isTransientPgError(err)) this.opts.logger.warn({ ...fields, err }, message);
    else this.opts.logger.error({ ...fields, err }, message);
  }
}
