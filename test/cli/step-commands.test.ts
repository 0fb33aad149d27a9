import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventType, SagaStatus, StepStatus, type SagaClient } from "../../src/client/index.js";
import { sagadCliFor, writeTempFiles, type SagadCli } from "../helpers/cli.js";
import { collectWatch, eventsOf, ONE_ATTEMPT, type StepSpecInit } from "../helpers/rpc.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { waitForStatus } from "../helpers/wait.js";

// Every CLI run is a node process that compiles TypeScript first: beside other test files on
// two cores, a test of several runs can take longer than the default 30 s.
/** `step retry` and `step skip` of the real CLI on FAILED sagas, against one server for the file. */
describe("sagad step retry|skip (CLI)", { timeout: 90_000 }, () => {
  let srv: TestServer;
  let client: SagaClient;
  let cli: SagadCli;
  let files: Awaited<ReturnType<typeof writeTempFiles>>;

  /** reserve → charge (an http call that 404s, one attempt) → ship, which echoes charge's receipt. */
  const failed = async (shipConfig: Record<string, string> = { receipt: "{{steps.charge.output.receipt}}" }) => {
    const steps: StepSpecInit[] = [
      { name: "reserve", action: "noop", config: { item: "R-1" } },
      { name: "charge", action: "http", dependsOn: ["reserve"], config: { url: `${srv.server.url}/no-such-payment` }, retryPolicy: ONE_ATTEMPT },
      { name: "ship", action: "noop", dependsOn: ["charge"], config: shipConfig },
    ];
    const id = (await client.createSaga({ name: "cli-step", steps })).saga!.id;
    await waitForStatus(client, id, SagaStatus.FAILED);
    return id;
  };
  const history = async (id: string) => eventsOf(await collectWatch(client, { id, afterSequence: 0n }));

  beforeAll(async () => {
    srv = await startTestServer();
    client = srv.client();
    cli = sagadCliFor(srv.server.url, srv.adminToken);
    files = await writeTempFiles({
      // A config that works: GET /readyz answers 200 with a JSON body while the server is ready.
      "charge.yaml": `method: GET\nurl: ${srv.server.url}/readyz\n`,
      "stand-in.yaml": "receipt: from-file-7\nnote: charged at the till\n",
      "broken.yaml": "method: GET\nurl: [unclosed\n",
      "list.yaml": "- not\n- a mapping\n",
      "unquoted.yaml": "method: GET\nurl: {{vars.url}}\n",
    });
  });

  afterAll(async () => {
    await files?.remove();
    await srv?.close();
  });

  it("step retry --config-file runs the FAILED step again with the new config, and the saga completes", async () => {
    const id = await failed({ status: "{{steps.charge.output.status}}" });
    const result = await cli("step", "retry", id, "charge", "--config-file", files.path("charge.yaml"), "--reason", "fixed the url");
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(`${id}  charge retried; saga RUNNING\n`);

    const done = await waitForStatus(client, id, SagaStatus.COMPLETED);
    const charge = done.steps.find((s) => s.name === "charge")!;
    expect(charge).toMatchObject({ status: StepStatus.COMPLETED, retryCount: 2, config: { method: "GET", url: `${srv.server.url}/readyz` } });
    expect(done.outputs["ship"]).toEqual({ status: 200 });
    const reset = (await history(id)).find((e) => e.type === EventType.STEP_RESET)!;
    expect(reset).toMatchObject({ step: "charge", reason: "fixed the url", tokenName: srv.adminTokenName });
  });

  it("step skip --output gives the stand-in that dependents read; -o json still sets the format", async () => {
    const id = await failed();
    const result = await cli("step", "skip", id, "charge", "--output", '{"receipt": "by-phone-0042"}', "--reason", "charged by phone", "-o", "json");
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ id, status: "SAGA_STATUS_RUNNING" });

    const done = await waitForStatus(client, id, SagaStatus.COMPLETED);
    expect(done.steps.find((s) => s.name === "charge")?.status).toBe(StepStatus.SKIPPED);
    expect(done.outputs["charge"]).toEqual({ receipt: "by-phone-0042" });
    expect(done.outputs["ship"]).toEqual({ receipt: "by-phone-0042" });
    const skipped = (await history(id)).find((e) => e.type === EventType.STEP_SKIPPED)!;
    expect(skipped).toMatchObject({ step: "charge", reason: "charged by phone", tokenName: srv.adminTokenName, output: { receipt: "by-phone-0042" } });
  });

  it("step skip takes --output=JSON and --output before the ids, with global flags around it", async () => {
    const [a, b] = [await failed(), await failed()];
    const [first, second] = await Promise.all([
      cli("step", "skip", a, "charge", '--output={"receipt": "eq-form"}'),
      cli("step", "-o", "json", "skip", "--output", '{"receipt": "first"}', "--reason", "before the ids", b, "charge"),
    ]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toBe(`${a}  charge skipped; saga RUNNING\n`);
    expect(second.code, second.stderr).toBe(0);
    expect(JSON.parse(second.stdout)).toMatchObject({ id: b });
    expect((await waitForStatus(client, a, SagaStatus.COMPLETED)).outputs["ship"]).toEqual({ receipt: "eq-form" });
    expect((await waitForStatus(client, b, SagaStatus.COMPLETED)).outputs["ship"]).toEqual({ receipt: "first" });
    expect((await history(b)).find((e) => e.type === EventType.STEP_SKIPPED)?.reason).toBe("before the ids");
  });

  it("step skip --output-file reads the stand-in from YAML, and the saga completes", async () => {
    const id = await failed();
    const result = await cli("step", "skip", id, "charge", "--output-file", files.path("stand-in.yaml"));
    expect(result.code, result.stderr).toBe(0);
    const done = await waitForStatus(client, id, SagaStatus.COMPLETED);
    expect(done.outputs["charge"]).toEqual({ receipt: "from-file-7", note: "charged at the till" });
    expect(done.outputs["ship"]).toEqual({ receipt: "from-file-7" });
  });

  it("refuses bad input with exit 2 and nothing on stdout, leaving the step FAILED", async () => {
    const id = await failed();
    const cases: [string[], string][] = [
      [["skip", id, "charge", "--output", "{not json"], "sagad: --output: "],
      [["skip", id, "charge", "--output", "[1, 2]"], "sagad: --output: expected a JSON object"],
      [["skip", id, "charge", "--output", "{}", "--output-file", files.path("stand-in.yaml")], "give --output or --output-file, not both"],
      [["retry", id, "charge", "--config-file", files.path("broken.yaml")], `sagad: ${files.path("broken.yaml")}:3:1: `],
      [["retry", id, "charge", "--config-file", files.path("unquoted.yaml")], `sagad: ${files.path("unquoted.yaml")}:2:7: a mapping used as a key`],
      [["retry", id, "charge", "--config-file", files.path("list.yaml")], "expected a JSON object"],
      [["retry", id, "charge", "--config-file", files.path("missing.yaml")], "no such file"],
    ];
    const results = await Promise.all(cases.map(([args]) => cli("step", ...args)));
    results.forEach((result, i) => {
      const [args, message] = cases[i]!;
      expect({ args, code: result.code, stdout: result.stdout }).toEqual({ args, code: 2, stdout: "" });
      expect(result.stderr, args.join(" ")).toContain(message);
    });
    const { saga } = await client.getSaga({ id });
    expect(saga?.steps.find((s) => s.name === "charge")?.status).toBe(StepStatus.FAILED);
  });

  it("a step that is not FAILED cannot be retried (exit 6); skipping a step the saga lacks is NOT_FOUND (exit 3)", async () => {
    const id = await failed();
    const [completed, unknown] = await Promise.all([cli("step", "retry", id, "reserve"), cli("step", "skip", id, "nope")]);
    expect({ code: completed.code, stdout: completed.stdout }).toEqual({ code: 6, stdout: "" });
    expect(completed.stderr).toMatch(/^sagad: FAILED_PRECONDITION: .*reserve.*COMPLETED/);
    expect({ code: unknown.code, stdout: unknown.stdout }).toEqual({ code: 3, stdout: "" });
    expect(unknown.stderr).toBe(`sagad: NOT_FOUND: saga ${id} has no step "nope"\n`);
  });
});
