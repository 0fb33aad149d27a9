import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commitTransitions, type TransitionRow } from "../../src/store/commit-transitions.js";
import { createPool } from "../../src/store/pool.js";
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
    me: "pool-test",
    until: null,
    now: null,
    steps: [],
    events: [],
  };
}

/** Every plan node of an EXPLAIN (FORMAT JSON), flattened. */
function planNodes(plan: Record<string, unknown>): Record<string, unknown>[] {
  const children = (plan.Plans as Record<string, unknown>[] | undefined) ?? [];
  return [plan, ...children.flatMap(planNodes)];
}

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

  it("keeps a transition on the sagas key when its cached plan was made on an empty table", async () => {
    const pool = createPool(db.url, { max: 1 });
    try {
      // Enough runs on the empty table for Postgres to build and cache the generic plan.
      for (let i = 0; i < 8; i++) await commitTransitions(pool, [noSuchSaga()]);
      const client = await pool.connect();
      try {
        const cached = await client.query("SELECT generic_plans FROM pg_prepared_statements WHERE name = 'sagad_commit_transitions'");
        expect(Number(cached.rows[0].generic_plans)).toBeGreaterThan(0);

        await client.query(
          `INSERT INTO sagas (id, name, status, failure_policy, vars, labels, definition, max_retries, retry_count,
             cancel_requested, sequence, lease_expires_at, created_at, updated_at)
           SELECT gen_random_uuid(), 'filler', 'COMPLETED', 'COMPENSATE', '{}', '{}', '', 0, 0, false, 1, '-infinity', now(), now()
           FROM generate_series(1, 20000)`,
        );
        await client.query("SET plan_cache_mode = force_generic_plan");
        const rows = client.escapeLiteral(JSON.stringify([noSuchSaga()]));
        const ids = client.escapeLiteral(`{${noSuchSaga().id}}`);
        const explained = await client.query(`EXPLAIN (FORMAT JSON) EXECUTE sagad_commit_transitions(${rows}, ${ids})`);
        await client.query("RESET plan_cache_mode");
        const nodes = planNodes((explained.rows[0]["QUERY PLAN"] as { Plan: Record<string, unknown> }[])[0]!.Plan);
        const onSagas = nodes.filter((n) => n["Relation Name"] === "sagas");
        expect(onSagas.map((n) => n["Node Type"])).not.toContain("Seq Scan");
        expect(onSagas.length).toBeGreaterThan(0);
      } finally {
        client.release();
      }
    } finally {
      await pool.end();
    }
  });
});
