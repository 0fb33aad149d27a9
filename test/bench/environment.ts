import { execFile } from "node:child_process";
import { rmSync } from "node:fs";
import { chmod, cp, mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { startEmbeddedPostgres } from "../../src/store/embedded-postgres.js";
import { withAdminClient } from "../helpers/admin-client.js";
import { PROJECT_ROOT, startSagad, type RunningSagad } from "../helpers/replica-process.js";

const run = promisify(execFile);

/** The database a benchmark runs on: a scratch database of its own, dropped (or stopped) at the end. */
export interface BenchDatabase {
  readonly url: string;
  readonly kind: "external" | "embedded";
  /** Whether pg_stat_statements can be read in this database. */
  readonly statementStats: boolean;
  close(): Promise<void>;
}

/**
 * With DATABASE_URL: a fresh database on that server (so pg_stat_database counts only our work).
 * Without: an embedded PostgreSQL in a temporary directory, with pg_stat_statements loaded.
 */
export async function openBenchDatabase(prefix = "sagad_bench"): Promise<BenchDatabase> {
  const adminUrl = process.env.DATABASE_URL;
  if (adminUrl) {
    const name = `${prefix}_${Date.now()}_${process.pid}`;
    await withClient(adminUrl, (c) => c.query(`CREATE DATABASE ${name}`));
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    return {
      url: url.href,
      kind: "external",
      statementStats: await tryEnableStatementStats(url.href),
      close: () => withClient(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
    };
  }
  const dataDir = await mkdtemp(path.join(os.tmpdir(), `${prefix.replaceAll("_", "-")}-`));
  // mkdtemp makes it 0700; postgres runs as its own user when we are root and must get in.
  await chmod(dataDir, 0o755);
  const embedded = await startEmbeddedPostgres({
    dataDir,
    settings: { shared_preload_libraries: "pg_stat_statements", "pg_stat_statements.track_planning": "on" },
  });
  return {
    url: embedded.databaseUrl,
    kind: "embedded",
    statementStats: await tryEnableStatementStats(embedded.databaseUrl),
    async close() {
      await embedded.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

async function tryEnableStatementStats(url: string): Promise<boolean> {
  try {
    await withClient(url, async (c) => {
      await c.query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
      await c.query("SELECT 1 FROM pg_stat_statements LIMIT 1");
    });
    return true;
  } catch {
    return false; // not in shared_preload_libraries on this server
  }
}

/** A short-lived connection for the benchmark's own queries (setup, counters). */
export const withClient = withAdminClient;

/** Creates an admin token with the real CLI, as an operator would; returns its secret. */
export function createAdminToken(databaseUrl: string, name = `bench-${Date.now()}`): Promise<string> {
  return createToken(databaseUrl, "admin", name);
}

/** Creates a token of one scope (e.g. `workers`) with the real CLI; returns its secret. */
export async function createToken(databaseUrl: string, scope: string, name: string): Promise<string> {
  const { stdout } = await run(
    process.execPath,
    ["--import", "tsx", "src/main.ts", "token", "create", "--scope", scope, "--name", name],
    { cwd: PROJECT_ROOT, env: { ...process.env, DATABASE_URL: databaseUrl } },
  );
  return stdout.trim();
}

/** The environment of one sagad replica on `databaseUrl`: quiet JSON logs, a free port unless given. */
export function replicaEnv(databaseUrl: string, replicaId: string, extraEnv: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    SAGAD_PORT: "0",
    SAGAD_REPLICA_ID: replicaId,
    SAGAD_LOG_LEVEL: "warn",
    SAGAD_LOG_FORMAT: "json",
    ...extraEnv,
  };
}

/** Starts `count` sagad processes on the database, each on its own free port, named `<idPrefix>-<n>`. */
export async function startReplicas(
  databaseUrl: string,
  count: number,
  extraEnv: Record<string, string> = {},
  idPrefix = "bench",
  nodeArgs: string[] = [],
  compiledEntry?: string,
): Promise<RunningSagad[]> {
  const replicas: RunningSagad[] = [];
  for (let i = 0; i < count; i++) {
    replicas.push(await startSagad({ env: replicaEnv(databaseUrl, `${idPrefix}-${i + 1}`, extraEnv), nodeArgs, compiledEntry }));
  }
  return replicas;
}

/** The entry point `npm run build` makes: what the installed package's `sagad` command runs. */
export const COMPILED_ENTRY = "dist/src/main.js";

/**
 * Where the bench's own build lives: inside node_modules/.cache, so that its imports resolve to
 * the project's node_modules, and apart from `dist/`, which tests running alongside rebuild (and
 * empty first) whenever they like.
 */
let buildRoot = path.join(PROJECT_ROOT, "dist");

/** The root of the compiled tree the replicas run (`src/main.js` under it); child scripts compile beside it. */
export function compiledRoot(): string {
  return buildRoot;
}

/**
 * Compiles the server as the package ships it (`npm run build`: tsc with tsconfig.build.json, then
 * the migrations copied), into a directory of this bench run's own, so the benchmark measures
 * what runs in production rather than the sources through tsx's loader, which costs sagad ~12%
 * more CPU per step here. Returns the entry point's absolute path.
 */
export async function buildServer(): Promise<string> {
  const root = path.join(PROJECT_ROOT, "node_modules", ".cache", "sagad-bench", `build-${process.pid}`);
  await rm(root, { recursive: true, force: true });
  await run(process.execPath, [path.join(PROJECT_ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json", "--outDir", root], { cwd: PROJECT_ROOT });
  await cp(path.join(PROJECT_ROOT, "src", "store", "migrations"), path.join(root, "src", "store", "migrations"), { recursive: true });
  buildRoot = root;
  process.once("exit", () => rmSync(root, { recursive: true, force: true }));
  return path.join(root, "src", "main.js");
}

/** Resident set size of a process, in MiB (Linux /proc). */
export async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1]);
  return Math.round((kb / 1024) * 10) / 10;
}
