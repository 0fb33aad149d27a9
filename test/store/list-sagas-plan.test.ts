import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listSagas, type ListFilter } from "../../src/store/list-sagas.js";
import { createPool } from "../../src/store/pool.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";

const NO_FILTER: ListFilter = { name: null, status: null, labels: {}, definition: null, createdAfter: null, createdBefore: null };
const HOUR = 3_600_000;

/** The statement listSagas sends for `filter`, caught instead of run. */
async function listStatement(filter: ListFilter): Promise<{ text: string; values: unknown[] }> {
  let caught: { text: string; values: unknown[] } | undefined;
  const catcher = {
    query: async (text: string, values: unknown[]) => {
      caught = { text, values };
      return { rows: [] };
    },
  } as unknown as pg.Pool;
  await listSagas(catcher, filter, 50, "");
  return caught!;
}

/** Every plan node of an EXPLAIN (FORMAT JSON), flattened. */
function planNodes(plan: Record<string, unknown>): Record<string, unknown>[] {
  const children = (plan.Plans as Record<string, unknown>[] | undefined) ?? [];
  return [plan, ...children.flatMap(planNodes)];
}

/**
 * ListSagas' first page must stay an index range scan that stops after a page, for each filter
 * combination the issue names, on sagad's own connections (enable_seqscan off, as in production).
 * A Sort node means Postgres read every match to order it: the cost that grew with the table.
 */
describe("ListSagas' plans for the definition and time filters", () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  const now = Date.now();

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createPool(db.url, { max: 1 });
    // 60,000 sagas over the last 60,000 seconds: a third of "checkout" (versions 1-3), one in a
    // thousand of "dormant" (all a year old), the rest inline.
    await pool.query(
      `INSERT INTO sagas (id, name, status, failure_policy, vars, labels, definition, max_retries, retry_count,
         cancel_requested, sequence, lease_expires_at, created_at, updated_at, definition_name, definition_version)
       SELECT gen_random_uuid(), 's', 'COMPLETED', 'HOLD', '{}', '{}', '', 3, 0, false, 1, '-infinity',
              $1::timestamptz - make_interval(secs => g + CASE WHEN g % 1000 = 0 THEN 31536000 ELSE 0 END), now(),
              CASE WHEN g % 1000 = 0 THEN 'dormant' WHEN g % 3 = 0 THEN 'checkout' END, 1 + g % 3
       FROM generate_series(1, 60000) g`,
      [new Date(now).toISOString()],
    );
    await pool.query("ANALYZE sagas");
  }, 60_000);
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  it.each([
    ["a definition name alone", { definition: { name: "checkout", version: 0 } }, "sagas_definition_name_created_idx"],
    ["a definition name whose sagas are all old", { definition: { name: "dormant", version: 0 } }, "sagas_definition_name_created_idx"],
    ["a definition name and version", { definition: { name: "checkout", version: 2 } }, "sagas_definition_created_idx"],
    ["a definition name and a time window", { definition: { name: "checkout", version: 0 }, createdAfter: now - 2 * HOUR, createdBefore: now - HOUR }, "sagas_definition_name_created_idx"],
    ["a time window alone", { createdAfter: now - 2 * HOUR, createdBefore: now - HOUR }, "sagas_created_idx"],
  ] as const)("serves %s from one index, in order, without sorting", async (_what, filter, index) => {
    const { text, values } = await listStatement({ ...NO_FILTER, ...filter });
    const { rows } = await pool.query(`EXPLAIN (FORMAT JSON) ${text}`, values);
    const nodes = planNodes((rows[0] as { "QUERY PLAN": [{ Plan: Record<string, unknown> }] })["QUERY PLAN"][0].Plan);
    expect(nodes.map((n) => n["Node Type"])).not.toContain("Sort");
    expect(nodes.map((n) => n["Index Name"]).filter(Boolean)).toEqual([index]);
  });
});
