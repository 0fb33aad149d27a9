import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commitTransitions, type TransitionRow } from "../../src/store/commit-transitions.js";
import { createPool } from "../../src/store/pool.js";
import type { Queryable } from "../../src/store/token-store.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";

/** A transition of a saga that does not exist: fenced out, it writes nothing, but runs the statement. */
function noSuchSaga(): TransitionRow {
  return {
    id: "00000000-0000-4000-8000-000000000000",
    expected: 1,
    status: "RUNNING",
    retry_count: 0,
    error: null,
    current_step: null,
    cancel_requested: false,
    sequence: 2,
    updated_at: new Date().toISOString(),
    completed_at: null,
    mode: "owner",
    me: "plan-test",
    until: null,
    now: null,
    steps: [],
    events: [],
  };
}

/** Rested sagas with no steps, only to make the table large. */
async function addFillerSagas(db: Queryable, count: number): Promise<void> {
  await db.query(
    `INSERT INTO sagas (id, name, status, failure_policy, vars, labels, definition, max_retries, retry_count,
       cancel_requested, sequence, lease_expires_at, created_at, updated_at)
     SELECT gen_random_uuid(), 'filler', 'COMPLETED', 'COMPENSATE', '{}', '{}', '', 0, 0, false, 1, '-infinity', now(), now()
     FROM generate_series(1, $1::int)`,
    [count],
  );
}

/** Every plan node of an EXPLAIN (FORMAT JSON), flattened. */
function planNodes(plan: Record<string, unknown>): Record<string, unknown>[] {
  const children = (plan.Plans as Record<string, unknown>[] | undefined) ?? [];
  return [plan, ...children.flatMap(planNodes)];
}

describe("the transition statement's plan, on sagad's connections", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db.drop());

  it("keeps a transition on the sagas key when its cached plan was made on an empty table", async () => {
    const pool = createPool(db.url, { max: 1 });
    try {
      // Enough runs on the empty table for Postgres to build and cache the generic plan.
      for (let i = 0; i < 8; i++) await commitTransitions(pool, [noSuchSaga()]);
      const client = await pool.connect();
      try {
        const cached = await client.query("SELECT generic_plans FROM pg_prepared_statements WHERE name = 'sagad_commit_transitions'");
        expect(Number(cached.rows[0].generic_plans)).toBeGreaterThan(0);

        await addFillerSagas(client, 20_000);
        await client.query("SET plan_cache_mode = force_generic_plan");
        const rows = client.escapeLiteral(JSON.stringify([noSuchSaga()]));
        const explained = await client.query(`EXPLAIN (FORMAT JSON) EXECUTE sagad_commit_transitions(${rows})`);
        await client.query("RESET plan_cache_mode");
        const nodes = planNodes((explained.rows[0]["QUERY PLAN"] as { Plan: Record<string, unknown> }[])[0]!.Plan);
        // Every read of sagas is a probe of its key for the transitions' ids, not a scan of it.
        const reads = nodes.filter((n) => n["Relation Name"] === "sagas" && n["Node Type"] !== "ModifyTable");
        expect(reads.length).toBeGreaterThan(0);
        for (const read of reads) expect(read["Index Cond"] ?? read["Recheck Cond"]).toMatch(/^\(id = ANY /);
      } finally {
        client.release();
      }
    } finally {
      await pool.end();
    }
  });

  it("keeps the transition's generic plan on a large analyzed table instead of planning every call", async () => {
    await addFillerSagas(db.pool, 20_000);
    await db.pool.query("ANALYZE sagas");
    const pool = createPool(db.url, { max: 1 });
    try {
      for (let i = 0; i < 20; i++) await commitTransitions(pool, [noSuchSaga()]);
      const { rows } = await pool.query("SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name = 'sagad_commit_transitions'");
      // Postgres always plans the first five calls for their parameters, then chooses.
      expect({ generic: Number(rows[0].generic_plans), custom: Number(rows[0].custom_plans) }).toEqual({ generic: 15, custom: 5 });
    } finally {
      await pool.end();
    }
  });
});
