import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SAGA_TRANSITIONS } from "../../src/domain/transitions.js";
import type { SagaStatus } from "../../src/domain/types.js";
import { deleteOldSagas, RETENTION_STATUSES } from "../../src/store/retention.js";
import { EVENTS_CHANNEL } from "../../src/store/rows.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { waitUntil } from "../helpers/wait.js";

const DAY = 86_400_000;
const NOW = Date.parse("2030-06-01T00:00:00Z");
const CUTOFF = NOW - 30 * DAY;
const ALL_STATUSES = Object.keys(SAGA_TRANSITIONS) as SagaStatus[];

/**
 * Inserts `count` sagas in `status` that completed at `completedAt` (set whatever the status, so
 * only the status can keep an old active saga), each with `steps` steps and `events` events.
 */
async function addSagas(db: TestDatabase, status: SagaStatus, completedAt: number, count = 1, steps = 2, events = 3): Promise<string[]> {
  const { rows } = await db.pool.query(
    `WITH s AS (
       INSERT INTO sagas (id, name, status, failure_policy, vars, labels, definition, max_retries, retry_count,
         cancel_requested, sequence, lease_expires_at, created_at, updated_at, completed_at)
       SELECT gen_random_uuid(), 'retention', $1, 'HOLD', '{}', '{}', '', 0, 0, false, $5, '-infinity', $2, $2, $2
       FROM generate_series(1, $3::int) RETURNING id),
     st AS (
       INSERT INTO saga_steps (saga_id, idx, name, spec, status, attempt, round_start)
       SELECT s.id, i, 's' || i, '{}', 'COMPLETED', 1, 0 FROM s, generate_series(0, $4::int - 1) i),
     ev AS (
       INSERT INTO saga_events (saga_id, sequence, type, at, body)
       SELECT s.id, q, 'SAGA_STATUS_CHANGED', $2, '{}' FROM s, generate_series(1, $5::int) q)
     SELECT id FROM s`,
    [status, new Date(completedAt), count, steps, events],
  );
  return rows.map((r: { id: string }) => r.id);
}

async function count(db: TestDatabase, table: "sagas" | "saga_steps" | "saga_events", ids: readonly string[]): Promise<number> {
  const column = table === "sagas" ? "id" : "saga_id";
  const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM ${table} WHERE ${column} = ANY($1::uuid[])`, [ids]);
  return (rows[0] as { n: number }).n;
}

describe("retention store", () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await createTestDatabase();
  });
  afterEach(async () => {
    await db.drop();
  });

  it("deletes exactly the statuses no transition leaves", () => {
    const final = ALL_STATUSES.filter((s) => SAGA_TRANSITIONS[s].length === 0).sort();
    expect([...RETENTION_STATUSES].sort()).toEqual(final);
  });

  it("deletes only old COMPLETED, COMPENSATED and CANCELLED sagas, with their steps and events", async () => {
    const old = new Map<SagaStatus, string[]>();
    const recent: string[] = [];
    for (const status of ALL_STATUSES) {
      old.set(status, await addSagas(db, status, CUTOFF - DAY));
      recent.push(...(await addSagas(db, status, CUTOFF + DAY)));
    }
    const retained = (s: SagaStatus) => (RETENTION_STATUSES as readonly SagaStatus[]).includes(s);
    const doomed = ALL_STATUSES.filter(retained).flatMap((s) => old.get(s)!);
    const kept = [...recent, ...ALL_STATUSES.filter((s) => !retained(s)).flatMap((s) => old.get(s)!)];

    const batch = await deleteOldSagas(db.pool, CUTOFF, 500);

    expect(batch).toEqual({ lockTaken: true, deleted: doomed.length });
    expect(await count(db, "sagas", doomed)).toBe(0);
    expect(await count(db, "saga_steps", doomed)).toBe(0);
    expect(await count(db, "saga_events", doomed)).toBe(0);
    // FAILED, COMPENSATION_FAILED and every active status stay however old; recent sagas stay.
    expect(await count(db, "sagas", kept)).toBe(kept.length);
    expect(await count(db, "saga_steps", kept)).toBe(kept.length * 2);
    expect(await count(db, "saga_events", kept)).toBe(kept.length * 3);
    const { rows } = await db.pool.query(`SELECT DISTINCT status FROM sagas WHERE completed_at < $1 ORDER BY status`, [new Date(CUTOFF)]);
    expect(rows.map((r: { status: string }) => r.status)).toEqual(ALL_STATUSES.filter((s) => !retained(s)).sort());
    // A second pass finds nothing more.
    expect(await deleteOldSagas(db.pool, CUTOFF, 500)).toEqual({ lockTaken: true, deleted: 0 });
  });

  it("deletes a backlog in batches of at most the limit, oldest first", async () => {
    const older = await addSagas(db, "COMPLETED", CUTOFF - 10 * DAY, 30);
    const newer = await addSagas(db, "CANCELLED", CUTOFF - DAY, 25);

    const first = await deleteOldSagas(db.pool, CUTOFF, 20);
    expect(first.deleted).toBe(20);
    expect(await count(db, "sagas", newer)).toBe(25);
    const sizes = [first.deleted];
    for (let batch = first; batch.deleted === 20; ) {
      batch = await deleteOldSagas(db.pool, CUTOFF, 20);
      sizes.push(batch.deleted);
    }

    expect(sizes).toEqual([20, 20, 15]);
    expect(await count(db, "sagas", [...older, ...newer])).toBe(0);
    expect(await count(db, "saga_events", [...older, ...newer])).toBe(0);
  });

  it("leaves the sweep to the session holding the retention lock", async () => {
    const ids = await addSagas(db, "COMPLETED", CUTOFF - DAY, 3);
    const other = await db.pool.connect();
    try {
      await other.query("BEGIN");
      // Another replica's batch in flight: it holds the transaction-scoped lock until it commits.
      await other.query(`SELECT pg_advisory_xact_lock(8314040055097353588)`);
      expect(await deleteOldSagas(db.pool, CUTOFF, 500)).toEqual({ lockTaken: false, deleted: 0 });
      await other.query("COMMIT");
    } finally {
      other.release();
    }
    expect(await deleteOldSagas(db.pool, CUTOFF, 500)).toEqual({ lockTaken: true, deleted: 3 });
    expect(await count(db, "sagas", ids)).toBe(0);
  });

  it("skips a saga another transaction holds instead of waiting for it", async () => {
    const [held, free] = [await addSagas(db, "COMPLETED", CUTOFF - DAY), await addSagas(db, "COMPLETED", CUTOFF - DAY)];
    const other = await db.pool.connect();
    try {
      await other.query("BEGIN");
      await other.query("SELECT 1 FROM sagas WHERE id = $1 FOR UPDATE", [held![0]]);
      expect(await deleteOldSagas(db.pool, CUTOFF, 500)).toEqual({ lockTaken: true, deleted: 1 });
      await other.query("COMMIT");
    } finally {
      other.release();
    }
    expect(await count(db, "sagas", held!)).toBe(1);
    expect(await count(db, "sagas", free!)).toBe(0);
  });

  it("notifies each deleted saga, as DeleteSaga does, so its watchers end", async () => {
    const [id] = await addSagas(db, "COMPENSATED", CUTOFF - DAY, 1, 1, 4);
    const listener = await db.pool.connect();
    const payloads: string[] = [];
    try {
      listener.on("notification", (msg) => payloads.push(msg.payload ?? ""));
      await listener.query(`LISTEN ${EVENTS_CHANNEL}`);
      await deleteOldSagas(db.pool, CUTOFF, 500);
      await waitUntil(() => payloads.length > 0, "the deletion notification");
      expect(payloads).toEqual([`${id}:5`]);
    } finally {
      await listener.query(`UNLISTEN *`);
      listener.release();
    }
  });

  it("finds old sagas through the partial retention index", async () => {
    // A realistic shape: most terminal sagas are recent, a few are past the cutoff.
    await addSagas(db, "COMPLETED", CUTOFF + DAY, 5_000, 0, 0);
    await addSagas(db, "RUNNING", CUTOFF - DAY, 1_000, 0, 0);
    await addSagas(db, "COMPLETED", CUTOFF - DAY, 20, 0, 0);
    await db.pool.query("ANALYZE sagas");
    const { rows } = await db.pool.query(
      `EXPLAIN SELECT id FROM sagas WHERE status IN ('COMPLETED', 'COMPENSATED', 'CANCELLED') AND completed_at < $1
       ORDER BY completed_at LIMIT 500 FOR UPDATE SKIP LOCKED`,
      [new Date(CUTOFF)],
    );
    expect(rows.map((r: { "QUERY PLAN": string }) => r["QUERY PLAN"]).join("\n")).toMatch(/Index Scan (using|on) sagas_retention_idx/);
  });
});
