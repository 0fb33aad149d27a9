import type pg from "pg";
import { EVENTS_CHANNEL, toIso } from "./rows.js";

/**
 * The statuses retention deletes: the ones no transition leaves, so nothing is lost that an
 * operator could still act on. FAILED and COMPENSATION_FAILED wait for an operator (RetrySaga,
 * RollbackSaga) and are never deleted by retention, however old. The SQL below and the partial
 * index `sagas_retention_idx` (migration 0004) spell the same list literally.
 */
export const RETENTION_STATUSES = ["COMPLETED", "COMPENSATED", "CANCELLED"] as const;

/**
 * Key of the transaction-scoped advisory lock each retention batch takes, so one replica sweeps at
 * a time. Arbitrary but fixed forever: "sagadret" as ASCII, apart from the migrations' "sagad".
 */
const RETENTION_LOCK_KEY = "8314040055097353588";

/** What one batch did. */
export interface RetentionBatch {
  /** False when another replica's batch held the lock: this one deleted nothing, and sweeping is theirs. */
  lockTaken: boolean;
  /** Sagas deleted, with their steps and events. */
  deleted: number;
}

// One statement, so one short transaction per batch (autocommit):
// - `lock` takes the advisory lock for this transaction only; it is volatile, so Postgres
//   evaluates it once, and without it `doomed` selects nothing.
// - `doomed` picks the oldest terminal sagas by primary key. The status list repeats the index
//   predicate literally so the planner uses sagas_retention_idx (a range scan from the oldest),
//   and SKIP LOCKED passes over any row someone else holds (a DeleteSaga at the same moment)
//   instead of waiting on it, so a batch never queues behind other work.
// - The delete cascades (ON DELETE CASCADE, 0001_init) to saga_steps and saga_events, through
//   their primary keys, which lead with saga_id.
// - Like DeleteSaga, each deleted saga is notified at sequence + 1, so a watcher following it
//   re-reads, finds it gone and ends with NOT_FOUND.
// This is a cross-saga statement (DESIGN.md §7), like the lease claim poll: under Citus, where
// FOR UPDATE does not lock across shards, it would run shard by shard.
const DELETE_BATCH = `
WITH lock AS (SELECT pg_try_advisory_xact_lock(${RETENTION_LOCK_KEY}) AS held),
doomed AS (
  SELECT id FROM sagas
  WHERE (SELECT held FROM lock)
    AND status IN ('COMPLETED', 'COMPENSATED', 'CANCELLED') AND completed_at < $1
  ORDER BY completed_at
  LIMIT $2
  FOR UPDATE SKIP LOCKED),
gone AS (DELETE FROM sagas s USING doomed d WHERE s.id = d.id RETURNING s.id, s.sequence)
SELECT (SELECT held FROM lock) AS held,
       count(*)::int AS deleted,
       count(pg_notify('${EVENTS_CHANNEL}', id::text || ':' || (sequence + 1)::text)) AS notified
FROM gone`;

/**
 * Deletes at most `limit` sagas in a terminal status ({@link RETENTION_STATUSES}) that completed
 * before `cutoff` (ms since the epoch), with their steps and events, oldest first. One statement
 * and so one short transaction: row locks last only as long as the batch, and rows other sessions
 * hold are skipped, never waited on. Callers loop until a batch deletes fewer than `limit`.
 */
export async function deleteOldSagas(db: pg.Pool | pg.ClientBase, cutoff: number, limit: number): Promise<RetentionBatch> {
  const { rows } = await db.query({ name: "sagad_retention_delete", text: DELETE_BATCH, values: [toIso(cutoff), limit] });
  const row = rows[0] as { held: boolean; deleted: number };
  return { lockTaken: row.held, deleted: row.deleted };
}
