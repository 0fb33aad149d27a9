import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { RESTING_SAGA_STATUSES, type EventType, type SagaEvent, type SagaState } from "../domain/types.js";
import type { AttemptOutcome, EngineObserver } from "../engine/engine-observer.js";

/** One circuit breaker as the metrics see it; the breakers themselves live in the engine. */
export interface CircuitSample {
  key: string;
  action: string;
  state: "CLOSED" | "OPEN" | "HALF_OPEN";
}

export interface MetricsOptions {
  /** Sagas this replica drives (holds a lease for) right now; read at each scrape. */
  leasesHeld(): number;
  /** The breakers of this replica; read at each scrape. */
  circuits(): readonly CircuitSample[];
  /** Also export Node's process metrics (CPU, memory, event loop, GC); default true. */
  processMetrics?: boolean;
}

/** Gauge values of `sagad_circuit_state`, ordered by how much traffic the breaker stops. */
export const CIRCUIT_STATE_VALUES: Readonly<Record<CircuitSample["state"], number>> = { CLOSED: 0, HALF_OPEN: 1, OPEN: 2 };

/** Step events that end (or replace) an attempt of a step's action, as the `outcome` label. */
const STEP_OUTCOMES: Partial<Record<EventType, string>> = {
  STEP_COMPLETED: "completed",
  STEP_FAILED: "failed",
  STEP_RETRY_SCHEDULED: "retry_scheduled",
  STEP_CANCELLED: "cancelled",
  STEP_SKIPPED: "skipped",
};

const COMPENSATION_OUTCOMES: Partial<Record<EventType, string>> = {
  COMPENSATION_STARTED: "started",
  COMPENSATION_COMPLETED: "completed",
  COMPENSATION_FAILED: "failed",
};

/** Seconds; actions range from a no-op to minutes-long HTTP calls. */
const ATTEMPT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
/** Seconds; unary RPCs are milliseconds, streams (counted when they end) can last hours. */
const RPC_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60, 600, 3600];

/**
 * The Prometheus metrics of one sagad instance, in a registry of its own (never prom-client's
 * global one), so several servers in one process do not mix. It is the engine's observer: every
 * count comes from what this replica committed or ran, so summing over replicas counts each
 * transition once. Labels carry action, status, outcome, method and code names only: never saga
 * ids, names or anything else a caller chooses freely, so cardinality stays bounded.
 */
export class Metrics implements EngineObserver {
  readonly registry = new Registry();
  private readonly sagasCreated: Counter;
  private readonly sagasFinished: Counter<"status">;
  private readonly stepsStarted: Counter<"action">;
  private readonly stepsFinished: Counter<"action" | "outcome">;
  private readonly attemptsDeferred: Counter<"action" | "phase">;
  private readonly attemptDuration: Histogram<"action" | "phase" | "outcome">;
  private readonly retries: Counter<"action" | "phase">;
  private readonly compensations: Counter<"action" | "outcome">;
  private readonly streamsOpen: Gauge<"service" | "method">;
  private readonly rpcs: Counter<"service" | "method" | "code">;
  private readonly rpcDuration: Histogram<"service" | "method" | "code">;
  private readonly retentionDeletedTotal: Counter;

  constructor(options: MetricsOptions) {
    const registers = [this.registry];
    this.sagasCreated = new Counter({ name: "sagad_sagas_created_total", help: "Sagas created by this replica.", registers });
    this.sagasFinished = new Counter({
      name: "sagad_sagas_finished_total",
      help: "Sagas that came to rest (COMPLETED, FAILED, COMPENSATED, COMPENSATION_FAILED, CANCELLED), by status; a saga revived by an operator counts again when it rests again.",
      labelNames: ["status"],
      registers,
    });
    this.stepsStarted = new Counter({
      name: "sagad_steps_started_total",
      help: "Step attempts started (every retry counts, and so does an attempt an open circuit breaker then defers), by action.",
      labelNames: ["action"],
      registers,
    });
    this.stepsFinished = new Counter({
      name: "sagad_steps_finished_total",
      help: "Step outcomes, by action and outcome: completed, failed (for good), retry_scheduled, cancelled, skipped (by an operator).",
      labelNames: ["action", "outcome"],
      registers,
    });
    this.attemptsDeferred = new Counter({
      name: "sagad_attempts_deferred_total",
      help: "Attempts not made because the action's circuit breaker was open (they do not use up the step's attempts), by action and phase.",
      labelNames: ["action", "phase"],
      registers,
    });
    this.attemptDuration = new Histogram({
      name: "sagad_step_attempt_duration_seconds",
      help: "How long one attempt of an action or compensation ran on this replica, by action, phase (action or compensate) and outcome (succeeded, failed, timed_out, cancelled).",
      labelNames: ["action", "phase", "outcome"],
      buckets: ATTEMPT_BUCKETS,
      registers,
    });
    this.retries = new Counter({
      name: "sagad_retries_total",
      help: "Retries scheduled after a failed attempt, by action and phase (action or compensate).",
      labelNames: ["action", "phase"],
      registers,
    });
    this.compensations = new Counter({
      name: "sagad_compensations_total",
      help: "Compensation attempts started (deferred ones too) and compensations completed or failed for good, by compensating action and outcome.",
      labelNames: ["action", "outcome"],
      registers,
    });
    new Gauge({
      name: "sagad_circuit_state",
      help: "State of each circuit breaker on this replica: 0 closed, 1 half-open (probing), 2 open.",
      labelNames: ["circuit", "action"],
      registers,
      collect() {
        this.reset();
        for (const c of options.circuits()) this.set({ circuit: c.key, action: c.action }, CIRCUIT_STATE_VALUES[c.state]);
      },
    });
    new Gauge({
      name: "sagad_leases_held",
      help: "Sagas this replica holds the lease of and drives right now.",
      registers,
      collect() {
        this.set(options.leasesHeld());
      },
    });
    this.streamsOpen = new Gauge({
      name: "sagad_streams_open",
      help: "Server streams open now, by service and method (WatchSaga streams are method=\"WatchSaga\").",
      labelNames: ["service", "method"],
      registers,
    });
    this.rpcs = new Counter({
      name: "sagad_rpcs_total",
      help: "RPCs finished, by service, method and code (ok, or the Connect code name such as not_found); streams count when they end.",
      labelNames: ["service", "method", "code"],
      registers,
    });
    this.rpcDuration = new Histogram({
      name: "sagad_rpc_duration_seconds",
      help: "RPC latency from the first interceptor to the response (to the stream's end for streams), by service, method and code.",
      labelNames: ["service", "method", "code"],
      buckets: RPC_BUCKETS,
      registers,
    });
    this.retentionDeletedTotal = new Counter({
      name: "sagad_retention_deleted_sagas_total",
      help: "Sagas (with their steps and events) this replica deleted because they finished (COMPLETED, COMPENSATED, CANCELLED) longer ago than --retention-days.",
      registers,
    });
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  committed(saga: SagaState, events: readonly SagaEvent[]): void {
    for (const event of events) {
      if (event.type === "SAGA_CREATED") {
        this.sagasCreated.inc();
        continue;
      }
      if (event.type === "SAGA_STATUS_CHANGED") {
        if (RESTING_SAGA_STATUSES.has(event.sagaStatus)) this.sagasFinished.inc({ status: event.sagaStatus });
        continue;
      }
      const step = event.step === null ? undefined : saga.steps.find((s) => s.name === event.step);
      if (!step) continue;
      const action = step.action;
      const compensation = step.compensate?.action ?? action;
      const stepOutcome = STEP_OUTCOMES[event.type];
      const compensationOutcome = COMPENSATION_OUTCOMES[event.type];
      if (event.type === "STEP_STARTED") this.stepsStarted.inc({ action });
      else if (stepOutcome) this.stepsFinished.inc({ action, outcome: stepOutcome });
      else if (compensationOutcome) this.compensations.inc({ action: compensation, outcome: compensationOutcome });
      if (event.type === "STEP_RETRY_SCHEDULED") this.retries.inc({ action, phase: "action" });
      else if (event.type === "COMPENSATION_RETRY_SCHEDULED") this.retries.inc({ action: compensation, phase: "compensate" });
      else if (event.type === "STEP_DEFERRED") {
        // A deferred compensation leaves its step COMPENSATING; a deferred action, RETRY_SCHEDULED.
        const phase = event.stepStatus === "COMPENSATING" ? "compensate" : "action";
        this.attemptsDeferred.inc({ action: phase === "action" ? action : compensation, phase });
      }
    }
  }

  attemptFinished(action: string, phase: "action" | "compensate", outcome: AttemptOutcome, durationMs: number): void {
    // A deferred attempt never reached the action: it has no duration worth a bucket.
    if (outcome === "deferred") return;
    this.attemptDuration.observe({ action, phase, outcome }, durationMs / 1000);
  }

  /** Counts one finished RPC; `code` is "ok" or a Connect code name. */
  rpcFinished(service: string, method: string, code: string, durationMs: number): void {
    this.rpcs.inc({ service, method, code });
    this.rpcDuration.observe({ service, method, code }, durationMs / 1000);
  }

  /** Counts a server stream as open; call the returned function (once) when it ends. */
  streamOpened(service: string, method: string): () => void {
    this.streamsOpen.inc({ service, method });
    let closed = false;
    return () => {
      if (closed) return;
      closed = true;
      this.streamsOpen.dec({ service, method });
    };
  }

  /** Counts sagas this replica's retention sweep deleted (engine/retention-sweeper.ts reports each batch). */
  retentionDeleted(count: number): void {
    this.retentionDeletedTotal.inc(count);
  }

  /** The Prometheus text exposition of every metric, with its content type. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
