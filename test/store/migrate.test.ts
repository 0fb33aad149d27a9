import { afterEach, describe, expect, it } from "vitest";
import { loadMigrations, migrate } from "../../src/store/migrate.js";
import { createPool } from "../../src/store/pool.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";

describe("migrate", () => {
  const databases: TestDatabase[] = [];
  afterEach(async () => {
    await Promise.all(databases.splice(0).map((db) => db.drop()));
  });
  async function emptyDatabase(): Promise<TestDatabase> {
    const db = await createTestDatabase({ migrated: false });
    databases.push(db);
    return db;
  }

  it("applies every migration to a fresh database and records them", async () => {
    const latest = (await loadMigrations()).length;
    const { pool } = await emptyDatabase();
    const logged: string[] = [];

    const result = await migrate(pool, { log: (msg) => logged.push(msg) });

    const all = Array.from({ length: latest }, (_, i) => i + 1);
    expect(result).toEqual({ applied: all, version: latest });
    expect(logged).toContain("applied migration 0001_init");
    const { rows } = await pool.query("SELECT version, name FROM schema_migrations ORDER BY version");
    expect(rows[0]).toEqual({ version: 1, name: "init" });
    expect(rows).toHaveLength(latest);
    await expect(pool.query("SELECT count(*) FROM sagas")).resolves.toBeDefined();
  });

  it("is idempotent", async () => {
    const { pool } = await emptyDatabase();
    const first = await migrate(pool);

    const second = await migrate(pool);

    expect(second).toEqual({ applied: [], version: first.version });
  });

  it("applies each migration once when two processes migrate at the same time", async () => {
    const latest = (await loadMigrations()).length;
    const db = await emptyDatabase();
    // A second pool stands in for a second replica: separate connections racing for the lock.
    const other = createPool(db.url);
    try {
      const results = await Promise.all([migrate(db.pool), migrate(other)]);

      expect(results.map((r) => r.version)).toEqual([latest, latest]);
      expect(results.flatMap((r) => r.applied).sort((a, b) => a - b)).toEqual(
        Array.from({ length: latest }, (_, i) => i + 1),
      );
    } finally {
      await other.end();
    }
  });

  it("refuses a database migrated by a newer sagad", async () => {
    const latest = (await loadMigrations()).length;
    const { pool } = await emptyDatabase();
    await migrate(pool);
    await pool.query("INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', now())");

    await expect(migrate(pool)).rejects.toThrow(
      `database schema version 9999 is newer than this sagad (knows up to ${latest}); upgrade sagad`,
    );
  });

  it("rolls back a failing migration together with its version row", async () => {
    const { pool } = await emptyDatabase();
    // The init migration creates `sagas`; a table already squatting that name makes it fail.
    await pool.query("CREATE TABLE sagas (x int)");

    await expect(migrate(pool)).rejects.toThrow(/^migration 0001_init failed: /);
    await pool.query("DROP TABLE sagas");

    // Nothing of the failed attempt stuck, so the retry applies version 1 from scratch.
    await expect(migrate(pool)).resolves.toMatchObject({ applied: expect.arrayContaining([1]) });
  });
});
