import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WorkerClient } from "../../src/client/index.js";
import { runSagadCli, sagadCliFor, tableRows, type SagadCli } from "../helpers/cli.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

const HEADER = ["INSTANCE", "ACTIONS", "SLOTS", "REPLICA", "LAST HEARTBEAT", "STATE", "LABELS"];

/**
 * `sagad worker list` of the real CLI against one server with two worker sessions made over the
 * raw WorkerService client: one idle and ready, one holding a task and draining.
 */
describe("sagad worker list (CLI)", { timeout: 90_000 }, () => {
  let srv: TestServer;
  let workers: WorkerClient;
  let cli: SagadCli;
  let replicaId: string;
  let sagaId: string;
  let keepAlive: NodeJS.Timeout | undefined;
  const sessions: { sessionId: string; tokens: string[] }[] = [];

  beforeAll(async () => {
    // A session lives 3 × the heartbeat interval; the timer below heartbeats well inside that,
    // so neither session expires however slowly the CLI processes start.
    srv = await startTestServer({ workers: { heartbeatIntervalMs: 5_000 } });
    workers = srv.workers();
    cli = sagadCliFor(srv.server.url, srv.adminToken);

    const idle = await workers.registerWorker({
      instanceId: "cli-w-payments",
      actions: [{ name: "cli-charge-card", maxConcurrency: 2 }, { name: "cli-refund-card", maxConcurrency: 0 }],
      slots: 4,
      labels: { version: "1.2.0", region: "eu-west" },
      sdk: "test/0",
    });
    const busy = await workers.registerWorker({ instanceId: "cli-w-shipping", actions: [{ name: "cli-ship-parcel" }], slots: 1 });
    replicaId = busy.replicaId;

    // The shipping worker polls (which puts it on this replica), takes a task and drains.
    sagaId = (await srv.client().createSaga({ name: "cli-worker-list", steps: [{ name: "ship", action: "cli-ship-parcel" }] })).saga!.id;
    const { tasks } = await workers.pollTasks({ sessionId: busy.sessionId, maxTasks: 1, wait: { seconds: 10n } });
    expect(tasks).toHaveLength(1);
    expect((await workers.ackTasks({ sessionId: busy.sessionId, tokens: [tasks[0]!.token] })).rejectedTokens).toEqual([]);
    await workers.drain({ sessionId: busy.sessionId });

    sessions.push({ sessionId: idle.sessionId, tokens: [] }, { sessionId: busy.sessionId, tokens: [tasks[0]!.token] });
    keepAlive = setInterval(() => {
      for (const s of sessions) {
        workers.heartbeat({ sessionId: s.sessionId, tasks: s.tokens.map((token) => ({ token })) }).catch(() => {});
      }
    }, 2_000);
  });

  afterAll(async () => {
    clearInterval(keepAlive);
    if (srv !== undefined && sagaId !== undefined) {
      await srv.client().cancelSaga({ id: sagaId, reason: "test over" }).catch(() => {});
    }
    await srv?.close();
  });

  it("prints one row per worker: actions with their caps, used/total slots, replica, heartbeat age, state, labels", async () => {
    const result = await cli("worker", "list");

    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toBe("");
    const { header, rows } = tableRows(result.stdout);
    expect(header).toEqual(HEADER);
    expect(rows).toEqual([
      ["cli-w-payments", "cli-charge-card(max 2),cli-refund-card", "0/4", replicaId, expect.stringMatching(/^\d+(\.\d)?(ms|s) ago$/), "ready", "region=eu-west,version=1.2.0"],
      ["cli-w-shipping", "cli-ship-parcel", "1/1", replicaId, expect.stringMatching(/^\d+(\.\d)?(ms|s) ago$/), "draining", "-"],
    ]);
  });

  it("--action shows only the workers serving that action", async () => {
    const [charge, ship] = await Promise.all([cli("worker", "list", "--action", "cli-charge-card"), cli("worker", "list", "--action=cli-ship-parcel")]);

    expect(charge.code, charge.stderr).toBe(0);
    expect(tableRows(charge.stdout).rows.map((r) => r[0])).toEqual(["cli-w-payments"]);
    expect(ship.code, ship.stderr).toBe(0);
    expect(tableRows(ship.stdout).rows.map((r) => r[0])).toEqual(["cli-w-shipping"]);
  });

  it("-o json prints the workers as a JSON array (as saga list does); -o jsonl one worker per line", async () => {
    const [json, jsonl] = await Promise.all([cli("worker", "list", "-o", "json"), cli("-o", "jsonl", "worker", "list")]);

    expect(json.code, json.stderr).toBe(0);
    const response = { workers: JSON.parse(json.stdout) as Record<string, unknown>[] };
    expect(response.workers).toHaveLength(2);
    expect(response.workers[0]).toMatchObject({
      sessionId: sessions[0]!.sessionId,
      instanceId: "cli-w-payments",
      actions: [{ name: "cli-charge-card", maxConcurrency: 2 }, { name: "cli-refund-card" }],
      slots: 4,
      labels: { region: "eu-west", version: "1.2.0" },
      sdk: "test/0",
      connectTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/),
      lastHeartbeatTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/),
    });
    expect(response.workers[1]).toMatchObject({ instanceId: "cli-w-shipping", slots: 1, inFlight: 1, replicaId, draining: true });

    expect(jsonl.code, jsonl.stderr).toBe(0);
    const lines = jsonl.stdout.trimEnd().split("\n").map((line) => JSON.parse(line) as { instanceId: string });
    expect(lines.map((w) => w.instanceId)).toEqual(["cli-w-payments", "cli-w-shipping"]);
  });

  it("an empty list prints nothing on stdout, a note on stderr, and exits 0", async () => {
    const [table, json, jsonl] = await Promise.all([
      cli("worker", "list", "--action", "cli-nobody-serves-this"),
      cli("worker", "list", "--action", "cli-nobody-serves-this", "-o", "json"),
      cli("worker", "list", "--action", "cli-nobody-serves-this", "-o", "jsonl"),
    ]);

    for (const result of [table, json, jsonl]) {
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toBe('sagad: no workers connected serving "cli-nobody-serves-this"\n');
    }
    expect(table.stdout).toBe("");
    expect(JSON.parse(json.stdout)).toEqual([]);
    expect(jsonl.stdout).toBe("");
  });

  it("needs sagas:read: a workers-only token is PERMISSION_DENIED (exit 4), a sagas:read one lists", async () => {
    const [workersOnly, reader] = await Promise.all([srv.issueToken(["workers"]), srv.issueToken(["sagas:read"])]);
    const [denied, allowed] = await Promise.all([
      sagadCliFor(srv.server.url, workersOnly.token)("worker", "list"),
      sagadCliFor(srv.server.url, reader.token)("worker", "list", "-o", "jsonl"),
    ]);

    expect(denied.code).toBe(4);
    expect(denied.stdout).toBe("");
    expect(denied.stderr).toMatch(/^sagad: PERMISSION_DENIED: /);
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(allowed.stdout.trimEnd().split("\n")).toHaveLength(2);
  });

  it("without a token it is UNAUTHENTICATED (exit 5); an unknown flag is a usage error (exit 2)", async () => {
    const [noToken, badFlag] = await Promise.all([
      runSagadCli(["worker", "list"], { env: { SAGAD_URL: srv.server.url }, unsetEnv: ["SAGAD_TOKEN"] }),
      cli("worker", "list", "--bogus"),
    ]);

    expect(noToken.code).toBe(5);
    expect(noToken.stderr).toMatch(/^sagad: UNAUTHENTICATED: no API token/);
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toContain("sagad: unknown option '--bogus'");
  });

  it("worker --help lists list, and sagad help lists worker", async () => {
    const [workerHelp, help] = await Promise.all([cli("worker", "--help"), cli("help")]);

    expect(workerHelp.code).toBe(0);
    expect(workerHelp.stdout).toMatch(/^Usage: sagad worker \[options\] \[command\]/);
    expect(workerHelp.stdout).toMatch(/^ {2}list \[options\] +every live worker session/m);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^ {2}worker +list the workers connected to sagad$/m);
  });
});
