import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventType, SagaStatus, StepStatus, type SagaClient } from "../../src/client/index.js";
import { sagadCliFor, tableRows, type SagadCli } from "../helpers/cli.js";
import { collectWatch, eventsOf, ONE_ATTEMPT, type StepSpecInit } from "../helpers/rpc.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { waitForStatus } from "../helpers/wait.js";

// Every CLI run is a node process that compiles TypeScript first: beside other test files on
// two cores, a test of several runs can take longer than the default 30 s.
/** `saga retry|rollback|cancel|delete` of the real CLI, one by id and in bulk, with reasons. */
describe("sagad saga retry|rollback|cancel|delete (CLI)", { timeout: 90_000 }, () => {
  let srv: TestServer;
  let client: SagaClient;
  /** As an operator whose token may execute but not delete. */
  let operator: SagadCli;
  let operatorName: string;
  let admin: SagadCli;

  const failing = (): StepSpecInit[] => [
    { name: "reserve", action: "noop", compensate: { action: "noop" } },
    { name: "charge", action: "http", dependsOn: ["reserve"], config: { url: `${srv.server.url}/no-such` }, retryPolicy: ONE_ATTEMPT },
  ];
  const sleeping: StepSpecInit[] = [{ name: "wait", action: "sleep", config: { duration: "1h" } }];
  const start = async (steps: StepSpecInit[], labels: Record<string, string> = {}, rest?: SagaStatus) => {
    const id = (await client.createSaga({ name: "cli-control", steps, labels })).saga!.id;
    if (rest !== undefined) await waitForStatus(client, id, rest);
    return id;
  };
  const history = async (id: string) => eventsOf(await collectWatch(client, { id, afterSequence: 0n }));

  beforeAll(async () => {
    srv = await startTestServer();
    client = srv.client();
    const issued = await srv.issueToken(["sagas:read", "sagas:execute"], "cli-operator");
    operatorName = issued.name;
    operator = sagadCliFor(srv.server.url, issued.token);
    admin = sagadCliFor(srv.server.url, srv.adminToken);
  });

  afterAll(() => srv?.close());

  it("retry resumes a FAILED saga; its events carry the reason and the token's name", async () => {
    const id = await start(failing(), {}, SagaStatus.FAILED);
    const result = await operator("saga", "retry", id, "--reason", "payment service is back");
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(`${id}  RUNNING\n`);
    const again = await waitForStatus(client, id, SagaStatus.FAILED);
    expect(again.retryCount).toBe(1);

    const reset = (await history(id)).find((e) => e.type === EventType.STEP_RESET)!;
    expect(reset).toMatchObject({ step: "charge", reason: "payment service is back", tokenName: operatorName });
    const lines = (await operator("saga", "events", id)).stdout.split("\n");
    expect(lines).toContainEqual(expect.stringMatching(/ charge +RESET +attempt 1 +by cli-operator +reason: payment service is back$/));
  });

  it("rollback compensates a FAILED saga, with -o json the saga as it now is", async () => {
    const id = await start(failing(), {}, SagaStatus.FAILED);
    const result = await operator("saga", "rollback", id, "--reason", "customer gave up", "-o", "json");
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ id, status: "SAGA_STATUS_COMPENSATING" });
    const done = await waitForStatus(client, id, SagaStatus.COMPENSATED);
    expect(done.steps[0]!.status).toBe(StepStatus.COMPENSATED);
    const events = await history(id);
    const byOperator = events.filter((e) => e.reason === "customer gave up");
    expect(byOperator.map((e) => e.tokenName)).toEqual(byOperator.map(() => operatorName));
    expect(byOperator.some((e) => e.sagaStatus === SagaStatus.COMPENSATING)).toBe(true);
  });

  it("cancel stops a RUNNING saga; the reason is in its history", async () => {
    const id = await start(sleeping, {}, SagaStatus.RUNNING);
    const result = await operator("saga", "cancel", id, "--reason", "wrong environment");
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^${id}  CANCELL(ING|ED)\\n$`));
    await waitForStatus(client, id, SagaStatus.CANCELLED);
    const events = (await operator("saga", "events", id)).stdout;
    expect(events).toMatch(/ - +saga CANCELLING +by cli-operator +reason: wrong environment\n/);
    expect(events).toMatch(/ - +saga CANCELLED\n$/);
  });

  it("an operation that does not apply exits 6 and names the state", async () => {
    const id = await start([{ name: "only", action: "noop" }], {}, SagaStatus.COMPLETED);
    const result = await operator("saga", "retry", id);
    expect({ code: result.code, stdout: result.stdout }).toEqual({ code: 6, stdout: "" });
    expect(result.stderr).toBe("sagad: FAILED_PRECONDITION: RetrySaga does not apply: saga is COMPLETED (needs FAILED)\n");
  });

  it("delete needs admin (exit 4 with sagas:execute); FAILED needs --force; then the saga is gone", async () => {
    const id = await start(failing(), {}, SagaStatus.FAILED);
    const [denied, unforced] = await Promise.all([
      operator("saga", "delete", id, "--reason", "cleanup"),
      admin("saga", "delete", id, "--reason", "cleanup"),
    ]);
    expect({ code: denied.code, stdout: denied.stdout }).toEqual({ code: 4, stdout: "" });
    expect(denied.stderr).toBe("sagad: PERMISSION_DENIED: DeleteSaga needs scope admin\n");
    expect({ code: unforced.code, stdout: unforced.stdout }).toEqual({ code: 6, stdout: "" });
    expect(unforced.stderr).toContain("FAILED_PRECONDITION: DeleteSaga needs force: saga is FAILED");
    expect((await client.getSaga({ id })).saga?.status).toBe(SagaStatus.FAILED);

    const deleted = await admin("saga", "delete", id, "--force", "--reason", "cleanup", "-o", "json");
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(JSON.parse(deleted.stdout)).toEqual({ id });
    const gone = await admin("saga", "get", id);
    expect({ code: gone.code, stdout: gone.stdout }).toEqual({ code: 3, stdout: "" });

    const completed = await start([{ name: "only", action: "noop" }], {}, SagaStatus.COMPLETED);
    const plain = await admin("saga", "delete", completed);
    expect(plain).toMatchObject({ code: 0, stdout: `${completed} deleted\n` });
  });

  it("bulk cancel off a terminal without --yes refuses with exit 9, shows the matches on stderr, and changes nothing", async () => {
    const ids = [await start(sleeping, { batch: "refused" }), await start(sleeping, { batch: "refused" })];
    await Promise.all(ids.map((id) => waitForStatus(client, id, SagaStatus.RUNNING)));
    const result = await operator("saga", "cancel", "--status", "running", "--label", "batch=refused", "--reason", "drain");
    expect({ code: result.code, stdout: result.stdout }).toEqual({ code: 9, stdout: "" });
    const [intro, ...rest] = result.stderr.trimEnd().split("\n");
    expect(intro).toBe("cancel would act on 2 saga(s):");
    expect(tableRows(rest.slice(0, 3).join("\n")).rows.map((r) => r[0])).toEqual([...ids].reverse());
    expect(rest.slice(3)).toEqual(["sagad: stdin is not a terminal, so nobody can confirm; pass --yes", "sagad: not confirmed; nothing changed"]);
    for (const id of ids) {
      const { saga } = await client.getSaga({ id });
      expect(saga?.status).toBe(SagaStatus.RUNNING);
      expect(Number(saga?.sequence)).toBe(3);
    }
    await Promise.all(ids.map((id) => client.cancelSaga({ id })));
  });

  it("bulk cancel --yes cancels exactly the matching sagas; -o json gives one result object per saga", async () => {
    const matching = [await start(sleeping, { batch: "a" }), await start(sleeping, { batch: "a" }), await start(sleeping, { batch: "a" })];
    const other = await start(sleeping, { batch: "b" });
    const resting = await start([{ name: "only", action: "noop" }], { batch: "a" }, SagaStatus.COMPLETED);
    await Promise.all([...matching, other].map((id) => waitForStatus(client, id, SagaStatus.RUNNING)));

    const [noReason, result] = await Promise.all([
      operator("saga", "cancel", "--status", "running", "--label", "batch=a", "--yes"),
      operator("saga", "cancel", "--status", "running", "--label", "batch=a", "--reason", "drain batch a", "--yes", "-o", "json"),
    ]);
    expect({ code: noReason.code, stdout: noReason.stdout }).toEqual({ code: 2, stdout: "" });
    expect(noReason.stderr).toContain("a bulk cancel needs --reason");

    expect(result.code, result.stderr).toBe(0);
    const results = JSON.parse(result.stdout) as { id: string; result: string; saga: { status: string } }[];
    expect(results.map((r) => r.id).sort()).toEqual([...matching].sort());
    expect(results.every((r) => r.result === "ok" && /^SAGA_STATUS_CANCELL(ING|ED)$/.test(r.saga.status))).toBe(true);
    for (const id of matching) {
      await waitForStatus(client, id, SagaStatus.CANCELLED);
      expect((await history(id)).filter((e) => e.type === EventType.SAGA_STATUS_CHANGED && e.sagaStatus === SagaStatus.CANCELLING)).toEqual([
        expect.objectContaining({ reason: "drain batch a", tokenName: operatorName }),
      ]);
    }
    expect((await client.getSaga({ id: other })).saga?.status).toBe(SagaStatus.RUNNING);
    expect((await client.getSaga({ id: resting })).saga?.status).toBe(SagaStatus.COMPLETED);
    await client.cancelSaga({ id: other });
  });

  it("bulk retry --yes retries every FAILED match and prints a result row per saga", async () => {
    const failed = [await start(failing(), { batch: "r" }, SagaStatus.FAILED), await start(failing(), { batch: "r" }, SagaStatus.FAILED)];
    const result = await operator("saga", "retry", "--status", "failed", "--label", "batch=r", "--reason", "flaky upstream", "--yes");
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/^retry would act on 2 saga\(s\):\n/);
    const { header, rows } = tableRows(result.stdout);
    expect(header).toEqual(["ID", "RESULT", "STATUS OR ERROR"]);
    expect(rows.map((r) => r[0]).sort()).toEqual([...failed].sort());
    expect(rows.map((r) => r[1])).toEqual(["ok", "ok"]);
    for (const id of failed) {
      const again = await waitForStatus(client, id, SagaStatus.FAILED);
      expect(again.retryCount).toBe(1);
      expect((await history(id)).find((e) => e.type === EventType.STEP_RESET)).toMatchObject({ reason: "flaky upstream", tokenName: operatorName });
    }
  });
});
