import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmbeddedPostgres } from "../../src/store/embedded-postgres.js";
import { waitUntil } from "../helpers/wait.js";

async function query(url: string, sql: string): Promise<unknown[]> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

function lockMessage(pid: number, dir: string): string {
  return `another sagad (pid ${pid}) is using ${dir}; stop it or choose another --data-dir`;
}

describe("startEmbeddedPostgres", () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), "sagad-embedded-test-"));
    // Postgres runs as its own user when the tests run as root and must reach the data dirs.
    await chmod(root, 0o755);
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("runs postgres, locks its directory and keeps data across restarts", async () => {
    const dataDir = path.join(root, "restart");
    const first = await startEmbeddedPostgres({ dataDir });
    try {
      expect(first.databaseUrl).toMatch(/^postgres:\/\/postgres:[^@]+@127\.0\.0\.1:\d+\/sagad$/);
      await expect(query(first.databaseUrl, "SELECT 1 AS one")).resolves.toEqual([{ one: 1 }]);
      await query(first.databaseUrl, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')");

      await expect(startEmbeddedPostgres({ dataDir })).rejects.toThrow(lockMessage(process.pid, dataDir));
    } finally {
      await first.stop();
    }

    const second = await startEmbeddedPostgres({ dataDir });
    try {
      await expect(query(second.databaseUrl, "SELECT v FROM kept")).resolves.toEqual([{ v: "still here" }]);
    } finally {
      await second.stop();
    }
  });

  it("refuses a directory locked by another live process, without starting postgres", async () => {
    const dataDir = path.join(root, "foreign");
    await mkdir(dataDir);
    // Our parent (the vitest main process) is certainly alive and is not us.
    await writeFile(path.join(dataDir, "sagad.lock"), `${process.ppid}\n`);

    await expect(startEmbeddedPostgres({ dataDir })).rejects.toThrow(lockMessage(process.ppid, dataDir));
    await expect(readFile(path.join(dataDir, "sagad.lock"), "utf8")).resolves.toBe(`${process.ppid}\n`);
  });

  it("recovers the directory of a sagad that was killed with SIGKILL", async () => {
    const dataDir = path.join(root, "killed");
    const moduleUrl = new URL("../../src/store/embedded-postgres.ts", import.meta.url).href;
    const script = `
      import { startEmbeddedPostgres } from ${JSON.stringify(moduleUrl)};
      import pg from "pg";
      const { databaseUrl } = await startEmbeddedPostgres({ dataDir: process.argv[1] });
      const client = new pg.Client(databaseUrl);
      await client.connect();
      await client.query("CREATE TABLE survived (v int); INSERT INTO survived VALUES (42)");
      console.log("ready");
      setInterval(() => {}, 60_000);`;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script, dataDir], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const [chunk] = (await once(child.stdout, "data")) as [Buffer];
    expect(chunk.toString()).toContain("ready");
    child.kill("SIGKILL");
    await once(child, "exit");

    // The dead sagad's lock and its still-running postgres are both taken over.
    const logged: string[] = [];
    const recovered = await startEmbeddedPostgres({ dataDir, log: (msg) => logged.push(msg) });
    try {
      expect(logged.join("\n")).toMatch(/taking over stale lock[\s\S]*stopping postgres \(pid \d+\) left running/);
      await expect(query(recovered.databaseUrl, "SELECT v FROM survived")).resolves.toEqual([{ v: 42 }]);
    } finally {
      await recovered.stop();
    }
  });

  it("stops its postgres when a Ctrl-C to the process group ends a process that does not handle SIGINT", async () => {
    // Postgres is not in our process group, so the terminal's SIGINT reaches only the process;
    // dying of it runs no exit hook, yet postgres must not be left running.
    const dataDir = path.join(root, "interrupted");
    const moduleUrl = new URL("../../src/store/embedded-postgres.ts", import.meta.url).href;
    const script = `
      import { startEmbeddedPostgres } from ${JSON.stringify(moduleUrl)};
      await startEmbeddedPostgres({ dataDir: process.argv[1] });
      console.log("ready");
      setInterval(() => {}, 60_000);`;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script, dataDir], {
      detached: true,
      stdio: ["ignore", "pipe", "inherit"],
    });
    try {
      const [chunk] = (await once(child.stdout, "data")) as [Buffer];
      expect(chunk.toString()).toContain("ready");
      const exited = once(child, "exit");
      process.kill(-child.pid!, "SIGINT");
      expect(await exited).toEqual([null, "SIGINT"]);
      expect(existsSync(path.join(dataDir, "sagad.lock")), "lock file removed").toBe(false);
      await waitUntil(() => !existsSync(path.join(dataDir, "pgdata", "postmaster.pid")), "postgres shut down", 15_000);
    } catch (err) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGKILL");
        await once(child, "exit");
      }
      // Takes over (stops) a postgres that the failure left running.
      await startEmbeddedPostgres({ dataDir }).then((pg) => pg.stop(), () => undefined);
      throw err;
    }
    // Nothing left over: the next start needs no recovery.
    const logged: string[] = [];
    const next = await startEmbeddedPostgres({ dataDir, log: (msg) => logged.push(msg) });
    await next.stop();
    expect(logged.join("\n")).not.toMatch(/stale lock|left running/);
  });
});
