/** What the workers layer reports as it goes (the metrics listen); every method must return at once. */
export interface WorkerObserver {
  /** A task was offered to a session; `scheduleToStartMs` since it was queued. */
  offered(action: string, scheduleToStartMs: number): void;
  acked(action: string): void;
  /** A worker's report was recorded. */
  reported(action: string, outcome: "completed" | "failed" | "cancelled"): void;
  /** A task went back to the queue: its offer was not acknowledged in time, or its worker was lost. */
  requeued(action: string, why: "ack_timeout" | "worker_lost"): void;
}

export const NO_WORKER_OBSERVER: WorkerObserver = {
  offered: () => undefined,
  acked: () => undefined,
  reported: () => undefined,
  requeued: () => undefined,
};
