import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SagaStatus, StepStatus, TaskState } from "../../src/client/index.js";
import { ms } from "../helpers/rpc.js";
import { runCommand } from "../helpers/run-command.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { waitForStatus, waitUntil } from "../helpers/wait.js";
import { FAST_WORKERS } from "./worker-harness.js";

const PYTHON = "/usr/bin/python3";
const EXAMPLE = path.resolve("examples/python-worker");
const APT_HINT = "run `apt-get install python3-grpcio protobuf-compiler protobuf-compiler-grpc` (CI installs them)";

/** The Debian packages the example needs, checked as .ci/run checks them; never a skip. */
async function missingPackages(): Promise<string[]> {
  const sh = (script: string) => runCommand("bash", ["-c", script], { cwd: process.cwd(), timeoutMs: 10_000 }).then((r) => r.code === 0);
  const missing: string[] = [];
  if (!(await sh(`${PYTHON} -c 'import grpc'`))) missing.push("python3-grpcio");
  if (!(await sh("command -v protoc"))) missing.push("protobuf-compiler");
  if (!(await sh("[ -x /usr/bin/grpc_python_plugin ]"))) missing.push("protobuf-compiler-grpc");
  return missing;
}

/**
 * The Python example worker (examples/python-worker) as a real process, over gRPC on h2c to a
 * real sagad: stubs generated here by its generate.sh, nothing but Debian's grpcio on its side.
 */
describe("the Python example worker", () => {
  let t: TestServer;
  let gen: string;
  let worker: ChildProcess;
  let log = "";
  const instanceId = `py-test-${process.pid}`;
  /** What the worker logged, for failure messages. */
  const withLog = (what: string) => `${what}\n--- worker log:\n${log}`;

  beforeAll(async () => {
    const missing = await missingPackages();
    if (missing.length > 0) throw new Error(`the Python worker test needs ${missing.join(", ")}: ${APT_HINT}`);

    gen = await mkdtemp(path.join(tmpdir(), "sagad-pygen-"));
    const generated = await runCommand("bash", [path.join(EXAMPLE, "generate.sh"), gen], { cwd: process.cwd(), timeoutMs: 30_000 });
    expect(generated.code, `generate.sh: ${generated.stderr}`).toBe(0);

    // Streams end every 500 ms with a reconnect hint, so the worker must subscribe again. A
    // session lives 1.5 s past its last heartbeat: a worker process on a loaded CI machine may
    // miss a 200 ms beat now and then, which is not what this test is about.
    t = await startTestServer({ workers: { ...FAST_WORKERS, heartbeatIntervalMs: 500, ackTimeoutMs: 2_000, reconnectAfterMs: 500 } });
    const { token } = await t.issueToken(["workers"], "python-worker");
    worker = spawn(PYTHON, [path.join(EXAMPLE, "worker.py"), "--actions", "py-greet,py-fail,py-sleep", "--instance-id", instanceId], {
      env: { ...process.env, SAGAD_URL: new URL(t.server.url).host, SAGAD_TOKEN: token, PYTHONPATH: gen, PYTHONUNBUFFERED: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    worker.stdout!.setEncoding("utf8").on("data", (chunk: string) => (log += chunk));
    worker.stderr!.setEncoding("utf8").on("data", (chunk: string) => (log += chunk));
    // Registered and subscribed: ListWorkers shows the session on this replica's stream.
    await waitUntil(async () => {
      if (worker.exitCode !== null) throw new Error(withLog(`worker.py exited with ${worker.exitCode}`));
      const { workers } = await t.workers().listWorkers({});
      return workers.some((w) => w.instanceId === instanceId && w.replicaId !== "");
    }, "the Python worker to register and subscribe");
  });

  afterAll(async () => {
    if (worker && worker.exitCode === null && worker.signalCode === null) worker.kill("SIGKILL");
    await t?.close();
    if (gen) await rm(gen, { recursive: true, force: true });
  });

  it("registers with the actions it serves and its SDK name", async () => {
    const { workers } = await t.workers().listWorkers({ action: "py-greet" });
    expect(workers).toEqual([expect.objectContaining({ instanceId, sdk: "python-example/0.1", slots: 4, draining: false })]);
    expect(workers[0]!.actions.map((a) => a.name)).toEqual(["py-greet", "py-fail", "py-sleep"]);
  });

  it("runs py-greet with its config rendered from a template: the saga completes with the greeting", async () => {
    const { saga } = await t.client().createSaga({
      name: "py-greeting",
      vars: { who: "python" },
      steps: [{ name: "greet", action: "py-greet", config: { name: "{{vars.who}}" } }],
    });
    const done = await waitForStatus(t.client(), saga!.id, [SagaStatus.COMPLETED, SagaStatus.FAILED], 10_000);
    expect(done.status, withLog(done.steps[0]!.error)).toBe(SagaStatus.COMPLETED);
    expect(done.steps[0]!.output).toEqual({ greeting: "hello python" });
  });

  it("reports py-fail as a non-retryable PY_FAILED: the saga fails after one attempt", async () => {
    const { saga } = await t.client().createSaga({
      name: "py-failure",
      steps: [{ name: "boom", action: "py-fail", config: { message: "no luck" }, retryPolicy: { maxAttempts: 3 } }],
    });
    const done = await waitForStatus(t.client(), saga!.id, [SagaStatus.COMPLETED, SagaStatus.FAILED], 10_000);
    expect(done.status, withLog(SagaStatus[done.status])).toBe(SagaStatus.FAILED);
    const step = done.steps[0]!;
    expect(step).toMatchObject({ status: StepStatus.FAILED, errorKind: "PY_FAILED", retryCount: 1 });
    expect(step.error).toContain("no luck");
  });

  it("heartbeats a running task, stops it when its saga is cancelled, and reports it cancelled", async () => {
    // A 1 s heartbeat timeout: only a worker whose heartbeats list the task keeps the attempt alive.
    const { saga } = await t.client().createSaga({
      name: "py-nap",
      steps: [{ name: "nap", action: "py-sleep", config: { seconds: 60 }, retryPolicy: { maxAttempts: 1, heartbeatTimeout: ms(1_000) } }],
    });
    await waitUntil(async () => (await t.client().getSaga({ id: saga!.id })).saga!.steps[0]!.taskState === TaskState.RUNNING, withLog("the nap to be acknowledged"));
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const napping = (await t.client().getSaga({ id: saga!.id })).saga!;
    expect(napping.steps[0], withLog("still running past two heartbeat timeouts")).toMatchObject({ status: StepStatus.RUNNING, taskState: TaskState.RUNNING, retryCount: 1 });
    await t.client().cancelSaga({ id: saga!.id, reason: "test: wake up" });
    const done = await waitForStatus(t.client(), saga!.id, SagaStatus.CANCELLED, 10_000);
    expect(done.steps[0]!.status).not.toBe(StepStatus.COMPLETED);
    // The handler saw the cancel (pushed on the stream or in a heartbeat answer) and sagad took the report.
    await waitUntil(() => log.includes(`${saga!.id}/nap attempt 1: cancelled`), withLog("the worker to report the nap cancelled"));
  });

  it("subscribes again when the server asks it to reconnect, and tasks keep coming on the same session", async () => {
    const hints = () => log.match(/server asks to reconnect: stream age/g)?.length ?? 0;
    await waitUntil(() => hints() >= 2, withLog("two reconnect hints"), 5_000);
    const { saga } = await t.client().createSaga({ name: "py-after-reconnect", vars: { who: "again" }, steps: [{ name: "greet", action: "py-greet", config: { name: "{{vars.who}}" } }] });
    const done = await waitForStatus(t.client(), saga!.id, [SagaStatus.COMPLETED, SagaStatus.FAILED], 10_000);
    expect(done.steps[0]!.output, withLog("greeting after reconnects")).toEqual({ greeting: "hello again" });
    expect(log.match(/registered session/g), withLog("one session")).toHaveLength(1);
  });

  it("drains and exits 0 on SIGTERM, within a few seconds", async () => {
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => worker.once("exit", (code, signal) => resolve({ code, signal })));
    const sentAt = Date.now();
    worker.kill("SIGTERM");
    const timeout = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), 5_000).unref());
    const result = await Promise.race([exited, timeout]);
    expect(result, withLog("worker.py did not exit within 5s of SIGTERM")).not.toBe("timeout");
    expect(result, withLog("worker.py exit status")).toEqual({ code: 0, signal: null });
    expect(Date.now() - sentAt).toBeLessThan(5_000);
    expect(log).toContain("draining");
  });
});
