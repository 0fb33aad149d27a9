import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "../../src/store/embedded-postgres.js";

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

/** The first start picks a free port; every restart reuses it, so URLs stay valid. */
export async function startRestartablePostgres(): Promise<RestartablePostgres> {
  const dataDir = await mkdtemp(path.join(tmpdir(), "sagad-pg-restart-"));
  // mkdtemp makes it 0700; postgres runs as its own user when we are root and must get in.
  await chmod(dataDir, 0o755);
  const lines: string[] = [];
  const log = (msg: string) => {
    lines.push(msg.trimEnd());
    if (lines.length > 200) lines.shift();
  };
  try {
    let running: EmbeddedPostgres | null = await startEmbeddedPostgres({ dataDir, settings: SETTINGS, log });
    const first = new URL(running.databaseUrl);
    const port = Number(first.port);
    const url = (database: string) => {
      const u = new URL(first);
      u.pathname = `/${database}`;
      return u.toString();
    };
    const start = async () => {
      running ??= await startEmbeddedPostgres({ dataDir, settings: SETTINGS, log, port });
    };
    const stop = async () => {
      const pg = running;
      running = null;
      await pg?.stop();
    };
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
          await rm(dataDir, { recursive: true, force: true });
        })()),
    };
  } catch (err) {
    await rm(dataDir, { recursive: true, force: true });
    throw new Error(`could not start a private postgres: ${String(err)}\n${lines.join("\n")}`, { cause: err });
  }
}
