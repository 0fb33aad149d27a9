import { execFile } from "node:child_process";
import { existsSync, lstatSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { chmod, cp, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSagaClient, SagaStatus } from "../../src/client/index.js";
import { runCommand } from "../helpers/run-command.js";
import { describeOutput, PROJECT_ROOT, spawnSagad, startSagad, type SagadProcess } from "../helpers/replica-process.js";
import { waitUntil } from "../helpers/wait.js";

const TOKEN = /sagad_[0-9a-f]{16}_[A-Za-z0-9_-]{43}/;
const isRoot = process.getuid?.() === 0;

/**
 * As root, the embedded PostgreSQL runs as the `postgres` user. A checkout inside a folder only
 * root can enter (`/root`, any `mktemp -d`) puts both its programs (node_modules) and its data
 * (./.sagad) out of that user's reach. This test makes that situation itself: a copy of the
 * project (sources, package.json, node_modules as hard links) inside a fresh 0700 folder, started
 * with `npm start` as a new user would. CI runs the tests as root, so it runs there.
 */
describe.runIf(isRoot)("as root, from a checkout in a private folder", () => {
  let privateDir: string;
  let checkout: string;
  /** Stands in for /var/lib/sagad, so the test leaves nothing behind. */
  let rootPostgresDir: string;
  const processes: SagadProcess[] = [];
  let token: string;
  let sagaId: string;

  const env = () => ({ SAGAD_PORT: "0", SAGAD_ROOT_POSTGRES_DIR: rootPostgresDir, SAGAD_LOG_FORMAT: "json" });
  const npmStart = async () => {
    const proc = await startSagad({ npm: ["start"], cwd: checkout, env: env(), unsetEnv: ["DATABASE_URL", "SAGAD_DATA_DIR"], readyTimeoutMs: 120_000 });
    processes.push(proc);
    return proc;
  };

  beforeAll(async () => {
    privateDir = await mkdtemp(path.join(tmpdir(), "sagad-private-"));
    expect(statSync(privateDir).mode & 0o777).toBe(0o700);
    checkout = path.join(privateDir, "p");
    await mkdir(checkout);
    for (const entry of ["src", "package.json", "tsconfig.json"]) {
      await cp(path.join(PROJECT_ROOT, entry), path.join(checkout, entry), { recursive: true });
    }
    // Hard links are instant; another filesystem needs a real copy.
    const linked = await runCommand("cp", ["-al", path.join(PROJECT_ROOT, "node_modules"), checkout], { cwd: PROJECT_ROOT, timeoutMs: 60_000 });
    if (linked.code !== 0) await runCommand("cp", ["-a", path.join(PROJECT_ROOT, "node_modules"), checkout], { cwd: PROJECT_ROOT, timeoutMs: 120_000 });
    rootPostgresDir = await mkdtemp(path.join(tmpdir(), "sagad-root-postgres-"));
    await chmod(rootPostgresDir, 0o755);
  }, 180_000);

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop(10_000)));
    await rm(privateDir, { recursive: true, force: true });
    await rm(rootPostgresDir, { recursive: true, force: true });
  }, 60_000);

  it("the postgres user really cannot enter the checkout", async () => {
    const probe = await promisify(execFile)("su", ["-s", "/bin/sh", "postgres", "-c", `test -x ${checkout}/node_modules && echo yes || echo no`]);
    expect(probe.stdout.trim()).toBe("no");
  });

  it("npm start serves with the embedded PostgreSQL, its cluster linked from ./.sagad, and a saga completes", async () => {
    const sagad = await npmStart();
    token = TOKEN.exec(sagad.stdout())?.[0] ?? "";
    expect(token, "the first start prints an admin token").not.toBe("");

    const link = path.join(checkout, ".sagad", "pgdata");
    expect(lstatSync(link).isSymbolicLink(), "./.sagad/pgdata is a link to the cluster").toBe(true);
    const cluster = readlinkSync(link);
    expect(cluster.startsWith(path.join(rootPostgresDir, "clusters") + path.sep), cluster).toBe(true);
    expect(readFileSync(path.join(path.dirname(cluster), "data-dir"), "utf8").trim()).toBe(path.join(checkout, ".sagad"));
    expect(existsSync(path.join(rootPostgresDir, "runtime")), "programs copied where postgres can run them").toBe(true);
    expect(sagad.stderr()).toContain(cluster);
    // Lock and password stay in the data dir; the user's folders keep their permissions.
    expect(statSync(privateDir).mode & 0o777).toBe(0o700);
    expect(statSync(path.join(checkout, ".sagad", "postgres-password")).mode & 0o777).toBe(0o600);

    const client = createSagaClient(sagad.url, { token });
    const { saga } = await client.createSaga({
      name: "private",
      steps: [
        { name: "a", action: "noop", config: { v: 1 } },
        { name: "b", action: "noop", dependsOn: ["a"], config: { v: "{{steps.a.output.v}}" } },
      ],
    });
    sagaId = saga!.id;
    await waitUntil(async () => (await client.getSaga({ id: sagaId })).saga!.status === SagaStatus.COMPLETED, "saga COMPLETED");

    // A second sagad on the same data dir is refused.
    const second = spawnSagad({ cwd: checkout, env: env(), unsetEnv: ["DATABASE_URL", "SAGAD_DATA_DIR"] });
    processes.push(second);
    expect(await second.waitForExit(30_000)).toEqual({ code: 1, signal: null });
    const owner = readFileSync(path.join(checkout, ".sagad", "sagad.lock"), "utf8").trim();
    expect(second.stderr()).toContain(`another sagad (pid ${owner}) is using ${path.join(checkout, ".sagad")}`);

    sagad.signal("SIGTERM");
    expect(await sagad.waitForExit(20_000), describeOutput(sagad)).toEqual({ code: 0, signal: null });
    expect(existsSync(path.join(cluster, "postmaster.pid")), "postgres stopped").toBe(false);
  }, 180_000);

  it("a second npm start keeps the saga and the token; `sagad token create` works beside it", async () => {
    const again = await npmStart();
    expect(again.stdout()).not.toMatch(TOKEN);
    const saga = (await createSagaClient(again.url, { token }).getSaga({ id: sagaId })).saga!;
    expect(SagaStatus[saga.status]).toBe("COMPLETED");

    // As the README's tour does: a token from the running sagad's own embedded database, whose
    // ./.sagad/pgdata is a link (postgres runs with -D on its target).
    const env: NodeJS.ProcessEnv = { ...process.env, SAGAD_ROOT_POSTGRES_DIR: rootPostgresDir };
    delete env.DATABASE_URL;
    delete env.SAGAD_DATA_DIR;
    const created = await runCommand(process.execPath, ["--import", "tsx", "src/main.ts", "token", "create", "--name", "beside", "--scope", "sagas:read"], { cwd: checkout, timeoutMs: 60_000, env });
    expect(created.code, created.stderr).toBe(0);
    const issued = TOKEN.exec(created.stdout)?.[0] ?? "";
    expect(issued, created.stdout).not.toBe("");
    await waitUntil(async () => {
      const answer = await createSagaClient(again.url, { token: issued }).getSaga({ id: sagaId }).catch(() => null);
      return answer?.saga?.id === sagaId;
    }, "the running sagad accepts the new token", 10_000);
    again.signal("SIGTERM");
    expect(await again.waitForExit(20_000), describeOutput(again)).toEqual({ code: 0, signal: null });
  }, 180_000);

  it("where the cluster cannot be placed either, it says why and what to do in one line, exit code 1", async () => {
    // /sys refuses every mkdir, as a read-only disk would.
    const failed = spawnSagad({
      cwd: checkout,
      env: { ...env(), SAGAD_DATA_DIR: path.join(privateDir, "elsewhere"), SAGAD_ROOT_POSTGRES_DIR: "/sys/sagad-cannot-be-here" },
      unsetEnv: ["DATABASE_URL"],
    });
    processes.push(failed);
    expect(await failed.waitForExit(30_000)).toEqual({ code: 1, signal: null });
    const lines = failed.stderr().trim().split("\n");
    expect(lines, failed.stderr()).toHaveLength(1);
    expect(lines[0]).toMatch(/^sagad: cannot start the embedded PostgreSQL in .*elsewhere: .*\/sys\/sagad-cannot-be-here.*; choose another --data-dir, or set DATABASE_URL/);
    expect(failed.stderr()).not.toMatch(/\n\s+at /);
  }, 60_000);
});
