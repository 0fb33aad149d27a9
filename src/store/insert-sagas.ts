import type pg from "pg";
import { EVENTS_CHANNEL, EVENT_RECORD, STEP_RECORD, insertTasksSql, type SagaRow } from "./rows.js";

/**
 * A new saga with its step rows and first events, as a row of the batched insert's input: the
 * columns of a saga row, with times as ISO strings and the lease's expiry.
 */
export type SagaInsertRow = Omit<SagaRow, "sequence" | "created_at" | "updated_at" | "completed_at"> & {
  sequence: number;
  lease_expires_at: string | null;
  created_at: string | null;
  updated_at: string | null;
  completed_at: string | null;
  steps: Record<string, unknown>[];
  events: Record<string, unknown>[];
  /**
   * For a saga from a definition: the state its version was seen in, and whether it was asked for
   * as the latest. Null (no guard): not checked.
   */
  definition_state: string | null;
  definition_latest: boolean | null;
  /** Tasks of worker actions among the first steps (see taskWrites); absent when there are none. */
  tasks_open?: Record<string, unknown>[];
};

/**
 * What became of one row: written, already there (its request id was used), or refused because its
 * definition version is no longer as the caller saw it (another state, or no longer the latest).
 */
export type InsertOutcome = "created" | "exists" | "definition-changed";

/**
 * Creates: saga rows, step rows, events and notifications of several new sagas in one statement.
 * ON CONFLICT makes a repeated request_id (which determines the id) a no-op for that saga; its
 * caller then loads the existing one to compare request hashes. A saga from a definition is only
 * written if its version is still in the state the caller rendered it for (never DISABLED) and,
 * when it was asked for as the latest, still is the latest: the check costs CreateSaga no round
 * trip of its own, so a replica may cache versions' states and still never start a saga on a
 * version disabled or superseded elsewhere.
 */
const insertSagasSql = (withTasks: boolean) => `
WITH i AS (
  SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, name text, status text, failure_policy text, vars jsonb,
    labels jsonb, definition text, definition_name text, definition_version int, request_id text, request_hash text, max_retries int, retry_count int, error text,
    current_step text, cancel_requested boolean, sequence bigint, lease_owner text, lease_expires_at timestamptz,
    created_at timestamptz, updated_at timestamptz, completed_at timestamptz, steps jsonb, events jsonb,
    definition_state text, definition_latest boolean${withTasks ? ", tasks_open jsonb" : ""})
), c AS (
  SELECT i.id, i.definition_name IS NULL OR i.definition_state IS NULL OR coalesce(d.state = i.definition_state AND d.state <> 'DISABLED'
      AND NOT (coalesce(i.definition_latest, false)
        AND EXISTS (SELECT 1 FROM definitions n WHERE n.name = d.name AND n.version > d.version)), false)
    AS definition_ok
  FROM i LEFT JOIN definitions d ON d.name = i.definition_name AND d.version = i.definition_version
), s AS (
  INSERT INTO sagas (id, name, status, failure_policy, vars, labels, definition, definition_name, definition_version,
    request_id, request_hash,
    max_retries, retry_count, error, current_step, cancel_requested, sequence, lease_owner, lease_expires_at,
    created_at, updated_at, completed_at)
  SELECT i.id, name, status, failure_policy, vars, labels, definition, definition_name, definition_version, request_id,
    request_hash, max_retries, retry_count,
    error, current_step, cancel_requested, sequence, lease_owner, coalesce(lease_expires_at, '-infinity'), created_at,
    updated_at, completed_at
  FROM i JOIN c ON c.id = i.id AND c.definition_ok
  ON CONFLICT (id) DO NOTHING
  RETURNING id, sequence
), st AS (
  INSERT INTO saga_steps (saga_id, idx, name, spec, status, attempt, round_start, output, error, error_kind,
    started_at, completed_at, next_attempt_at)
  SELECT s.id, x.idx, x.name, x.spec, x.status, x.attempt, x.round_start, x.output, x.error, x.error_kind, x.started_at,
    x.completed_at, x.next_attempt_at
  FROM s JOIN i ON i.id = s.id CROSS JOIN LATERAL jsonb_to_recordset(i.steps) AS x(${STEP_RECORD})
), ev AS (
  INSERT INTO saga_events (saga_id, sequence, type, at, body)
  SELECT s.id, x.sequence, x.type, x.at, x.body
  FROM s JOIN i ON i.id = s.id CROSS JOIN LATERAL jsonb_to_recordset(i.events) AS x(${EVENT_RECORD})
)${withTasks ? `, tko AS (
  ${insertTasksSql("i", "s")}
)` : ""}
SELECT c.id, s.id IS NOT NULL AS created, c.definition_ok,
  CASE WHEN s.id IS NOT NULL THEN pg_notify('${EVENTS_CHANNEL}', s.id::text || ':' || s.sequence::text)::text END AS notified
FROM c LEFT JOIN s ON s.id = c.id`;
/** Batches with no worker task among their first steps run without the task insert. */
const INSERT_SAGAS = insertSagasSql(false);
const INSERT_SAGAS_WITH_TASKS = insertSagasSql(true);

/** Inserts new sagas in one statement; what became of each, by id. */
export async function insertSagas(pool: pg.Pool, rows: readonly SagaInsertRow[]): Promise<Map<string, InsertOutcome>> {
  const withTasks = rows.some((r) => r.tasks_open !== undefined);
  const result = await pool.query({
    name: withTasks ? "sagad_insert_sagas_tasks" : "sagad_insert_sagas",
    text: withTasks ? INSERT_SAGAS_WITH_TASKS : INSERT_SAGAS,
    values: [JSON.stringify(rows)],
  });
  return new Map(
    (result.rows as { id: string; created: boolean; definition_ok: boolean }[]).map((r) => [
      r.id.toLowerCase(),
      r.created ? "created" : r.definition_ok ? "exists" : "definition-changed",
    ]),
  );
}
