import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPool } from "../../src/store/pool.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";

describe("createPool", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db.drop());

  it("starts every connection with sequential scans and JIT off", async () => {
    const pool = createPool(db.url, { max: 2 });
    const clients = await Promise.all([pool.connect(), pool.connect()]);
    try {
      for (const client of clients) {
        const { rows } = await client.query("SELECT current_setting('enable_seqscan') AS seqscan, current_setting('jit') AS jit");
        expect(rows[0]).toEqual({ seqscan: "off", jit: "off" });
      }
    } finally {
      for (const client of clients) client.release();
      await pool.end();
    }
  });
});
