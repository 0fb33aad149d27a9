import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { WorkerObserver } from "../workers/worker-observer.js";

export interface WorkerMetricsOptions {
  /** Worker sessions with a stream or a poll on this replica; read at each scrape. */
  connected(): number;
  /** Queued tasks by action, cluster-wide (one indexed query per scrape). */
  queueDepth(): Promise<ReadonlyMap<string, number>>;
}

/** Seconds from a task queued to a worker having it: milliseconds when workers wait, minutes when none do. */
const SCHEDULE_BUCKETS = [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/**
 * The worker protocol's metrics, in the replica's registry beside the engine's. Counts are this
 * replica's (what it offered, what reports it recorded); the queue depth is the cluster's, the
 * same on every replica. Labelled by action only, which workers name and register.
 */
export class WorkerMetrics implements WorkerObserver {
  private readonly offeredTotal: Counter<"action">;
  private readonly ackedTotal: Counter<"action">;
  private readonly resultsTotal: Counter<"action" | "outcome">;
  private readonly requeuedTotal: Counter<"action" | "reason">;
  private readonly scheduleToStart: Histogram<"action">;

  constructor(registry: Registry, options: WorkerMetricsOptions) {
    const registers = [registry];
    new Gauge({
      name: "sagad_workers_connected",
      help: "Worker sessions with a Subscribe stream or a PollTasks call on this replica now.",
      registers,
      collect() {
        this.set(options.connected());
      },
    });
    new Gauge({
      name: "sagad_worker_queue_depth",
      help: "Worker tasks queued (waiting for a worker with a free slot), by action, cluster-wide.",
      labelNames: ["action"],
      registers,
      async collect() {
        this.reset();
        for (const [action, n] of await options.queueDepth()) this.set({ action }, n);
      },
    });
    this.offeredTotal = new Counter({ name: "sagad_worker_tasks_offered_total", help: "Tasks this replica offered to workers (every delivery counts), by action.", labelNames: ["action"], registers });
    this.ackedTotal = new Counter({ name: "sagad_worker_tasks_acked_total", help: "Offers workers acknowledged on this replica, by action.", labelNames: ["action"], registers });
    this.resultsTotal = new Counter({
      name: "sagad_worker_task_results_total",
      help: "Worker reports this replica recorded, by action and outcome: completed, failed, cancelled.",
      labelNames: ["action", "outcome"],
      registers,
    });
    this.requeuedTotal = new Counter({
      name: "sagad_worker_tasks_requeued_total",
      help: "Tasks put back in the queue by this replica's sweep, by action and reason: ack_timeout (offer not acknowledged) or worker_lost (session's heartbeats stopped); neither uses an attempt.",
      labelNames: ["action", "reason"],
      registers,
    });
    this.scheduleToStart = new Histogram({
      name: "sagad_worker_schedule_to_start_seconds",
      help: "From a task queued (its attempt started, or requeued) to its offer to a worker, by action.",
      labelNames: ["action"],
      buckets: SCHEDULE_BUCKETS,
      registers,
    });
  }

  offered(action: string, scheduleToStartMs: number): void {
    this.offeredTotal.inc({ action });
    this.scheduleToStart.observe({ action }, scheduleToStartMs / 1000);
  }

  acked(action: string): void {
    this.ackedTotal.inc({ action });
  }

  reported(action: string, outcome: "completed" | "failed" | "cancelled"): void {
    this.resultsTotal.inc({ action, outcome });
  }

  requeued(action: string, why: "ack_timeout" | "worker_lost"): void {
    this.requeuedTotal.inc({ action, reason: why });
  }
}
