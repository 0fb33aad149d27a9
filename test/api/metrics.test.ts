import { describe, expect, it } from "vitest";
import { Metrics, type CircuitSample } from "../../src/api/metrics.js";
import type { EventType, SagaEvent, SagaStatus, StepStatus } from "../../src/domain/types.js";
import { pendingSaga } from "../domain/saga-fixtures.js";
import { parsePrometheusText, sampleValue } from "../helpers/prometheus-text.js";

/** Steps run "noop" and compensate with "undo" (saga-fixtures). */
const saga = pendingSaga([{ name: "reserve", compensate: true }, { name: "charge", dependsOn: ["reserve"] }]);

let sequence = 0;
function event(type: EventType, step: string | null, o: { sagaStatus?: SagaStatus; stepStatus?: StepStatus } = {}): SagaEvent {
  return {
    sequence: ++sequence,
    type,
    at: 0,
    sagaStatus: o.sagaStatus ?? "RUNNING",
    step,
    stepStatus: o.stepStatus ?? null,
    attempt: step === null ? null : 1,
    error: null,
    errorKind: null,
    output: null,
    nextAttemptAt: null,
    actor: "engine",
    tokenName: null,
    reason: null,
    message: "",
  };
}

async function scrape(metrics: Metrics) {
  return parsePrometheusText((await metrics.render()).body);
}

describe("Metrics", () => {
  it("counts committed events by action, outcome and status, with the compensating action for compensations", async () => {
    const metrics = new Metrics({ leasesHeld: () => 0, circuits: () => [], processMetrics: false });
    metrics.committed(saga, [event("SAGA_CREATED", null, { sagaStatus: "PENDING" }), event("SAGA_STATUS_CHANGED", null), event("STEP_STARTED", "reserve")]);
    metrics.committed(saga, [event("STEP_RETRY_SCHEDULED", "reserve"), event("STEP_STARTED", "reserve"), event("STEP_COMPLETED", "reserve")]);
    metrics.committed(saga, [event("STEP_STARTED", "charge"), event("STEP_FAILED", "charge")]);
    metrics.committed(saga, [
      event("SAGA_STATUS_CHANGED", null, { sagaStatus: "COMPENSATING" }),
      event("COMPENSATION_STARTED", "reserve"),
      event("COMPENSATION_RETRY_SCHEDULED", "reserve"),
      event("STEP_DEFERRED", "reserve", { stepStatus: "COMPENSATING" }),
      event("STEP_DEFERRED", "charge", { stepStatus: "RETRY_SCHEDULED" }),
      event("COMPENSATION_STARTED", "reserve"),
      event("COMPENSATION_COMPLETED", "reserve"),
      event("SAGA_STATUS_CHANGED", null, { sagaStatus: "COMPENSATED" }),
    ]);
    // An event naming a step the saga does not have (a stale state) is not counted, nor does it throw.
    metrics.committed(saga, [event("STEP_STARTED", "ghost")]);

    const families = await scrape(metrics);
    expect(sampleValue(families, "sagad_sagas_created_total")).toBe(1);
    // RUNNING and COMPENSATING are not resting: only COMPENSATED is a finish.
    expect(families.get("sagad_sagas_finished_total")!.samples).toEqual([
      { name: "sagad_sagas_finished_total", labels: { status: "COMPENSATED" }, value: 1 },
    ]);
    expect(sampleValue(families, "sagad_steps_started_total", { action: "noop" })).toBe(3);
    expect(sampleValue(families, "sagad_steps_finished_total", { action: "noop", outcome: "retry_scheduled" })).toBe(1);
    expect(sampleValue(families, "sagad_steps_finished_total", { action: "noop", outcome: "completed" })).toBe(1);
    expect(sampleValue(families, "sagad_steps_finished_total", { action: "noop", outcome: "failed" })).toBe(1);
    expect(sampleValue(families, "sagad_retries_total", { action: "noop", phase: "action" })).toBe(1);
    expect(sampleValue(families, "sagad_retries_total", { action: "undo", phase: "compensate" })).toBe(1);
    expect(sampleValue(families, "sagad_compensations_total", { action: "undo", outcome: "started" })).toBe(2);
    expect(sampleValue(families, "sagad_compensations_total", { action: "undo", outcome: "completed" })).toBe(1);
    expect(sampleValue(families, "sagad_attempts_deferred_total", { action: "undo", phase: "compensate" })).toBe(1);
    expect(sampleValue(families, "sagad_attempts_deferred_total", { action: "noop", phase: "action" })).toBe(1);
  });

  it("observes attempt durations in seconds, but not deferred attempts that never ran", async () => {
    const metrics = new Metrics({ leasesHeld: () => 0, circuits: () => [], processMetrics: false });
    metrics.attemptFinished("http", "action", "succeeded", 30);
    metrics.attemptFinished("http", "action", "succeeded", 700);
    metrics.attemptFinished("http", "compensate", "timed_out", 5_000);
    metrics.attemptFinished("http", "action", "deferred", 0);

    const families = await scrape(metrics);
    const count = (labels: Record<string, string>) => sampleValue(families, "sagad_step_attempt_duration_seconds", labels, "sagad_step_attempt_duration_seconds_count");
    expect(count({ action: "http", phase: "action", outcome: "succeeded" })).toBe(2);
    expect(count({ action: "http", phase: "compensate", outcome: "timed_out" })).toBe(1);
    expect(count({ outcome: "deferred" })).toBeUndefined();
    expect(sampleValue(families, "sagad_step_attempt_duration_seconds", { outcome: "succeeded" }, "sagad_step_attempt_duration_seconds_sum")).toBeCloseTo(0.73);
    const bucket = (le: string) =>
      sampleValue(families, "sagad_step_attempt_duration_seconds", { outcome: "succeeded", le }, "sagad_step_attempt_duration_seconds_bucket");
    expect([bucket("0.025"), bucket("0.05"), bucket("0.5"), bucket("1")]).toEqual([0, 1, 1, 2]);
  });

  it("reads leases and circuit breakers at scrape time, with a 0/1/2 state gauge and no stale circuits", async () => {
    let leases = 3;
    let circuits: CircuitSample[] = [
      { key: "noop", action: "noop", state: "CLOSED" },
      { key: "http payments.example", action: "http", state: "OPEN" },
      { key: "http stock.example", action: "http", state: "HALF_OPEN" },
    ];
    const metrics = new Metrics({ leasesHeld: () => leases, circuits: () => circuits, processMetrics: false });

    let families = await scrape(metrics);
    expect(sampleValue(families, "sagad_leases_held")).toBe(3);
    expect(sampleValue(families, "sagad_circuit_state", { circuit: "noop", action: "noop" })).toBe(0);
    expect(sampleValue(families, "sagad_circuit_state", { circuit: "http stock.example", action: "http" })).toBe(1);
    expect(sampleValue(families, "sagad_circuit_state", { circuit: "http payments.example", action: "http" })).toBe(2);

    leases = 0;
    circuits = [{ key: "noop", action: "noop", state: "OPEN" }];
    families = await scrape(metrics);
    expect(sampleValue(families, "sagad_leases_held")).toBe(0);
    expect(families.get("sagad_circuit_state")!.samples).toEqual([
      { name: "sagad_circuit_state", labels: { circuit: "noop", action: "noop" }, value: 2 },
    ]);
  });

  it("counts RPCs by service, method and code, and open streams until each closes once", async () => {
    const metrics = new Metrics({ leasesHeld: () => 0, circuits: () => [], processMetrics: false });
    metrics.rpcFinished("saga.v1.SagaService", "GetSaga", "ok", 2);
    metrics.rpcFinished("saga.v1.SagaService", "GetSaga", "not_found", 1);
    metrics.rpcFinished("saga.v1.SagaService", "GetSaga", "ok", 4);
    const close1 = metrics.streamOpened("saga.v1.SagaService", "WatchSaga");
    const close2 = metrics.streamOpened("saga.v1.SagaService", "WatchSaga");
    close1();
    close1(); // a second call must not count the stream twice

    const families = await scrape(metrics);
    expect(sampleValue(families, "sagad_rpcs_total", { method: "GetSaga", code: "ok" })).toBe(2);
    expect(sampleValue(families, "sagad_rpcs_total", { method: "GetSaga", code: "not_found" })).toBe(1);
    expect(sampleValue(families, "sagad_rpc_duration_seconds", { method: "GetSaga", code: "ok" }, "sagad_rpc_duration_seconds_sum")).toBeCloseTo(0.006);
    expect(sampleValue(families, "sagad_streams_open", { method: "WatchSaga" })).toBe(1);
    close2();
    expect(sampleValue(await scrape(metrics), "sagad_streams_open", { method: "WatchSaga" })).toBe(0);
  });

  it("keeps every instance's metrics apart, with process metrics unless turned off", async () => {
    const a = new Metrics({ leasesHeld: () => 1, circuits: () => [] });
    const b = new Metrics({ leasesHeld: () => 2, circuits: () => [], processMetrics: false });
    a.rpcFinished("s", "m", "ok", 1);
    const fa = await scrape(a);
    const fb = await scrape(b);
    expect(sampleValue(fa, "sagad_rpcs_total", { method: "m" })).toBe(1);
    expect(sampleValue(fb, "sagad_rpcs_total", { method: "m" })).toBeUndefined();
    expect([sampleValue(fa, "sagad_leases_held"), sampleValue(fb, "sagad_leases_held")]).toEqual([1, 2]);
    expect(fa.has("process_cpu_user_seconds_total")).toBe(true);
    expect(fb.has("process_cpu_user_seconds_total")).toBe(false);
  });
});
