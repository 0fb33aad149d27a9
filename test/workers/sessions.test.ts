import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventType, SagaStatus, TaskState } from "../../src/client/index.js";
import { eventsOfType } from "../helpers/saga-history.js";
import { errorInfo, expectCode, ms } from "../helpers/rpc.js";
import { captureLogs } from "../helpers/log-capture.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { FAST_WORKERS, RawWorker } from "./worker-harness.js";

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({ workers: FAST_WORKERS });
});
afterAll(async () => {
  await t?.close();
});

describe("sessions", () => {
  it("RegisterWorker names every bad field at once and opens nothing", async () => {
    const err = await expectCode(
      t.workers().registerWorker({ instanceId: "", slots: 0, actions: [{ name: "ok" }, { name: "ok" }, { name: "bad name!", maxConcurrency: -1 }], labels: { "bad key!": "v" } }),
      Code.InvalidArgument,
    );
    expect(err.rawMessage).toMatch(/^instance_id: required/);
    expect(err.rawMessage).toMatch(/\(and 5 more\)/);
    expect((await t.workers().listWorkers({})).workers).toEqual([]);
    const none = await expectCode(t.workers().registerWorker({ instanceId: "w", slots: 1, actions: [] }), Code.InvalidArgument);
    expect(none.rawMessage).toBe("actions: at least one action is required");
  });

  it("registering again with the same instance resumes the live session; an expired one is replaced", async () => {
    const w = t.workers();
    const first = await w.registerWorker({ instanceId: "w-resume", slots: 2, actions: [{ name: "resumable-x" }] });
    expect(first.heartbeatInterval).toMatchObject(ms(300));
    expect(first.sessionTtl).toMatchObject(ms(900));
    const again = await w.registerWorker({ instanceId: "w-resume", slots: 5, actions: [{ name: "resumable-x" }, { name: "resumable-y" }] });
    expect(again.sessionId).toBe(first.sessionId);
    const listed = (await w.listWorkers({ action: "resumable-y" })).workers;
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ instanceId: "w-resume", slots: 5 });
    await new Promise((r) => setTimeout(r, 1_200)); // no heartbeat: the session expires
    const gone = await expectCode(w.heartbeat({ sessionId: first.sessionId }), Code.NotFound);
    expect(gone.rawMessage).toMatch(/not found or expired; call RegisterWorker again/);
    expect(errorInfo(gone)?.metadata.session_id).toBe(first.sessionId);
    const fresh = await w.registerWorker({ instanceId: "w-resume", slots: 2, actions: [{ name: "resumable-x" }] });
    expect(fresh.sessionId).not.toBe(first.sessionId);
  });

  it("PollTasks long-polls for a task, which is then acknowledged and reported like any other", async () => {
    const w = t.workers();
    const { sessionId } = await w.registerWorker({ instanceId: "w-poller", slots: 3, actions: [{ name: "polled" }] });
    const started = Date.now();
    const empty = await w.pollTasks({ sessionId, wait: ms(150) });
    expect(empty.tasks).toEqual([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    const polling = w.pollTasks({ sessionId, maxTasks: 2, wait: ms(5_000) });
    await new Promise((r) => setTimeout(r, 50));
    const { saga } = await t.client().createSaga({ name: "polled", steps: [{ name: "p", action: "polled", config: { n: 1 } }] });
    const { tasks } = await polling;
    expect(tasks.map((x) => [x.sagaId, x.step, x.config])).toEqual([[saga!.id, "p", { n: 1 }]]);
    expect((await w.ackTasks({ sessionId, tokens: [tasks[0]!.token] })).rejectedTokens).toEqual([]);
    await w.completeTask({ token: tasks[0]!.token });
    const deadline = Date.now() + 5_000;
    while ((await t.client().getSaga({ id: saga!.id })).saga!.status !== SagaStatus.COMPLETED) {
      if (Date.now() > deadline) throw new Error("not completed");
      await new Promise((r) => setTimeout(r, 20));
    }
    const bad = await expectCode(w.pollTasks({ sessionId, maxTasks: 101 }), Code.InvalidArgument);
    expect(bad.rawMessage).toMatch(/^max_tasks: must be between 1 and 100/);
  });

  it("CreateSaga warns about worker actions nobody serves; the snapshot and history show the queue", async () => {
    const created = await t.client().createSaga({ name: "warned", steps: [{ name: "a", action: "nobody-home", compensate: { action: "noop" } }] });
    expect(created.warnings).toEqual([
      'steps[0].action: no worker serves "nobody-home" right now; the step waits for one (retry_policy.schedule_to_start_timeout bounds the wait)',
    ]);
    const stream = t.client().watchSaga({ id: created.saga!.id, follow: true }, { signal: AbortSignal.timeout(2_000) });
    const seen = [];
    for await (const m of stream) {
      if (m.kind.case === "snapshot") {
        expect(m.kind.value.steps[0]!.taskState).toBe(TaskState.QUEUED);
        seen.push("snapshot");
        break;
      }
    }
    expect(seen).toEqual(["snapshot"]);
    const history = [];
    try {
      for await (const m of t.client().watchSaga({ id: created.saga!.id, afterSequence: 0n, follow: true }, { signal: AbortSignal.timeout(300) })) {
        if (m.kind.case === "event") history.push(m.kind.value);
      }
    } catch {
      // the timeout ends the open stream
    }
    expect(eventsOfType(history, EventType.STEP_STARTED)[0]!.message).toBe("step a attempt 1 started; queued for a worker serving nobody-home");
    const served = new RawWorker(t.workers(), "w-serves", ["served-action"]);
    await served.register();
    await new Promise((r) => setTimeout(r, 1_100)); // the served set is read at most once a second
    const quiet = await t.client().createSaga({ name: "served", steps: [{ name: "a", action: "served-action" }] });
    expect(quiet.warnings).toEqual([]);
    await served.close();
  });
});

describe("session log lines", () => {
  it("one line when a session starts, one when it ends: drained, or heartbeats stopped", async () => {
    const { logger, lines } = captureLogs("info");
    const logged = await startTestServer({ workers: FAST_WORKERS, logger });
    try {
      const drained = new RawWorker(logged.workers(), "w-log-drained", ["log-a"]);
      await drained.register();
      drained.subscribe();
      await logged.workers().drain({ sessionId: drained.sessionId });
      await drained.close();
      const silent = new RawWorker(logged.workers(), "w-log-silent", ["log-a"]);
      await silent.register();
      silent.stopHeartbeats();
      const deadline = Date.now() + 5_000;
      while (lines.filter((l) => l.msg === "worker session ended").length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const about = (who: string) =>
        lines.filter((l) => l.instance_id === who && l.msg.startsWith("worker session ")).map((l) => `${l.msg}${l.why ? ` (${String(l.why)})` : ""}`);
      expect(about("w-log-drained")).toEqual(["worker session started", "worker session draining", "worker session ended (drained)"]);
      expect(about("w-log-silent")).toEqual(["worker session started", "worker session ended (heartbeats stopped)"]);
      // Heartbeats that succeed are not logged at info; a refused one is, and registering always is.
      const rpcs = lines.filter((l) => l.msg === "rpc").map((l) => `${String(l.method)} ${String(l.code)}`);
      expect(rpcs).toContain("RegisterWorker ok");
      expect(rpcs).toContain("Drain ok");
      expect(rpcs.filter((r) => r === "Heartbeat ok")).toEqual([]);
      await expect(logged.workers().heartbeat({ sessionId: silent.sessionId })).rejects.toThrow(/not found or expired/);
      expect(lines.filter((l) => l.msg === "rpc").map((l) => `${String(l.method)} ${String(l.code)}`)).toContain("Heartbeat not_found");
      await silent.close();
    } finally {
      await logged.close();
    }
  });
});
