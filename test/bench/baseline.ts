import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** The one statement the baseline measures: what a single fenced saga transition can at best cost. */
const SINGLE_ROW_UPDATE = "\\set aid random(1, 100000)\nUPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = :aid;\n";

/**
 * pgbench single-row UPDATE TPS (8 clients, 2 threads) on the benchmark's own database, right
 * before the measurements: these machines are noisy, so rates are also reported as a ratio to it.
 */
export async function pgbenchBaseline(databaseUrl: string, seconds: number): Promise<number> {
  const url = new URL(databaseUrl);
  const env = {
    ...process.env,
    PGHOST: url.hostname,
    PGPORT: url.port || "5432",
    PGUSER: decodeURIComponent(url.username) || "postgres",
    PGPASSWORD: decodeURIComponent(url.password),
    PGDATABASE: url.pathname.slice(1),
  };
  const dir = await mkdtemp(path.join(os.tmpdir(), "sagad-pgbench-"));
  try {
    const script = path.join(dir, "update.sql");
    await writeFile(script, SINGLE_ROW_UPDATE);
    await run("pgbench", ["-i", "-s", "1", "-q"], { env });
    const { stdout } = await run("pgbench", ["-n", "-c", "8", "-j", "2", "-T", String(seconds), "-f", script], { env });
    const tps = /tps = ([\d.]+)/.exec(stdout)?.[1];
    if (!tps) throw new Error(`could not read pgbench output:\n${stdout}`);
    await run("psql", ["-qc", "DROP TABLE pgbench_accounts, pgbench_branches, pgbench_tellers, pgbench_history"], { env });
    return Number(tps);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
