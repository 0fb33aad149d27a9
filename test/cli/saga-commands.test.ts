import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SagaStatus, type SagaClient } from "../../src/client/index.js";
import { runSagadCli, sagadCliFor, spawnSagadCli, tableRows, writeTempFiles, type SagadCli } from "../helpers/cli.js";
import { PROJECT_ROOT } from "../helpers/replica-process.js";
import { runCommand } from "../helpers/run-command.js";
import { mapConcurrent, ONE_ATTEMPT, type StepSpecInit } from "../helpers/rpc.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { waitForStatus } from "../helpers/wait.js";

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Proto JSON's int64 is a string; sequences of `-o jsonl` events as numbers. */
const sequences = (jsonl: string) => jsonl.trimEnd().split("\n").map((line) => Number((JSON.parse(line) as { sequence: string }).sequence));

const STEPS_FILE = `name: from-file
vars: {who: file, other: file}
labels: {kind: inline}
steps:
  - name: hello
    action: noop
    config: {greeting: "hello {{vars.who}}"}
  - name: after
    action: noop
    dependsOn: [hello]
    config: {echo: "{{steps.hello.output.greeting}}", other: "{{vars.other}}"}
`;

// Every CLI run is a node process that compiles TypeScript first: beside other test files on
// two cores, a test of several runs can take longer than the default 30 s.
/** `saga create`, `list`, `get` and `events` of the real CLI, against one server for the file. */
describe("sagad saga create|list|get|events (CLI)", { timeout: 90_000 }, () => {
  let srv: TestServer;
  let client: SagaClient;
  let cli: SagadCli;
  let files: Awaited<ReturnType<typeof writeTempFiles>>;
  /** The `suite=list` sagas, oldest first: completed, failed, from the definition, running, running. */
  const list = { completed: "", failed: "", fromDef: "", running1: "", running2: "", between: "" };

  const failingSteps = (): StepSpecInit[] => [
    { name: "reserve", action: "noop" },
    { name: "charge", action: "http", dependsOn: ["reserve"], config: { url: `${srv.server.url}/no-such` }, retryPolicy: ONE_ATTEMPT },
    { name: "ship", action: "noop", dependsOn: ["charge"] },
  ];
  const create = async (name: string, steps: StepSpecInit[], labels: Record<string, string>) =>
    (await client.createSaga({ name, steps, labels })).saga!.id;

  beforeAll(async () => {
    srv = await startTestServer();
    client = srv.client();
    cli = sagadCliFor(srv.server.url, srv.adminToken);
    files = await writeTempFiles({ "steps.yaml": STEPS_FILE });
    const spec = (description: string) => ({
      name: "cli-order",
      description,
      varsSchema: { type: "object", required: ["order"], properties: { order: { type: "string" } } },
      steps: [{ name: "book", action: "noop", config: { order: "{{vars.order}}" } }],
    });
    await srv.definitions().registerDefinition({ spec: spec("v1") });
    await srv.definitions().registerDefinition({ spec: spec("v2") });

    const labels = { suite: "list" };
    list.completed = await create("cli-done", [{ name: "only", action: "noop" }], labels);
    await waitForStatus(client, list.completed, SagaStatus.COMPLETED);
    list.failed = await create("cli-failing", failingSteps(), labels);
    await waitForStatus(client, list.failed, SagaStatus.FAILED);
    await pause(20);
    list.between = new Date().toISOString();
    await pause(20);
    list.fromDef = (await client.createSaga({ definitionRef: { name: "cli-order", version: 1 }, vars: { order: "L-1" }, labels })).saga!.id;
    await waitForStatus(client, list.fromDef, SagaStatus.COMPLETED);
    const sleeping: StepSpecInit[] = [{ name: "wait", action: "sleep", config: { duration: "1h" } }];
    list.running1 = await create("cli-running", sleeping, labels);
    list.running2 = await create("cli-running", sleeping, labels);
    // More than the default limit of 50, to tell --all and --limit from one page.
    await mapConcurrent(Array.from({ length: 55 }, (_, i) => i), 8, (i) => create(`many-${i}`, [{ name: "only", action: "noop" }], { suite: "many" }));
  });

  afterAll(async () => {
    for (const id of [list.running1, list.running2]) if (id) await client.cancelSaga({ id }).catch(() => undefined);
    await files?.remove();
    await srv?.close();
  });

  it("create --def prints the id; the same --request-id gives the same saga, with other vars exit 7", async () => {
    const args = ["saga", "create", "--def", "cli-order", "--var", "order=A-1", "--label", "team=cli", "--label", "run=1", "--request-id", "req-1"];
    const first = await cli(...args);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toBe("");
    const [, id] = /^([0-9a-f-]{36}) {2}cli-order {2}created\n$/.exec(first.stdout) ?? [];
    expect(id, first.stdout).toBeDefined();

    const [again, asJson, conflict] = await Promise.all([
      cli(...args),
      cli(...args, "-o", "json"),
      cli(...args.map((a) => (a === "order=A-1" ? "order=A-2" : a))),
    ]);
    expect(again.stdout).toBe(first.stdout);
    expect(asJson.code, asJson.stderr).toBe(0);
    expect(asJson.stderr).toBe("");
    const saga = JSON.parse(asJson.stdout) as Record<string, unknown>;
    expect(saga).toMatchObject({ id, requestId: "req-1", definitionName: "cli-order", definitionVersion: 2, vars: { order: "A-1" }, labels: { team: "cli", run: "1" } });
    expect({ code: conflict.code, stdout: conflict.stdout }).toEqual({ code: 7, stdout: "" });
    expect(conflict.stderr).toContain(`sagad: ALREADY_EXISTS: request_id "req-1" was already used for a different request (saga ${id})`);
  });

  it("create -f runs the steps file, with --var, --label and --name on top of the file's", async () => {
    const result = await cli("saga", "create", "-f", files.path("steps.yaml"), "--var", "who=cli", "--label", "from=flag", "--name", "renamed", "-o", "json");
    expect(result.code, result.stderr).toBe(0);
    const { id } = JSON.parse(result.stdout) as { id: string };
    const done = await waitForStatus(client, id, SagaStatus.COMPLETED);
    expect(done.name).toBe("renamed");
    expect(done.vars).toEqual({ who: "cli", other: "file" });
    expect(done.labels).toEqual({ kind: "inline", from: "flag" });
    expect(done.outputs["after"]).toEqual({ echo: "hello cli", other: "file" });
  });

  it("list filters by status (several), definition and version, labels and --since, newest first", async () => {
    const ids = (stdout: string) => tableRows(stdout).rows.map((r) => r[0]);
    const [all, statuses, byDef, byVersion, otherVersion, since, sinceSpan, limited] = await mapConcurrent([
      ["--label", "suite=list"],
      ["--status", "running,failed", "--label", "suite=list"],
      ["--def", "cli-order", "--label", "suite=list"],
      ["--def", "cli-order@1", "--label", "suite=list"],
      ["--def", "cli-order@2", "--label", "suite=list"],
      ["--since", list.between, "--label", "suite=list"],
      ["--since", "1h", "--label", "suite=list"],
      ["--label", "suite=list", "--limit", "2"],
    ], 3, (args) => cli("saga", "list", ...args));
    expect(all!.code, all!.stderr).toBe(0);
    const { header, rows } = tableRows(all!.stdout);
    expect(header).toEqual(["ID", "NAME", "STATUS", "DEFINITION", "CREATED", "CURRENT STEP"]);
    expect(rows.map((r) => [r[0], r[1], r[2], r[3], r[5]])).toEqual([
      [list.running2, "cli-running", "RUNNING", "-", "wait"],
      [list.running1, "cli-running", "RUNNING", "-", "wait"],
      [list.fromDef, "cli-order", "COMPLETED", "cli-order@1", "book"],
      [list.failed, "cli-failing", "FAILED", "-", "charge"],
      [list.completed, "cli-done", "COMPLETED", "-", "only"],
    ]);
    expect(ids(statuses!.stdout)).toEqual([list.running2, list.running1, list.failed]);
    expect(ids(byDef!.stdout)).toEqual([list.fromDef]);
    expect(ids(byVersion!.stdout)).toEqual([list.fromDef]);
    expect(ids(otherVersion!.stdout)).toEqual([]);
    expect(ids(since!.stdout)).toEqual([list.running2, list.running1, list.fromDef]);
    expect(ids(sinceSpan!.stdout)).toHaveLength(5);
    expect(ids(limited!.stdout)).toEqual([list.running2, list.running1]);
  });

  it("list stops at 50 by default, and --all and --limit follow the pages; -o jsonl is one saga per line", async () => {
    const [first, all, limit, jsonl] = await Promise.all([
      cli("saga", "list", "--label", "suite=many"),
      cli("saga", "list", "--label", "suite=many", "--all"),
      cli("saga", "list", "--label", "suite=many", "--limit", "53"),
      cli("saga", "list", "--label", "suite=many", "--all", "-o", "jsonl"),
    ]);
    expect(tableRows(first.stdout).rows).toHaveLength(50);
    expect(first.stderr.trim()).toBe("sagad: the newest 50 shown; more match (--limit N or --all)");
    expect(tableRows(all.stdout).rows).toHaveLength(55);
    expect(all.stderr).toBe("");
    expect(tableRows(limit.stdout).rows).toHaveLength(53);
    const sagas = jsonl.stdout.trimEnd().split("\n").map((line) => JSON.parse(line) as { id: string; name: string; status: string });
    expect(new Set(sagas.map((s) => s.id)).size).toBe(55);
    expect(sagas.map((s) => s.name).sort()).toEqual(Array.from({ length: 55 }, (_, i) => `many-${i}`).sort());
    expect(sagas.every((s) => s.status === "SAGA_STATUS_COMPLETED")).toBe(true);
    const both = await cli("saga", "list", "--limit", "3", "--all");
    expect([both.code, both.stdout, both.stderr.trim()]).toEqual([2, "", "sagad: give --limit N or --all, not both"]);
  });

  it("takes the global flags before the command too, and ends quietly when its reader goes away", async () => {
    const env = { SAGAD_URL: "http://127.0.0.1:1", SAGAD_TOKEN: "" };
    const first = await runSagadCli(["--url", srv.server.url, "--token", srv.adminToken, "-o", "json", "--no-color", "saga", "list", "--label", "suite=many", "--limit", "2"], { env });
    expect(first.code, first.stderr).toBe(0);
    expect((JSON.parse(first.stdout) as unknown[]).length).toBe(2);
    // A reader that stops after one byte: no EPIPE stack trace, no error exit.
    const piped = await runCommand("/bin/bash", ["-c", "set -o pipefail; node --import tsx src/main.ts saga list --label suite=many --all -o jsonl | (head -c 1 > /dev/null; exec true)"], {
      cwd: PROJECT_ROOT,
      timeoutMs: 60_000,
      env: { ...process.env, SAGAD_URL: srv.server.url, SAGAD_TOKEN: srv.adminToken },
    });
    expect(piped.stderr).not.toMatch(/EPIPE|Error/);
    expect(piped.code).toBe(0);
  });

  it("get shows the failure first (status, failing step, last error), then the step table; -o json is the saga", async () => {
    const [table, asJson] = await Promise.all([cli("saga", "get", list.failed), cli("saga", "get", list.failed, "-o", "json")]);
    expect(table.code, table.stderr).toBe(0);
    const [head, steps] = table.stdout.trimEnd().split("\n\n");
    expect(head!.split("\n").slice(0, 4)).toEqual([
      `Saga:       ${list.failed}  cli-failing`,
      "Status:     FAILED",
      "Failing:    charge (http, attempt 1/1)",
      `Error:      GET ${srv.server.url}/no-such -> 404 [HTTP_4XX]`,
    ]);
    expect(head).toMatch(/\nRetries: +0\/3 RetrySaga calls used +events: 7$/);
    const { header, rows } = tableRows(steps!);
    expect(header).toEqual(["STEP", "ACTION", "STATUS", "ATTEMPT", "DURATION", "NEXT ATTEMPT"]);
    expect(rows.map((r) => r.slice(0, 4))).toEqual([
      ["reserve", "noop", "COMPLETED", "1/3"],
      ["charge", "http", "FAILED", "1/1"],
      ["ship", "noop", "PENDING", "0/3"],
    ]);
    expect(rows[1]![4]).toMatch(/^\d+(ms|\.\ds)$/);

    const saga = JSON.parse(asJson.stdout) as { id: string; status: string; steps: { name: string; status: string; errorKind?: string }[] };
    expect(saga.status).toBe("SAGA_STATUS_FAILED");
    expect(saga.steps.map((s) => [s.name, s.status])).toEqual([
      ["reserve", "STEP_STATUS_COMPLETED"],
      ["charge", "STEP_STATUS_FAILED"],
      ["ship", "STEP_STATUS_PENDING"],
    ]);
    expect(saga.steps[1]!.errorKind).toBe("HTTP_4XX");
  });

  it("events prints one line per event; -o jsonl one object per event, -o json an array", async () => {
    const { saga } = await client.getSaga({ id: list.failed });
    const count = Number(saga!.sequence);
    const [lines, jsonl, asJson] = await Promise.all([
      cli("saga", "events", list.failed),
      cli("saga", "events", list.failed, "-o", "jsonl"),
      cli("saga", "events", list.failed, "-o", "json"),
    ]);
    expect(lines.code, lines.stderr).toBe(0);
    const text = lines.stdout.trimEnd().split("\n");
    expect(text.map((line) => line.split(/\s+/)[0])).toEqual(Array.from({ length: count }, (_, i) => `#${i + 1}`));
    expect(text[0]).toMatch(new RegExp(`^#1 +\\d\\d:\\d\\d:\\d\\d\\.\\d{3} +- +saga CREATED +by ${srv.adminTokenName}$`));
    expect(text).toContainEqual(expect.stringMatching(new RegExp(`charge +FAILED +attempt 1 +error: GET ${srv.server.url}/no-such -> 404$`)));
    expect(text.at(-1)).toMatch(/ - +saga FAILED$/);

    expect(sequences(jsonl.stdout)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    const events = JSON.parse(asJson.stdout) as { type: string; step?: string }[];
    expect(events).toHaveLength(count);
    expect(events.filter((e) => e.type === "EVENT_TYPE_STEP_FAILED").map((e) => e.step)).toEqual(["charge"]);
  });

  it("events of a running saga ends at the events it has now", async () => {
    const result = await cli("saga", "events", list.running1);
    expect(result.code, result.stderr).toBe(0);
    const by = `by ${srv.adminTokenName}`;
    expect(result.stdout.trimEnd().split("\n").map((line) => line.split(/ {2,}/).slice(2))).toEqual([
      ["-", "saga CREATED", by],
      ["-", "saga RUNNING", by],
      ["wait", "STARTED", "attempt 1", by],
    ]);
  });

  it("events --follow prints the history, keeps following after the saga rests, and ends on Ctrl-C with 130", async () => {
    const id = await create("cli-follow", failingSteps(), { suite: "follow" });
    await waitForStatus(client, id, SagaStatus.FAILED);
    const follow = spawnSagadCli(["saga", "events", id, "--follow"], { env: { SAGAD_URL: srv.server.url, SAGAD_TOKEN: srv.adminToken } });
    await follow.waitForStdout(/saga FAILED\n/);
    await pause(500);

    await client.retrySaga({ id, reason: "follow me" });
    await follow.waitForStdout(/saga FAILED\n[\s\S]*saga FAILED\n/);
    follow.signal("SIGINT");
    const result = await follow.done;

    expect(result.code, result.stderr).toBe(130);
    const { saga } = await client.getSaga({ id });
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines.map((line) => line.split(/\s+/)[0])).toEqual(Array.from({ length: Number(saga!.sequence) }, (_, i) => `#${i + 1}`));
    expect(lines).toContainEqual(expect.stringMatching(/charge +RESET +attempt 1 +by test-admin-\w+ +reason: follow me$/));
  });
});
