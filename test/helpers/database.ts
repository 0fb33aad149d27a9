import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { inject } from "vitest";
import { createPool } from "../../src/store/pool.js";
import { withAdminClient } from "./admin-client.js";

/** A database of the test's own, dropped when the test is done with it. */
export interface TestDatabase {
  /** Connection string, e.g. to hand to a sagad child process as DATABASE_URL. */
  readonly url: string;
  /** Pool on {@link url}; ended by {@link drop}. */
  readonly pool: pg.Pool;
  /** Ends the pool and drops the database, disconnecting anyone still on it. Idempotent. */
  drop(): Promise<void>;
}

/** Postgres refuses to copy a template while another session is connected to it. */
const SOURCE_IN_USE = "55006";

/**
 * Creates a fresh, fully migrated database (`CREATE DATABASE … TEMPLATE`, a file copy, much
 * faster than migrating) so tests never share mutable state and may run in parallel. Call it in
 * `beforeAll`/`beforeEach` and `drop()` it in the matching after-hook. `migrated: false` gives an
 * empty database instead, for testing migrations themselves.
 */
export async function createTestDatabase(options: { migrated?: boolean } = {}): Promise<TestDatabase> {
  const adminUrl = inject("adminDatabaseUrl");
  const template = inject("templateDatabase");
  const name = `${template}_${randomBytes(6).toString("hex")}`;
  await withAdminClient(adminUrl, async (admin) => {
    for (let attempt = 1; ; attempt++) {
      try {
        const source = options.migrated === false ? "" : ` TEMPLATE ${admin.escapeIdentifier(template)}`;
        await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(name)}${source}`);
        return;
      } catch (err) {
        if ((err as { code?: string }).code !== SOURCE_IN_USE || attempt >= 10) throw err;
        await sleep(50 * attempt);
      }
    }
  });
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const pool = createPool(url.href, { applicationName: "sagad-test" });
  let dropping: Promise<void> | undefined;
  return {
    url: url.href,
    pool,
    drop: () =>
      (dropping ??= (async () => {
        await pool.end();
        await withAdminClient(adminUrl, (admin) =>
          admin.query(`DROP DATABASE IF EXISTS ${admin.escapeIdentifier(name)} WITH (FORCE)`),
        );
      })()),
  };
}
