import type { Config } from "../config.js";
import { runningEmbeddedPostgres, startEmbeddedPostgres } from "../store/embedded-postgres.js";

/** A database for one CLI command; `close` stops whatever the command had to start. */
export interface CliDatabase {
  readonly url: string;
  /** Where it came from, for the user: "DATABASE_URL", "the running sagad's embedded PostgreSQL", … */
  readonly source: string;
  close(): Promise<void>;
}

/**
 * The database the server would use with the same settings: `--database-url`/`DATABASE_URL`, or
 * else the embedded PostgreSQL in the data dir. A sagad running on that data dir owns its
 * postgres (and the lock), so the CLI connects to that instance; otherwise it starts postgres
 * itself for the command and stops it afterwards (a sagad started meanwhile is refused by the
 * lock, as a second sagad would be).
 */
export async function openCliDatabase(config: Config): Promise<CliDatabase> {
  if (config.databaseUrl !== undefined) {
    return { url: config.databaseUrl, source: "the configured database URL", close: async () => {} };
  }
  const running = await runningEmbeddedPostgres(config.dataDir);
  if (running !== null) {
    return { url: running, source: `the running sagad's embedded PostgreSQL in ${config.dataDir}`, close: async () => {} };
  }
  const embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, rootPostgresDir: config.rootPostgresDir });
  return { url: embedded.databaseUrl, source: `the embedded PostgreSQL in ${config.dataDir}`, close: () => embedded.stop() };
}
