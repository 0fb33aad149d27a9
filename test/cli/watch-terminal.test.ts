import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SagaStatus } from "../../src/client/index.js";
import { runSagadCli } from "../helpers/cli.js";
import { startHttpGate } from "../helpers/http-gate.js";
import { framesOf, runSagadCliInPty, stripAnsi, type PtyResult } from "../helpers/pty.js";
import { collectWatch, eventsOf } from "../helpers/rpc.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { waitUntil } from "../helpers/wait.js";

/** The live view's spinner (saga-watch.ts). */
const SPINNER = /[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/;
/** A colour or weight (SGR) sequence; cursor moves and erasures end in other letters. */
const SGR = /\u001b\[[0-9;]*m/;
/** Any escape at all: none may reach a pipe. */
const ESCAPE = /\u001b/;

let srv: TestServer;
let dir: string;
let env: Record<string, string>;

/** Three steps in a row: an instant one, then two that run long enough to be seen spinning. */
const SLEEPS = `
name: sleeps
steps:
  - name: check
    action: noop
  - name: prepare
    action: sleep
    dependsOn: [check]
    config: { duration: 600ms }
  - name: deliver
    action: sleep
    dependsOn: [prepare]
    config: { duration: 600ms }
`;

/** Reserve, then a charge that fails for good (a 404 is not retried); the reserve is undone slowly. */
const failingCharge = (policy: string) => `
name: checkout
failurePolicy: ${policy}
steps:
  - name: reserve
    action: noop
    compensate: { action: sleep, config: { duration: 600ms } }
  - name: charge
    action: http
    dependsOn: [reserve]
    config: { url: "${srv.server.url}/no-such" }
    retryPolicy: { maxAttempts: 1 }
`;

async function stepsFile(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

/** A watch under a 40×140 pseudo-terminal, with colour unless told otherwise. */
function watchInPty(args: string[], extraEnv: Record<string, string> = {}): Promise<PtyResult> {
  return runSagadCliInPty(args, { env: { ...env, ...extraEnv }, unsetEnv: extraEnv.NO_COLOR === undefined ? ["NO_COLOR"] : [] });
}

/** The last frame's last line: the summary a watch ends with. */
function summaryOf(frames: string[]): string {
  return frames.at(-1)!.trimEnd().split("\n").at(-1)!;
}

/** Frames that show `step` moving (a spinner in front) with `status`. */
function spinningFrames(frames: string[], step: string, status: string): string[] {
  return frames.filter((f) => new RegExp(`^${SPINNER.source}\\s+${step}\\s+\\S+\\s+${status}\\s`, "m").test(f));
}

function stepRow(frame: string, step: string): string {
  return frame.split("\n").find((line) => new RegExp(`^\\S?\\s+${step}\\s`).test(line)) ?? "";
}

beforeAll(async () => {
  srv = await startTestServer();
  env = { SAGAD_URL: srv.server.url, SAGAD_TOKEN: srv.adminToken };
  dir = await mkdtemp(join(tmpdir(), "sagad-watch-"));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  await srv?.close();
});

describe("watch on a terminal", () => {
  it("create --watch redraws the step table in place, spinners turning, and ends with a summary; exit 0", async () => {
    const { code, output } = await watchInPty(["saga", "create", "-f", await stepsFile("sleeps.yaml", SLEEPS), "--watch"]);
    expect(code, output).toBe(0);
    // log-update 6 takes the last frame back line by line: ESC[2K, then ESC[1A ESC[2K per line.
    expect(output).toContain("\u001b[2K\u001b[1A\u001b[2K");
    const frames = framesOf(output);
    expect(frames.length, output).toBeGreaterThanOrEqual(5);
    // Each step seen running with a spinner, the next one waiting, then done while the next runs.
    expect(spinningFrames(frames, "prepare", "RUNNING").some((f) => /^\s+deliver\s+sleep\s+PENDING/m.test(f))).toBe(true);
    expect(spinningFrames(frames, "deliver", "RUNNING").some((f) => /^\s+prepare\s+sleep\s+COMPLETED/m.test(f))).toBe(true);
    // The spinner turns from frame to frame.
    expect(new Set(frames.flatMap((f) => f.match(new RegExp(SPINNER.source, "g")) ?? [])).size).toBeGreaterThanOrEqual(3);
    // On a terminal there is colour: cyan RUNNING, green COMPLETED.
    expect(output).toContain("\u001b[36mRUNNING");
    expect(output).toContain("\u001b[32mCOMPLETED");

    const last = frames.at(-1)!;
    expect(last).not.toMatch(SPINNER);
    for (const step of ["check", "prepare", "deliver"]) expect(stepRow(last, step)).toMatch(/\sCOMPLETED\s+1\/3\s+\d+ms/);
    const summary = summaryOf(frames);
    const id = /^saga (\S+) COMPLETED in [\d.]+m?s \(3\/3 steps done\)$/.exec(summary)?.[1];
    expect(id, summary).toBeDefined();
    expect(last).toContain(`saga ${id} sleeps  COMPLETED`);
    expect(stripAnsi(output).split(`saga ${id} COMPLETED in`)).toHaveLength(2);
    expect((await srv.client().getSaga({ id: id! })).saga!.status).toBe(SagaStatus.COMPLETED);
  });

  it("shows a rollback as compensation and exits 11 when the saga is COMPENSATED", async () => {
    const file = await stepsFile("compensate.yaml", failingCharge("FAILURE_POLICY_COMPENSATE"));
    const { code, output } = await watchInPty(["saga", "create", "-f", file, "--watch"]);
    expect(code, output).toBe(11);
    const frames = framesOf(output);
    // The undo of reserve is marked ↩, spins while it runs, and the saga header says COMPENSATING.
    const undoing = spinningFrames(frames, "reserve", "↩ COMPENSATING");
    expect(undoing.length, frames.join("\n----\n")).toBeGreaterThanOrEqual(1);
    expect(undoing.some((f) => /^saga \S+ checkout {2}COMPENSATING/m.test(f))).toBe(true);
    expect(stepRow(undoing[0]!, "charge")).toMatch(/\sFAILED\s+1\/1/);
    const last = frames.at(-1)!;
    expect(stepRow(last, "reserve")).toMatch(/\s↩ COMPENSATED\s/);
    expect(stepRow(last, "charge")).toMatch(/\sFAILED\s+1\/1/);
    expect(summaryOf(frames)).toMatch(/^saga \S+ COMPENSATED in [\d.]+m?s \(0\/2 steps done\); charge: .*404/);
  });

  it("exits 10 with the failing step in the summary when the saga holds in FAILED", async () => {
    const file = await stepsFile("hold.yaml", failingCharge("FAILURE_POLICY_HOLD"));
    const { code, output } = await watchInPty(["saga", "create", "-f", file, "--watch"]);
    expect(code, output).toBe(10);
    const frames = framesOf(output);
    const last = frames.at(-1)!;
    expect(stepRow(last, "reserve")).toMatch(/\sCOMPLETED\s/);
    expect(stepRow(last, "charge")).toMatch(/\sFAILED\s+1\/1/);
    expect(last).not.toContain("↩");
    expect(summaryOf(frames)).toMatch(/^saga \S+ FAILED in [\d.]+m?s \(1\/2 steps done\); charge: .*404/);
    // Red and bold: a failure is what the eye should find.
    expect(output).toMatch(/\u001b\[31m\u001b\[1mFAILED/);
  });

  it("saga watch ID with --no-color or NO_COLOR still redraws, without a colour code", async () => {
    // The saga waits at a gate until both watchers follow its stream, so both see it run.
    const gate = await startHttpGate();
    try {
      const { saga } = await srv.client().createSaga({
        name: "plain",
        steps: [
          { name: "gate", action: "http", config: { url: gate.url } },
          { name: "second", action: "sleep", config: { duration: "600ms" }, dependsOn: ["gate"] },
        ],
      });
      const watching = Promise.all([
        watchInPty(["saga", "watch", saga!.id, "--no-color"]),
        watchInPty(["saga", "watch", saga!.id], { NO_COLOR: "1" }),
      ]);
      // A live view draws its first frame, then opens WatchSaga (one bus subscription each).
      await waitUntil(() => srv.server.bus.listenerCount() >= 2 && gate.waiting > 0, "both watchers following, the gate step running", 20_000);
      gate.release();
      for (const { code, output } of await watching) {
        expect(code, output).toBe(0);
        expect(output).not.toMatch(SGR);
        expect(output).toContain("\u001b[2K\u001b[1A\u001b[2K");
        const frames = framesOf(output);
        expect(spinningFrames(frames, "gate", "RUNNING").length).toBeGreaterThanOrEqual(1);
        expect(spinningFrames(frames, "second", "RUNNING").length).toBeGreaterThanOrEqual(2);
        expect(summaryOf(frames)).toMatch(new RegExp(`^saga ${saga!.id} COMPLETED in [\\d.]+m?s \\(2/2 steps done\\)$`));
      }
    } finally {
      await gate.close();
    }
  });
});

describe("watch off a terminal", () => {
  it("prints one line per event from the first, no escape codes, the summary on stderr; exit 0", async () => {
    const { saga } = await srv.client().createSaga({
      name: "piped",
      steps: [
        { name: "check", action: "noop" },
        { name: "prepare", action: "sleep", config: { duration: "500ms" }, dependsOn: ["check"] },
        { name: "deliver", action: "sleep", config: { duration: "500ms" }, dependsOn: ["prepare"] },
      ],
    });
    const id = saga!.id;
    const { code, stdout, stderr } = await runSagadCli(["saga", "watch", id], { env });
    expect(code, stderr).toBe(0);
    expect(stdout).not.toMatch(ESCAPE);
    expect(stderr).not.toMatch(ESCAPE);
    const events = eventsOf(await collectWatch(srv.client(), { id, afterSequence: 0n }));
    const lines = stdout.trimEnd().split("\n");
    // Everything since the saga was created, including what happened before the CLI started.
    expect(lines.map((l) => /^#(\d+)\s/.exec(l)?.[1])).toEqual(events.map((e) => String(e.sequence)));
    expect(lines[0]).toMatch(/^#1\s+\S+\s+-\s+saga CREATED/);
    lines.forEach((line, i) => expect(line).toContain(events[i]!.step === "" ? " - " : ` ${events[i]!.step} `));
    expect(lines.filter((l) => / (prepare|deliver) +STARTED/.test(l))).toHaveLength(2);
    expect(lines.at(-1)).toMatch(/saga COMPLETED$/);
    expect(stderr.trim()).toMatch(new RegExp(`^saga ${id} COMPLETED in [\\d.]+m?s \\(3/3 steps done\\)$`));
  });

  it("reports the saga's own run time, not how long the watch took", async () => {
    const { saga } = await srv.client().createSaga({ name: "earlier", steps: [{ name: "nap", action: "sleep", config: { duration: "700ms" } }] });
    const id = saga!.id;
    await waitUntil(async () => (await srv.client().getSaga({ id })).saga!.status === SagaStatus.COMPLETED, "the saga done", 10_000);
    const { saga: done } = await srv.client().getSaga({ id });
    const ranMs = Number(done!.completeTime!.seconds - done!.createTime!.seconds) * 1000 + (done!.completeTime!.nanos - done!.createTime!.nanos) / 1e6;
    // Watched a while after it ended, the watch itself lasts only a few milliseconds.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const { code, stderr } = await runSagadCli(["saga", "watch", id], { env });
    expect(code, stderr).toBe(0);
    const reported = /COMPLETED in ([\d.]+)(m?s) /.exec(stderr);
    expect(reported, stderr).not.toBeNull();
    const reportedMs = Number(reported![1]) * (reported![2] === "s" ? 1000 : 1);
    expect(ranMs).toBeGreaterThanOrEqual(700);
    expect(Math.abs(reportedMs - ranMs)).toBeLessThan(100);
  });
});
