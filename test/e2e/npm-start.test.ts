import { existsSync, readFileSync } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSagaClient, SagaStatus, StepStatus } from "../../src/client/index.js";
import { describeOutput, startSagad, type SagadProcess } from "../helpers/replica-process.js";
import { waitUntil } from "../helpers/wait.js";

const TOKEN = /sagad_[0-9a-f]{16}_[A-Za-z0-9_-]{43}/;

/**
 * `npm start` under a supervisor (docker's `CMD ["npm", "start"]`, systemd, a CI runner): the
 * supervisor's SIGTERM goes to npm, and must reach sagad so that it drains and stops its
 * PostgreSQL instead of being SIGKILLed later. A terminal's Ctrl-C reaches sagad twice (from the
 * terminal and forwarded by npm) and must still drain, not abort.
 */
describe("npm start passes signals on to sagad", () => {
  let dataDir: string;
  const processes: SagadProcess[] = [];

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), "sagad-e2e-npm-"));
    // mkdtemp makes it 0700; this test is about signals, not about private folders.
    await chmod(dataDir, 0o755);
  });
  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop(10_000)));
    await rm(dataDir, { recursive: true, force: true });
  }, 30_000);

  const start = async (extra: { detached?: boolean } = {}) => {
    const npm = await startSagad({
      npm: ["start"],
      env: { SAGAD_DATA_DIR: dataDir, SAGAD_PORT: "0", SAGAD_LOG_FORMAT: "json" },
      unsetEnv: ["DATABASE_URL"],
      readyTimeoutMs: 90_000,
      ...extra,
    });
    processes.push(npm);
    return npm;
  };

  it("SIGTERM to npm drains a running step, then sagad stops its PostgreSQL and exits 0", async () => {
    const npm = await start();
    const token = TOKEN.exec(npm.stdout())?.[0];
    expect(token, "the first start prints an admin token").toBeDefined();
    // The console is served by the same process with no extra step (`npm ci` built it).
    await waitUntil(() => npm.stdout().includes(`web console: ${npm.url}/console/`), "the console's line on stdout");
    const page = await fetch(`${npm.url}/`);
    expect(page.url).toBe(`${npm.url}/console/`);
    expect(await page.text()).toContain('<div id="app"></div>');
    const client = createSagaClient(npm.url, { token });
    const { saga } = await client.createSaga({ name: "drain", steps: [{ name: "slow", action: "sleep", config: { duration: "2s" } }] });
    const id = saga!.id;
    await waitUntil(async () => StepStatus[(await client.getSaga({ id })).saga!.steps[0]!.status] === "RUNNING", "step RUNNING");
    const postmaster = Number.parseInt(readFileSync(path.join(dataDir, "pgdata", "postmaster.pid"), "utf8"), 10);

    npm.signal("SIGTERM");
    const status = await npm.waitForExit(20_000);

    expect(status, describeOutput(npm)).toEqual({ code: 0, signal: null });
    expect(npm.stdout()).toContain("sagad: SIGTERM, shutting down");
    expect(npm.stderr()).toContain('"msg":"sagad stopped"');
    expect(isAlive(postmaster), "its postgres stopped").toBe(false);
    expect(existsSync(path.join(dataDir, "sagad.lock")), "lock released").toBe(false);

    // The step in flight finished during the drain: the next start finds the saga COMPLETED.
    const again = await start();
    const done = (await createSagaClient(again.url, { token }).getSaga({ id })).saga!;
    expect(SagaStatus[done.status]).toBe("COMPLETED");
    again.signal("SIGTERM");
    expect(await again.waitForExit(20_000), describeOutput(again)).toEqual({ code: 0, signal: null });
  }, 180_000);

  it("a terminal's Ctrl-C (SIGINT to npm and sagad, then npm's copy) drains instead of aborting", async () => {
    // npm and sagad share a new process group, as a shell's foreground job does.
    const npm = await start({ detached: true });
    process.kill(-npm.pid, "SIGINT");
    const status = await npm.waitForExit(20_000);
    // npm ends by the same signal it got; what matters is that sagad drained and stopped.
    expect(npm.stdout()).toContain("sagad: SIGINT, shutting down");
    expect(npm.stderr(), describeOutput(npm)).toContain('"msg":"sagad stopped"');
    expect(status.code === 0 || status.signal === "SIGINT", JSON.stringify(status)).toBe(true);
    expect(existsSync(path.join(dataDir, "pgdata", "postmaster.pid")), "postgres stopped").toBe(false);
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
