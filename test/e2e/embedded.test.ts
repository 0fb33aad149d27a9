import { existsSync, readFileSync } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSagaClient, EventType, SagaStatus, StepStatus, type SagaClient } from "../../src/client/index.js";
import { runSagadCli, TOKEN_PATTERN } from "../helpers/cli.js";
import { collectWatch, eventsOf, expectCode, expectConsecutive } from "../helpers/rpc.js";
import { waitUntil } from "../helpers/wait.js";
import { describeOutput, spawnSagad, startSagad, type RunningSagad, type SagadProcess } from "../helpers/replica-process.js";

/** First start runs initdb, which is slow on a busy machine. */
const FIRST_START_MS = 90_000;

/**
 * DESIGN.md §5: `npm start` without DATABASE_URL runs a real embedded PostgreSQL in a data dir of
 * ours. Started exactly as `npm start` would (`node --import tsx src/main.ts`) with DATABASE_URL
 * removed from the environment.
 */
describe("embedded PostgreSQL (no DATABASE_URL)", () => {
  let dataDir: string;
  const processes: SagadProcess[] = [];
  let first: RunningSagad;
  let sagaId: string;
  /** The admin token the first start created and printed. */
  let token: string;

  const env = () => ({ SAGAD_DATA_DIR: dataDir, SAGAD_PORT: "0", SAGAD_LOG_LEVEL: "info" });
  const start = async (readyTimeoutMs: number) => {
    const proc = await startSagad({ env: env(), unsetEnv: ["DATABASE_URL"], readyTimeoutMs });
    processes.push(proc);
    return proc;
  };

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), "sagad-e2e-embedded-"));
    // mkdtemp makes it 0700; postgres runs as its own user when we are root and must get in.
    await chmod(dataDir, 0o755);
  });

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop(10_000)));
    // If a sagad had to be SIGKILLed, its postgres outlives it: stop that one too (ours, by pid).
    await stopOrphanPostmaster(path.join(dataDir, "pgdata"));
    await rm(dataDir, { recursive: true, force: true });
  }, 60_000);

  it("starts with its own PostgreSQL in the data dir and says where it is", async () => {
    first = await start(FIRST_START_MS);
    expect(first.port).toBeGreaterThan(0);
    expect(existsSync(path.join(dataDir, "pgdata", "PG_VERSION")), "initdb ran in <data dir>/pgdata").toBe(true);
    expect(readFileSync(path.join(dataDir, "sagad.lock"), "utf8").trim()).toBe(String(first.pid));
    // "prints where it is": the data dir and a loopback database URL, with the password redacted.
    const log = first.stderr();
    expect(log).toContain(dataDir);
    expect(log).toMatch(/postgres(ql)?:\/\/[^"\s]*@127\.0\.0\.1:\d+\//);
    const password = readFileSync(path.join(dataDir, "postgres-password"), "utf8").trim();
    expect(log + first.stdout()).not.toContain(password);
  }, FIRST_START_MS + 10_000);

  it("on its first start creates an admin token and prints it once, on stdout and never in the log", async () => {
    const stdout = first.stdout();
    expect(stdout).toContain('created the admin token "bootstrap-admin"');
    expect(stdout).toContain("token create --name NAME --scope");
    token = TOKEN_PATTERN.exec(stdout)?.[0] ?? "";
    expect(token, describeOutput(first)).not.toBe("");
    expect(stdout.match(new RegExp(TOKEN_PATTERN, "g"))).toHaveLength(1);
    expect(first.stderr()).not.toContain(token);
    // It works (admin: DeleteSaga's scope), and without it calls are refused.
    await expectCode(createSagaClient(first.url, { token }).deleteSaga({ id: "00000000-0000-4000-8000-000000000000" }), Code.NotFound);
    await expectCode(createSagaClient(first.url).listSagas({}), Code.Unauthenticated);
  });

  it("serves CreateSaga and WatchSaga to completion", async () => {
    const client: SagaClient = createSagaClient(first.url, { token });
    const { saga } = await client.createSaga({
      name: "embedded",
      steps: [
        { name: "a", action: "noop" },
        { name: "b", action: "sleep", dependsOn: ["a"], config: { duration: "100ms" } },
        { name: "c", action: "noop", dependsOn: ["b"] },
      ],
    });
    sagaId = saga!.id;
    const messages = await collectWatch(client, { id: sagaId }, AbortSignal.timeout(15_000));
    expect(messages[0]?.kind.case).toBe("snapshot");
    const snapshot = messages[0]!.kind.value as { sequence: bigint };
    const events = eventsOf(messages);
    expectConsecutive(events, snapshot.sequence + 1n);
    const last = events.at(-1)!;
    expect(EventType[last.type]).toBe("SAGA_STATUS_CHANGED");
    expect(SagaStatus[last.sagaStatus]).toBe("COMPLETED");
    const done = (await client.getSaga({ id: sagaId })).saga!;
    expect(SagaStatus[done.status]).toBe("COMPLETED");
    expect(done.steps.map((s) => StepStatus[s.status])).toEqual(["COMPLETED", "COMPLETED", "COMPLETED"]);
  });

  it("refuses a second sagad on the same data dir with a clear message and a non-zero exit", async () => {
    const second = spawnSagad({ env: env(), unsetEnv: ["DATABASE_URL"] });
    processes.push(second);
    const status = await second.waitForExit(30_000);
    expect(status.code, describeOutput(second)).not.toBe(0);
    expect(status.code).not.toBeNull();
    expect(second.stdout()).not.toContain("sagad listening");
    expect(second.stderr()).toContain(`another sagad (pid ${first.pid}) is using ${dataDir}`);
    // The refusal took nothing from the first one: its lock and its database still work.
    expect(readFileSync(path.join(dataDir, "sagad.lock"), "utf8").trim()).toBe(String(first.pid));
    const saga = (await createSagaClient(first.url, { token }).getSaga({ id: sagaId })).saga!;
    expect(SagaStatus[saga.status]).toBe("COMPLETED");
  }, 40_000);

  it("token create joins the running sagad's PostgreSQL, and the running sagad accepts the new token", async () => {
    const created = await runSagadCli(["token", "create", "--name", "cli-reader", "--scope", "sagas:read"], {
      env: { SAGAD_DATA_DIR: dataDir },
      unsetEnv: ["DATABASE_URL"],
    });
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(new RegExp(`^${TOKEN_PATTERN.source}\n$`));
    expect(created.stderr).not.toContain("migrated");
    const reader = createSagaClient(first.url, { token: created.stdout.trim() });
    await waitUntil(async () => (await reader.getSaga({ id: sagaId }).then(() => true, () => false)), "sagad accepts the new token");
    await expectCode(reader.deleteSaga({ id: sagaId }), Code.PermissionDenied);
  }, 60_000);

  it("stops cleanly on SIGTERM: exit code 0 within a few seconds, postgres stopped, lock released", async () => {
    const stopping = performance.now();
    first.signal("SIGTERM");
    const status = await first.waitForExit(10_000);
    const tookMs = performance.now() - stopping;
    expect(status, describeOutput(first)).toEqual({ code: 0, signal: null });
    expect(tookMs).toBeLessThan(5_000);
    expect(first.stdout()).toContain("SIGTERM, shutting down");
    expect(existsSync(path.join(dataDir, "sagad.lock")), "lock file removed").toBe(false);
    expect(existsSync(path.join(dataDir, "pgdata", "postmaster.pid")), "postgres shut down").toBe(false);
  }, 20_000);

  it("token list with no sagad running starts the embedded PostgreSQL for the command, shows no secret, and stops it", async () => {
    const listed = await runSagadCli(["token", "list"], { env: { SAGAD_DATA_DIR: dataDir }, unsetEnv: ["DATABASE_URL"] });
    expect(listed.code, listed.stderr).toBe(0);
    const rows = listed.stdout.trimEnd().split("\n").map((line) => line.split(/ {2,}/));
    expect(rows[0]).toEqual(["NAME", "KEY ID", "SCOPES", "CREATED", "REVOKED"]);
    expect(rows.slice(1).map((r) => [r[0], r[2], r[4]])).toEqual([
      ["bootstrap-admin", "admin", "-"],
      ["cli-reader", "sagas:read", "-"],
    ]);
    expect(listed.stdout).not.toMatch(TOKEN_PATTERN);
    expect(listed.stdout).not.toContain(token.slice(-43));
    expect(existsSync(path.join(dataDir, "sagad.lock")), "lock file released").toBe(false);
    expect(existsSync(path.join(dataDir, "pgdata", "postmaster.pid")), "postgres stopped again").toBe(false);
  }, 60_000);

  it("restarts on the same data dir and still has the saga, COMPLETED", async () => {
    const again = await start(60_000);
    expect(again.stderr()).not.toContain("initialising embedded postgres");
    // Tokens exist, so no second bootstrap token; the first one still works.
    expect(again.stdout()).not.toMatch(TOKEN_PATTERN);
    expect(again.stdout()).not.toContain("bootstrap-admin");
    const saga = (await createSagaClient(again.url, { token }).getSaga({ id: sagaId })).saga!;
    expect(SagaStatus[saga.status]).toBe("COMPLETED");
    expect(saga.name).toBe("embedded");
    expect(saga.steps.map((s) => `${s.name}:${StepStatus[s.status]}`)).toEqual(["a:COMPLETED", "b:COMPLETED", "c:COMPLETED"]);

    again.signal("SIGTERM");
    expect(await again.waitForExit(10_000), describeOutput(again)).toEqual({ code: 0, signal: null });
  }, 70_000);

  it("on a terminal's Ctrl-C (SIGINT to its whole process group) drains with postgres still up, then stops it", async () => {
    // Its own process group, like a foreground job in a shell; postgres must not be in it.
    const sagad = await startSagad({ env: env(), unsetEnv: ["DATABASE_URL"], readyTimeoutMs: 60_000, detached: true });
    processes.push(sagad);
    const client = createSagaClient(sagad.url, { token });
    const { saga } = await client.createSaga({
      name: "ctrl-c",
      steps: [{ name: "slow", action: "sleep", config: { duration: "3s" } }],
    });
    const id = saga!.id;
    await waitUntil(
      async () => StepStatus[(await client.getSaga({ id })).saga!.steps[0]!.status] === "RUNNING",
      "step slow RUNNING",
    );
    const postmaster = Number.parseInt(readFileSync(path.join(dataDir, "pgdata", "postmaster.pid"), "utf8"), 10);

    process.kill(-sagad.pid, "SIGINT");
    // sagad is draining (the step has ~2 s left); its postgres did not get the group's SIGINT.
    await sleep(1_000);
    expect(sagad.exitStatus(), describeOutput(sagad)).toBeNull();
    expect(isAlive(postmaster), "postgres still running while sagad drains").toBe(true);

    const status = await sagad.waitForExit(20_000);
    expect(status, describeOutput(sagad)).toEqual({ code: 0, signal: null });
    expect(sagad.stdout()).toContain("SIGINT, shutting down");
    expect(existsSync(path.join(dataDir, "sagad.lock")), "lock file removed").toBe(false);
    expect(existsSync(path.join(dataDir, "pgdata", "postmaster.pid")), "postgres shut down").toBe(false);

    // The step that was in flight finished during the drain and was recorded.
    const again = await start(60_000);
    const done = (await createSagaClient(again.url, { token }).getSaga({ id })).saga!;
    expect(SagaStatus[done.status]).toBe("COMPLETED");
    expect(done.steps.map((s) => `${s.name}:${StepStatus[s.status]}`)).toEqual(["slow:COMPLETED"]);
    again.signal("SIGTERM");
    expect(await again.waitForExit(10_000), describeOutput(again)).toEqual({ code: 0, signal: null });
  }, 120_000);
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Stops (SIGINT: fast shutdown) a postmaster still running on `pgdata`, identified by its `-D` argument. */
async function stopOrphanPostmaster(pgdata: string): Promise<void> {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(path.join(pgdata, "postmaster.pid"), "utf8"), 10);
  } catch {
    return;
  }
  const isOurs = () => {
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      return args.some((arg, i) => arg === "-D" && args[i + 1] === pgdata);
    } catch {
      return false;
    }
  };
  if (!(pid > 0) || !isOurs()) return;
  process.kill(pid, "SIGINT");
  for (let waited = 0; waited < 15_000 && isOurs(); waited += 100) await sleep(100);
  if (isOurs()) process.kill(pid, "SIGKILL");
}
