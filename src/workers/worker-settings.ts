/** The timing of the worker protocol; one replica's, but every replica of a cluster should agree. */
export interface WorkerSettings {
  /** How often workers heartbeat; a session lives 3 × this past its last heartbeat. */
  heartbeatIntervalMs: number;
  /** An offer not acknowledged this soon goes back to the queue (no attempt used). */
  ackTimeoutMs: number;
  /** Keepalive messages on Subscribe streams, so proxies keep idle streams open. */
  keepaliveMs: number;
  /** After this long a Subscribe stream asks its worker to reconnect (rebalancing replicas). */
  reconnectAfterMs: number;
  /** The claim poll: how often queued tasks nobody offered at once are looked for. */
  claimPollMs: number;
  /** How often offers, lost sessions and timeouts are swept. */
  sweepMs: number;
  /** Requeues of one attempt after lost workers, before it fails with WORKER_LOST. */
  maxRequeues: number;
}

export const DEFAULT_WORKER_SETTINGS: WorkerSettings = {
  heartbeatIntervalMs: 5_000,
  ackTimeoutMs: 10_000,
  keepaliveMs: 15_000,
  reconnectAfterMs: 10 * 60_000,
  claimPollMs: 250,
  sweepMs: 1_000,
  maxRequeues: 3,
};

/** A session whose heartbeats stop this long is lost. */
export function sessionTtlMs(settings: WorkerSettings): number {
  return 3 * settings.heartbeatIntervalMs;
}
