import type pg from "pg";
import { EVENTS_CHANNEL, EVENT_RECORD, STEP_RECORD, TASK_CLOSE_RECORD, insertTasksSql } from "./rows.js";

/**
 * One decided transition as a row of the batched statement's input (jsonb_to_recordset).
 * `mode`: owner / release — the lease holder, fenced on its lease (release frees it as the saga
 * rests); claim / rest — an operator, fenced on the sequence only (claim takes a free or expired
 * lease, rest frees whoever's lease).
 */
export interface TransitionRow {
  id: string;
  expected: number;
  status: string;
  retry_count: number;
  error: string | null;
  current_step: string | null;
  cancel_requested: boolean;
  sequence: number;
  updated_at: string | null;
  completed_at: string | null;
  mode: "owner" | "release" | "claim" | "rest";
  me: string;
  until: string | null;
  now: string | null;
  steps: Record<string, unknown>[];
  events: Record<string, unknown>[];
  /**
   * Task rows (see taskWrites): opened, closed, and the reason every open one is asked to stop.
   * Absent when the transition writes none: a batch of such rows runs the statement without the
   * task parts, so the in-process path pays nothing for workers.
   */
  tasks_open?: Record<string, unknown>[];
  tasks_close?: Record<string, unknown>[];
  task_cancel?: string | null;
}

const hasTaskWrites = (row: TransitionRow) => row.tasks_open !== undefined;

export interface CommitResult {
  /** False when the saga moved on (sequence) or the lease was lost: reload before retrying. */
  ok: boolean;
  /** The lease owner after the commit (on success). */
  leaseOwner: string | null;
}

/**
 * Any number of transitions of different sagas in one statement and one transaction: each saga
 * row is fenced on its own sequence (and lease), and only the sagas whose fence held get their
 * step rows, events and notification.
 */
const commitTransitionsSql = (withTasks: boolean) => `
WITH i AS (
  SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, expected bigint, status text, retry_count int, error text,
    current_step text, cancel_requested boolean, sequence bigint, updated_at timestamptz, completed_at timestamptz,
    mode text, me text, until timestamptz, now timestamptz, steps jsonb, events jsonb${withTasks ? ", tasks_open jsonb, tasks_close jsonb, task_cancel text" : ""})
), s AS (
  UPDATE sagas t SET status = i.status, retry_count = i.retry_count, error = i.error, current_step = i.current_step,
    cancel_requested = i.cancel_requested, sequence = i.sequence, updated_at = i.updated_at, completed_at = i.completed_at,
    lease_owner = CASE
      WHEN i.mode IN ('release', 'rest') THEN NULL
      WHEN i.mode = 'claim' AND t.lease_expires_at < i.now THEN i.me
      ELSE t.lease_owner END,
    lease_expires_at = CASE
      WHEN i.mode IN ('release', 'rest') THEN '-infinity'
      WHEN i.mode = 'claim' AND t.lease_expires_at < i.now THEN i.until
      ELSE t.lease_expires_at END
  FROM i
  -- The ids again, as an array: the planner takes jsonb_to_recordset for 100 rows and would hash
  -- join the whole table; id = ANY(...) probes the key. The array is built here, not passed as a
  -- parameter, so no plan knows its length: custom plans then cost what the generic plan costs,
  -- and Postgres keeps the generic one instead of planning every call (0.3 ms).
  WHERE t.id = ANY(ARRAY(SELECT i.id FROM i)) AND t.id = i.id AND t.sequence = i.expected
    AND (i.mode NOT IN ('owner', 'release') OR t.lease_owner = i.me)
  RETURNING t.id, t.lease_owner, t.sequence
), st AS (
  UPDATE saga_steps t SET spec = coalesce(x.spec, t.spec), status = x.status, attempt = x.attempt,
    round_start = x.round_start, output = x.output, error = x.error, error_kind = x.error_kind, started_at = x.started_at,
    completed_at = x.completed_at, next_attempt_at = x.next_attempt_at
  FROM s JOIN i ON i.id = s.id CROSS JOIN LATERAL jsonb_to_recordset(i.steps) AS x(${STEP_RECORD})
  WHERE t.saga_id = s.id AND t.idx = x.idx
), ev AS (
  INSERT INTO saga_events (saga_id, sequence, type, at, body)
  SELECT s.id, x.sequence, x.type, x.at, x.body
  FROM s JOIN i ON i.id = s.id CROSS JOIN LATERAL jsonb_to_recordset(i.events) AS x(${EVENT_RECORD})
)${withTasks ? TASK_PARTS : ""}
SELECT s.id, s.lease_owner, pg_notify('${EVENTS_CHANNEL}', s.id::text || ':' || s.sequence::text) AS notified FROM s`;

/**
 * The task rows of a batch that has some: opened, closed, and cancel requests. `saga_id =
 * ANY(ARRAY(...))` makes the planner probe saga_tasks by key, as for sagas above.
 */
const TASK_PARTS = `, tko AS (
  ${insertTasksSql("i", "s")}
), tkc AS (
  UPDATE saga_tasks t SET state = 'done', result = x.result, result_digest = x.digest, finished_at = i.updated_at
  FROM s JOIN i ON i.id = s.id CROSS JOIN LATERAL jsonb_to_recordset(coalesce(i.tasks_close, '[]')) AS x(${TASK_CLOSE_RECORD})
  WHERE t.saga_id = ANY(ARRAY(SELECT s.id FROM s)) AND t.saga_id = s.id AND t.step_idx = x.step_idx AND t.phase = x.phase
    AND t.attempt = x.attempt
), tkx AS (
  -- A cancel changes no step, so no task this statement closes is among these rows.
  UPDATE saga_tasks t SET cancel_reason = i.task_cancel
  FROM s JOIN i ON i.id = s.id
  WHERE i.task_cancel IS NOT NULL AND t.saga_id = ANY(ARRAY(SELECT s.id FROM s)) AND t.saga_id = s.id AND t.state <> 'done'
)`;
const COMMIT_TRANSITIONS = commitTransitionsSql(false);
const COMMIT_TRANSITIONS_WITH_TASKS = commitTransitionsSql(true);

/** Writes transitions of different sagas in one statement; the result of each written one, by id. */
export async function commitTransitions(pool: pg.Pool, rows: readonly TransitionRow[]): Promise<Map<string, CommitResult>> {
  const withTasks = rows.some(hasTaskWrites);
  const result = await pool.query({
    name: withTasks ? "sagad_commit_transitions_tasks" : "sagad_commit_transitions",
    text: withTasks ? COMMIT_TRANSITIONS_WITH_TASKS : COMMIT_TRANSITIONS,
    values: [JSON.stringify(rows)],
  });
  return new Map(
    (result.rows as { id: string; lease_owner: string | null }[]).map((r) => [r.id.toLowerCase(), { ok: true, leaseOwner: r.lease_owner }]),
  );
}
