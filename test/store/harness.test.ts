import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";

describe("test database harness", () => {
  let a: TestDatabase;
  let b: TestDatabase;
  beforeAll(async () => {
    [a, b] = await Promise.all([createTestDatabase(), createTestDatabase()]);
  });
  afterAll(async () => {
    await Promise.all([a?.drop(), b?.drop()]);
  });

  it("gives each test a migrated database of its own", async () => {
    expect(a.url).not.toEqual(b.url);
    for (const db of [a, b]) {
      const { rows } = await db.pool.query("SELECT version FROM schema_migrations ORDER BY version");
      expect(rows[0]).toEqual({ version: 1 });
    }
  });

  it("isolates databases from each other", async () => {
    await a.pool.query("CREATE TABLE only_in_a (id int)");

    const { rows } = await b.pool.query("SELECT to_regclass('only_in_a') AS t");
    expect(rows[0]).toEqual({ t: null });
  });
});
