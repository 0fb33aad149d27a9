import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SagaStatus, type SagaClient } from "../../src/client/index.js";
import { EXIT } from "../../src/cli/exit-codes.js";
import { sagadCliFor, spawnSagadCli, writeTempFiles, type SagadCli } from "../helpers/cli.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { waitForStatus, waitUntil } from "../helpers/wait.js";

/** A steps file: `a` (noop, compensated by `undo`) then `b`, each with one attempt. */
function stepsFile(policy: "HOLD" | "COMPENSATE", b: string, undo = "action: noop"): string {
  return `name: cli-exit
failurePolicy: FAILURE_POLICY_${policy}
steps:
  - name: a
    action: noop
    compensate: {${undo}, retryPolicy: {maxAttempts: 1}}
  - name: b
    dependsOn: [a]
    retryPolicy: {maxAttempts: 1}
    ${b}
`;
}

/** The event lines of a watch off a terminal: [step, what] of each, in order. */
const whatHappened = (stdout: string) => stdout.trimEnd().split("\n").map((line) => line.split(/ {2,}/).slice(2, 4));

// Every CLI run is a node process that compiles TypeScript first: beside other test files on
// two cores, a test of several runs can take longer than the default 30 s.
/**
 * `saga create --watch` off a terminal prints one line per event and exits with the code of the
 * state the saga rests in (exit-codes.ts); the summary goes to stderr.
 */
describe("sagad saga create --watch exit codes (CLI, no terminal)", { timeout: 90_000 }, () => {
  let srv: TestServer;
  let client: SagaClient;
  let cli: SagadCli;
  let files: Awaited<ReturnType<typeof writeTempFiles>>;

  beforeAll(async () => {
    srv = await startTestServer();
    client = srv.client();
    cli = sagadCliFor(srv.server.url, srv.adminToken);
    const missing = `${srv.server.url}/no-such`;
    files = await writeTempFiles({
      "completes.yaml": stepsFile("HOLD", "action: noop"),
      "fails.yaml": stepsFile("HOLD", `action: http\n    config: {url: "${missing}"}`),
      "compensates.yaml": stepsFile("COMPENSATE", `action: http\n    config: {url: "${missing}"}`),
      "compensation-fails.yaml": stepsFile("COMPENSATE", `action: http\n    config: {url: "${missing}"}`, `action: http, config: {url: "${missing}-undo"}`),
      "sleeps.yaml": stepsFile("HOLD", "action: sleep\n    config: {duration: 1h}"),
    });
  });

  afterAll(async () => {
    await files?.remove();
    await srv?.close();
  });

  it("maps each resting state to its exit code, and prints each event on its own line", async () => {
    const cases = [
      { file: "completes.yaml", code: EXIT.OK, status: "COMPLETED", last: [["b", "COMPLETED"], ["-", "saga COMPLETED"]] },
      { file: "fails.yaml", code: EXIT.SAGA_FAILED, status: "FAILED", last: [["b", "FAILED"], ["-", "saga FAILED"]] },
      { file: "compensates.yaml", code: EXIT.SAGA_COMPENSATED, status: "COMPENSATED", last: [["a", "COMPENSATION_COMPLETED"], ["-", "saga COMPENSATED"]] },
      { file: "compensation-fails.yaml", code: EXIT.SAGA_COMPENSATION_FAILED, status: "COMPENSATION_FAILED", last: [["a", "COMPENSATION_FAILED"], ["-", "saga COMPENSATION_FAILED"]] },
    ];
    expect(cases.map((c) => c.code)).toEqual([0, 10, 11, 12]);
    const results = await Promise.all(cases.map((c) => cli("saga", "create", "-f", files.path(c.file), "--watch")));
    results.forEach((result, i) => {
      const { file, code, status, last } = cases[i]!;
      expect({ file, code: result.code }, result.stderr).toEqual({ file, code });
      const events = whatHappened(result.stdout);
      expect(events.slice(0, 3)).toEqual([["-", "saga CREATED"], ["-", "saga RUNNING"], ["a", "STARTED"]]);
      expect(events.slice(-2)).toEqual(last);
      expect(result.stdout.trimEnd().split("\n").map((line) => line.split(" ")[0])).toEqual(events.map((_, n) => `#${n + 1}`));
      expect(result.stderr).toMatch(new RegExp(`^saga [0-9a-f-]{36} ${status} in \\S+ \\(\\d/2 steps done\\)`));
    });
    expect(results[1]!.stderr).toContain(`; b: GET ${srv.server.url}/no-such -> 404`);
  });

  it("exits 13 when the saga is cancelled while it is watched", async () => {
    const watch = spawnSagadCli(["saga", "create", "-f", files.path("sleeps.yaml"), "--label", "case=cancel", "--watch"], {
      env: { SAGAD_URL: srv.server.url, SAGAD_TOKEN: srv.adminToken },
    });
    await watch.waitForStdout(/ b +STARTED +attempt 1\n/);
    let id = "";
    await waitUntil(async () => {
      id = (await client.listSagas({ labels: { case: "cancel" } })).sagas[0]?.id ?? "";
      return id !== "";
    }, "the watched saga is listed");
    await client.cancelSaga({ id, reason: "watched cancel" });
    const result = await watch.done;

    expect(result.code, result.stderr).toBe(EXIT.SAGA_CANCELLED);
    const events = whatHappened(result.stdout);
    expect(events.slice(events.findIndex(([, what]) => what === "saga CANCELLING"))).toEqual([
      ["-", "saga CANCELLING"],
      ["b", "CANCELLED"],
      ["a", "COMPENSATION_STARTED"],
      ["a", "COMPENSATION_COMPLETED"],
      ["-", "saga CANCELLED"],
    ]);
    expect(result.stderr).toMatch(new RegExp(`^saga ${id} CANCELLED in `));
    await waitForStatus(client, id, SagaStatus.CANCELLED, 1_000);
  });

  it("with -o json and -o jsonl prints JSON Lines: the created saga, then one event per line", async () => {
    const results = await Promise.all(["json", "jsonl"].map((format) => cli("saga", "create", "-f", files.path("fails.yaml"), "--watch", "-o", format)));
    for (const result of results) {
      expect(result.code, result.stderr).toBe(EXIT.SAGA_FAILED);
      expect(result.stderr).toBe("");
      const [saga, ...events] = result.stdout.trimEnd().split("\n").map((line) => JSON.parse(line) as Record<string, string>);
      expect(saga).toMatchObject({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), name: "cli-exit" });
      expect(events.map((e) => Number(e.sequence))).toEqual(events.map((_, i) => i + 1));
      expect(events.at(-1)).toMatchObject({ type: "EVENT_TYPE_SAGA_STATUS_CHANGED", sagaStatus: "SAGA_STATUS_FAILED" });
      expect((await client.getSaga({ id: saga!.id! })).saga?.sequence).toBe(BigInt(events.length));
    }
  });
});
