import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SagaStatus } from "../../src/client/index.js";
import { parsePrometheusText, sampleValue } from "../helpers/prometheus-text.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { FAST_WORKERS, RawWorker } from "./worker-harness.js";

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({ workers: FAST_WORKERS });
});
afterAll(async () => {
  await t?.close();
});

async function scrape() {
  const res = await fetch(`${t.server.url}/metrics`);
  const families = parsePrometheusText(await res.text());
  return {
    value: (name: string, labels: Record<string, string> = {}) => {
      const family = name.replace(/_count$/, "");
      return sampleValue(families, family, labels, name);
    },
  };
}

describe("worker metrics", () => {
  it("count offers, acks, results and requeues by action, and show the queue and connected workers", async () => {
    const { saga } = await t.client().createSaga({ name: "m", steps: [{ name: "a", action: "metered" }, { name: "b", action: "metered", dependsOn: ["a"] }] });
    const queued = await scrape();
    expect(queued.value("sagad_worker_queue_depth", { action: "metered" })).toBe(1);
    const w = new RawWorker(t.workers(), "w-metrics", ["metered"]);
    await w.register();
    w.subscribe();
    const first = await w.nextTask(1);
    const late = await w.nextTask(2); // not acked in time: re-offered
    await w.ack(late);
    await w.complete(late, {});
    const b = await w.nextTask(3);
    await w.ack(b);
    await t.workers().failTask({ token: b.token, errorKind: "NOPE", retryable: false });
    const deadline = Date.now() + 5_000;
    while ((await t.client().getSaga({ id: saga!.id })).saga!.status !== SagaStatus.FAILED && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const m = await scrape();
    expect(first.delivery).toBe(1);
    expect(m.value("sagad_worker_tasks_offered_total", { action: "metered" })).toBe(3);
    expect(m.value("sagad_worker_tasks_acked_total", { action: "metered" })).toBe(2);
    expect(m.value("sagad_worker_task_results_total", { action: "metered", outcome: "completed" })).toBe(1);
    expect(m.value("sagad_worker_task_results_total", { action: "metered", outcome: "failed" })).toBe(1);
    expect(m.value("sagad_worker_tasks_requeued_total", { action: "metered", reason: "ack_timeout" })).toBe(1);
    expect(m.value("sagad_worker_schedule_to_start_seconds_count", { action: "metered" })).toBe(3);
    expect(m.value("sagad_workers_connected")).toBe(1);
    expect(m.value("sagad_worker_queue_depth", { action: "metered" })).toBeUndefined();
    await w.close();
  });
});
