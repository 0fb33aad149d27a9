import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SagaStatus, StepStatus } from "../../src/client/index.js";
import { bearer, bufCurl } from "../helpers/buf-curl.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { waitForStatus } from "../helpers/wait.js";
import { FAST_WORKERS } from "./worker-harness.js";

/**
 * The worker protocol needs no SDK: one task, start to finish, driven by the real `buf curl` alone
 * (schema from server reflection, no --schema, no generated client on the worker side). Every
 * call is unary (PollTasks is the long-poll made for exactly this), so buf curl's default
 * protocol, Connect, carries it: here over h2c (`--http2-prior-knowledge`, as gRPC clients
 * connect), and the retried report over plain HTTP/1.1, buf curl's default for http:// URLs.
 */
describe("a worker made of buf curl calls", () => {
  let t: TestServer;
  let workerToken: string;
  beforeAll(async () => {
    // Each buf curl is a process that first fetches the schema (~0.2 s): at FAST_WORKERS' pace
    // (session TTL 0.6 s, ack timeout 0.4 s) a session with no heartbeats between calls would
    // expire. A curl worker gets human-scale timing; claims and sweeps stay fast.
    t = await startTestServer({ workers: { ...FAST_WORKERS, heartbeatIntervalMs: 5_000, ackTimeoutMs: 10_000 } });
    workerToken = (await t.issueToken(["workers"], "buf-curl-worker")).token;
  });
  afterAll(() => t?.close());

  /** One WorkerService call as the worker (Connect over h2c unless `http1`); stdout parsed as the JSON response. */
  async function call<T>(method: string, body: unknown, { http1 = false } = {}): Promise<T> {
    const transport = http1 ? [] : ["--http2-prior-knowledge"];
    const result = await bufCurl(...transport, ...bearer(workerToken), `${t.server.url}/saga.v1.WorkerService/${method}`, "-d", JSON.stringify(body));
    expect(result.code, `${method}: ${result.stderr}`).toBe(0);
    return JSON.parse(result.stdout) as T;
  }

  it("registers, polls, acks and completes a task; the saga completes with that output", async () => {
    const { saga } = await t.client().createSaga({
      name: "greet-by-curl",
      vars: { who: "curl" },
      steps: [{ name: "greet", action: "curl-greet", config: { name: "{{vars.who}}" } }],
    });
    const sagaId = saga!.id;

    const registered = await call<{ sessionId: string; heartbeatInterval: string; ackTimeout: string }>("RegisterWorker", {
      instanceId: "buf-curl-1",
      actions: [{ name: "curl-greet" }],
      slots: 1,
      sdk: "buf-curl",
    });
    expect(registered.sessionId).not.toBe("");
    // Durations in JSON are strings of seconds, as protojson writes them.
    expect(registered.heartbeatInterval).toBe("5s");
    expect(registered.ackTimeout).toBe("10s");

    const polled = await call<{ tasks: { token: string; sagaId: string; step: string; action: string; phase: string; config: unknown; attempt: number }[] }>(
      "PollTasks",
      { sessionId: registered.sessionId, maxTasks: 1, wait: "10s" },
    );
    expect(polled.tasks).toHaveLength(1);
    const task = polled.tasks[0]!;
    expect(task).toMatchObject({ sagaId, step: "greet", action: "curl-greet", phase: "TASK_PHASE_ACTION", config: { name: "curl" }, attempt: 1 });

    // An empty list is left out of protojson, so a clean ack is `{}`.
    const acked = await call<{ rejectedTokens?: string[] }>("AckTasks", { sessionId: registered.sessionId, tokens: [task.token] });
    expect(acked.rejectedTokens ?? []).toEqual([]);

    const output = { greeting: "hello curl", via: ["buf", "curl"], n: 1 };
    const completeBody = { token: task.token, output };
    expect(await call<{ alreadyRecorded?: boolean }>("CompleteTask", completeBody)).toEqual({});

    const done = await waitForStatus(t.client(), sagaId, SagaStatus.COMPLETED, 5_000);
    expect(done.steps[0]!.status).toBe(StepStatus.COMPLETED);
    expect(done.steps[0]!.output).toEqual(output);
    expect((await t.client().getSaga({ id: sagaId })).saga!.steps[0]!.output).toEqual(output);

    // The same report again (a retried call, over HTTP/1.1 this time) is recognised, and changes nothing.
    expect(await call<{ alreadyRecorded?: boolean }>("CompleteTask", completeBody, { http1: true })).toEqual({ alreadyRecorded: true });
    expect((await t.client().getSaga({ id: sagaId })).saga!.steps[0]!.output).toEqual(output);
  });

  it("a workers token may not read sagas: SagaService/GetSaga is permission_denied", async () => {
    const { saga } = await t.client().createSaga({ name: "not-yours", steps: [{ name: "a", action: "noop" }] });
    const result = await bufCurl(...bearer(workerToken), `${t.server.url}/saga.v1.SagaService/GetSaga`, "-d", JSON.stringify({ id: saga!.id }));
    // buf curl exits with the code shifted left by three: PERMISSION_DENIED (7) is 56.
    expect(result.code, result.stderr).toBe(7 << 3);
    expect(result.stderr).toContain('"code": "permission_denied"');
    expect(result.stdout).toBe("");
  });
});
