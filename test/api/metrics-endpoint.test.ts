import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ActionError, type Action } from "../../src/actions/action.js";
import { FailurePolicy, SagaStatus, type SagaClient } from "../../src/client/index.js";
import { parsePrometheusText, sampleValue, type Family } from "../helpers/prometheus-text.js";
import { collectWatch, expectCode, ms, ONE_ATTEMPT } from "../helpers/rpc.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { createTestActions } from "../helpers/test-actions.js";
import { waitForStatus, waitUntil } from "../helpers/wait.js";

/** Every family the README documents, with its Prometheus type. */
const FAMILIES: Record<string, string> = {
  sagad_sagas_created_total: "counter",
  sagad_sagas_finished_total: "counter",
  sagad_steps_started_total: "counter",
  sagad_steps_finished_total: "counter",
  sagad_attempts_deferred_total: "counter",
  sagad_step_attempt_duration_seconds: "histogram",
  sagad_retries_total: "counter",
  sagad_compensations_total: "counter",
  sagad_circuit_state: "gauge",
  sagad_leases_held: "gauge",
  sagad_streams_open: "gauge",
  sagad_rpcs_total: "counter",
  sagad_rpc_duration_seconds: "histogram",
};

async function get(url: string): Promise<{ status: number; contentType: string | null; body: string }> {
  const res = await fetch(url);
  return { status: res.status, contentType: res.headers.get("content-type"), body: await res.text() };
}

/**
 * Acceptance 2 of the issue: after a run of sagas (succeeding, retried, failing into
 * compensation, failing and holding, cancelled, watched) GET /metrics shows every metric with
 * non-zero values, parsed as Prometheus text, on the main port and on the separate metrics port.
 */
/** A target that is down: every call fails fast and may be retried, so its breaker opens. */
const down: Action = {
  name: "down",
  run() {
    throw new ActionError("connection refused", { kind: "UNAVAILABLE", retryable: true });
  },
};

describe("GET /metrics after a run of sagas", () => {
  const t = createTestActions();
  let srv: TestServer;
  let client: SagaClient;
  let families: Map<string, Family>;
  let onMetricsPort: Map<string, Family>;
  const watching = new AbortController();

  beforeAll(async () => {
    srv = await startTestServer({ actions: [...t.actions, down], metricsPort: 0, breaker: { failures: 2, openMs: 600_000 } });
    client = srv.client({ protocol: "grpc" });

    const ok = await client.createSaga({
      name: "metrics-ok",
      steps: [
        { name: "a", action: "record" },
        { name: "b", action: "record", dependsOn: ["a"] },
      ],
    });
    const watched = await collectWatch(client, { id: ok.saga!.id, afterSequence: 0n });
    expect(watched.length).toBeGreaterThan(1);
    const retried = await client.createSaga({
      name: "metrics-retried",
      steps: [{ name: "flaky", action: "flaky", config: { failTimes: 1 }, retryPolicy: { maxAttempts: 3, initialInterval: ms(10) } }],
    });
    const compensated = await client.createSaga({
      name: "metrics-compensated",
      failurePolicy: FailurePolicy.COMPENSATE,
      steps: [
        { name: "reserve", action: "record", compensate: { action: "slow", config: { ms: 5 } } },
        { name: "charge", action: "fail", dependsOn: ["reserve"], config: { retryable: false } },
      ],
    });
    const failed = await client.createSaga({ name: "metrics-failed", steps: [{ name: "boom", action: "fail", retryPolicy: ONE_ATTEMPT }] });
    // Two calls of "down" fail in a row: its breaker opens.
    for (const n of [1, 2]) {
      const outage = await client.createSaga({ name: `metrics-down-${n}`, steps: [{ name: "call", action: "down", retryPolicy: ONE_ATTEMPT }] });
      await waitForStatus(client, outage.saga!.id, SagaStatus.FAILED);
    }
    // The open breaker defers the next call of "down" (the step waits), until a cancel ends it.
    const deferred = await client.createSaga({ name: "metrics-deferred", steps: [{ name: "call", action: "down", retryPolicy: ONE_ATTEMPT }] });
    await waitUntil(async () => (await client.getSaga({ id: deferred.saga!.id })).saga!.steps[0]!.errorKind === "CIRCUIT_OPEN", "the call was deferred");
    await client.cancelSaga({ id: deferred.saga!.id });
    await waitForStatus(client, deferred.saga!.id, SagaStatus.CANCELLED);
    const cancelled = await client.createSaga({ name: "metrics-cancelled", steps: [{ name: "wait", action: "hang" }] });
    await waitUntil(() => t.callsOf("wait").length === 1, "the hanging step started");
    await client.cancelSaga({ id: cancelled.saga!.id });
    await waitForStatus(client, retried.saga!.id, SagaStatus.COMPLETED);
    await waitForStatus(client, compensated.saga!.id, SagaStatus.COMPENSATED);
    await waitForStatus(client, failed.saga!.id, SagaStatus.FAILED);
    await waitForStatus(client, cancelled.saga!.id, SagaStatus.CANCELLED);
    await expectCode(client.getSaga({ id: "00000000-0000-4000-8000-000000000000" }), Code.NotFound);

    // One saga stays held (a lease) and watched (an open stream) while we scrape.
    const held = await client.createSaga({ name: "metrics-held", steps: [{ name: "gate", action: "gate" }] });
    const stream = client.watchSaga({ id: held.saga!.id, follow: true }, { signal: watching.signal });
    const draining = (async () => {
      for await (const _ of stream);
    })().catch(() => undefined);
    await waitUntil(() => t.callsOf("gate").length === 1, "the gated step started");
    await waitUntil(async () => (await srv.server.metrics.render()).body.includes('method="WatchSaga"} 1'), "the watch stream is counted");

    const main = await get(`${srv.server.url}/metrics`);
    expect(main.status).toBe(200);
    expect(main.contentType).toContain("text/plain; version=0.0.4");
    families = parsePrometheusText(main.body);
    const side = await get(`http://127.0.0.1:${srv.server.metricsPort}/metrics`);
    expect(side.status).toBe(200);
    onMetricsPort = parsePrometheusText(side.body);

    t.release(held.saga!.id, "gate");
    await waitForStatus(client, held.saga!.id, SagaStatus.COMPLETED);
    watching.abort();
    await draining;
  });
  afterAll(async () => {
    watching.abort();
    await srv?.close();
  });

  it("declares every family with help text and its type", () => {
    for (const [name, type] of Object.entries(FAMILIES)) {
      const family = families.get(name);
      expect(family, name).toBeDefined();
      expect(family!.type, name).toBe(type);
      expect(family!.help.length, `help of ${name}`).toBeGreaterThan(20);
    }
    // Process metrics come along, for CPU, memory and event-loop lag.
    expect(families.get("process_resident_memory_bytes")?.type).toBe("gauge");
  });

  it("counts sagas created and finished by status", () => {
    expect(sampleValue(families, "sagad_sagas_created_total")).toBe(9);
    const finished = (status: string) => sampleValue(families, "sagad_sagas_finished_total", { status });
    expect([finished("COMPLETED"), finished("COMPENSATED"), finished("FAILED"), finished("CANCELLED")]).toEqual([2, 1, 3, 2]);
  });

  it("counts steps started and finished by action and outcome, and retries", () => {
    const started = (action: string) => sampleValue(families, "sagad_steps_started_total", { action });
    const finished = (action: string, outcome: string) => sampleValue(families, "sagad_steps_finished_total", { action, outcome });
    expect([started("record"), started("flaky"), started("fail"), started("down"), started("hang"), started("gate")]).toEqual([3, 2, 2, 3, 1, 1]);
    expect(finished("record", "completed")).toBe(3);
    expect(finished("flaky", "retry_scheduled")).toBe(1);
    expect(finished("flaky", "completed")).toBe(1);
    expect(finished("fail", "failed")).toBe(2);
    expect(finished("hang", "cancelled")).toBe(1);
    expect(finished("down", "failed")).toBe(2);
    expect(finished("down", "cancelled")).toBe(1);
    expect(sampleValue(families, "sagad_retries_total", { action: "flaky", phase: "action" })).toBe(1);
    // The deferred attempt counts as started (its STEP_STARTED was committed) and as deferred.
    expect(sampleValue(families, "sagad_attempts_deferred_total", { action: "down", phase: "action" })).toBe(1);
  });

  it("times attempts by action and outcome", () => {
    const count = (labels: Record<string, string>) =>
      sampleValue(families, "sagad_step_attempt_duration_seconds", labels, "sagad_step_attempt_duration_seconds_count");
    expect(count({ action: "flaky", phase: "action", outcome: "failed" })).toBe(1);
    expect(count({ action: "flaky", phase: "action", outcome: "succeeded" })).toBe(1);
    expect(count({ action: "record", phase: "action", outcome: "succeeded" })).toBe(3);
    expect(count({ action: "slow", phase: "compensate", outcome: "succeeded" })).toBe(1);
    expect(count({ action: "hang", phase: "action", outcome: "cancelled" })).toBe(1);
    const slowSum = sampleValue(families, "sagad_step_attempt_duration_seconds", { action: "slow" }, "sagad_step_attempt_duration_seconds_sum")!;
    expect(slowSum).toBeGreaterThanOrEqual(0.004);
  });

  it("counts compensations by the compensating action and outcome", () => {
    expect(sampleValue(families, "sagad_compensations_total", { action: "slow", outcome: "started" })).toBe(1);
    expect(sampleValue(families, "sagad_compensations_total", { action: "slow", outcome: "completed" })).toBe(1);
  });

  it("shows the lease held, the watch stream open, and each breaker's state (2: open)", () => {
    expect(sampleValue(families, "sagad_leases_held")).toBe(1);
    expect(sampleValue(families, "sagad_streams_open", { service: "saga.v1.SagaService", method: "WatchSaga" })).toBe(1);
    expect(sampleValue(families, "sagad_circuit_state", { circuit: "down", action: "down" })).toBe(2);
    expect(sampleValue(families, "sagad_circuit_state", { circuit: "record", action: "record" })).toBe(0);
  });

  it("counts RPCs and their latency by method and code", () => {
    const rpcs = (method: string, code: string) => sampleValue(families, "sagad_rpcs_total", { service: "saga.v1.SagaService", method, code });
    expect(rpcs("CreateSaga", "ok")).toBe(9);
    expect(rpcs("CancelSaga", "ok")).toBe(2);
    expect(rpcs("GetSaga", "not_found")).toBe(1);
    expect(rpcs("GetSaga", "ok")).toBeGreaterThanOrEqual(4);
    expect(rpcs("WatchSaga", "ok")).toBe(1); // the finished one; the open one counts when it ends
    const latency = sampleValue(families, "sagad_rpc_duration_seconds", { method: "CreateSaga", code: "ok" }, "sagad_rpc_duration_seconds_count");
    expect(latency).toBe(9);
    const sum = sampleValue(families, "sagad_rpc_duration_seconds", { method: "CreateSaga", code: "ok" }, "sagad_rpc_duration_seconds_sum")!;
    expect(sum).toBeGreaterThan(0);
  });

  it("closes the stream's gauge and counts it canceled once its client went away", async () => {
    const scrape = async () => parsePrometheusText((await get(`${srv.server.url}/metrics`)).body);
    const labels = { service: "saga.v1.SagaService", method: "WatchSaga" };
    await waitUntil(async () => sampleValue(await scrape(), "sagad_streams_open", labels) === 0, "the watch stream to close");
    expect(sampleValue(await scrape(), "sagad_rpcs_total", { ...labels, code: "canceled" })).toBe(1);
  });

  it("serves the same metrics on the separate metrics port", () => {
    expect([...onMetricsPort.keys()].sort()).toEqual([...families.keys()].sort());
    expect(sampleValue(onMetricsPort, "sagad_sagas_created_total")).toBe(9);
  });
});

describe("the metrics port", () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer({ metricsPort: 0 });
  });
  afterAll(() => srv?.close());

  it("serves only /metrics: no probes, no RPCs", async () => {
    const base = `http://127.0.0.1:${srv.server.metricsPort}`;
    expect(srv.server.metricsPort).not.toBe(srv.server.port);
    expect((await get(`${base}/metrics`)).status).toBe(200);
    expect((await get(`${base}/readyz`)).status).toBe(404);
    const rpc = await fetch(`${base}/saga.v1.SagaService/ListSagas`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(rpc.status).toBe(404);
  });

  it("answers other methods than GET and HEAD with 405 on the main port too", async () => {
    const res = await fetch(`${srv.server.url}/metrics`, { method: "POST", body: "x" });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET, HEAD");
    const head = await fetch(`${srv.server.url}/metrics`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe("");
  });

  it("is not opened unless asked for", async () => {
    const plain = await startTestServer();
    try {
      expect(plain.server.metricsPort).toBeUndefined();
      expect((await get(`${plain.server.url}/metrics`)).status).toBe(200);
    } finally {
      await plain.close();
    }
  });
});
