import type pg from "pg";
import type { AttemptPhase } from "../domain/attempt-phase.js";
import type { TaskKey, TaskResult } from "../domain/task-writes.js";
import type { JsonObject } from "../domain/types.js";
import { GroupCommit } from "./group-commit.js";
import { toIso } from "./rows.js";

/** Where a task is; "done" once its attempt left flight. */
export type TaskState = "queued" | "offered" | "running" | "done";

/** A task row as the dispatcher and the result path read it. */
export interface TaskRow extends TaskKey {
  sagaId: string;
  step: string;
  action: string;
  state: TaskState;
  delivery: number;
  sessionId: string | null;
  worker: string | null;
  requeues: number;
  cancelReason: string | null;
  timeoutMs: number;
  heartbeatMs: number;
  scheduleMs: number;
  queuedAt: number;
  ackDeadline: number | null;
  startedAt: number | null;
  progress: JsonObject | null;
  result: TaskResult | null;
  resultDigest: string | null;
}

/** A task as a token names it: its key plus the delivery it was offered with. */
export interface TaskRef extends TaskKey {
  sagaId: string;
  delivery: number;
}

interface Row {
  saga_id: string;
  step_idx: number;
  phase: AttemptPhase;
  attempt: number;
  step: string;
  action: string;
  state: TaskState;
  delivery: number;
  session_id: string | null;
  worker: string | null;
  requeues: number;
  cancel_reason: string | null;
  timeout_ms: number;
  heartbeat_ms: number;
  schedule_ms: number;
  queued_at: Date;
  ack_deadline: Date | null;
  started_at: Date | null;
  progress: JsonObject | null;
  result: TaskResult | null;
  result_digest: string | null;
}

const ms = (d: Date | null) => (d === null ? null : d.getTime());

function fromRow(r: Row): TaskRow {
  return {
    sagaId: r.saga_id,
    stepIdx: r.step_idx,
    phase: r.phase,
    attempt: r.attempt,
    step: r.step,
    action: r.action,
    state: r.state,
    delivery: r.delivery,
    sessionId: r.session_id,
    worker: r.worker,
    requeues: r.requeues,
    cancelReason: r.cancel_reason,
    timeoutMs: r.timeout_ms,
    heartbeatMs: r.heartbeat_ms,
    scheduleMs: r.schedule_ms,
    queuedAt: r.queued_at.getTime(),
    ackDeadline: ms(r.ack_deadline),
    startedAt: ms(r.started_at),
    progress: r.progress,
    result: r.result,
    resultDigest: r.result_digest,
  };
}

/** A batched ack: the task offered with `delivery`, acknowledged by `session_id` at `now`. */
interface AckRow {
  id: string;
  saga_id: string;
  step_idx: number;
  phase: AttemptPhase;
  attempt: number;
  delivery: number;
  session_id: string;
  now: string | null;
}

interface FindRow {
  id: string;
  saga_id: string;
  step_idx: number;
  phase: AttemptPhase;
  attempt: number;
}

/** Names a task (not an offer of it), as batched lookups and the dispatcher key it. */
export const refKey = (r: TaskKey & { sagaId: string }) => `${r.sagaId}/${r.stepIdx}/${r.phase}/${r.attempt}`;

/** The keys of several tasks as one JSON parameter for jsonb_to_recordset. */
function refsJson(refs: readonly TaskRef[]): string {
  return JSON.stringify(refs.map((r) => ({ saga_id: r.sagaId, step_idx: r.stepIdx, phase: r.phase, attempt: r.attempt, delivery: r.delivery })));
}
const REF_RECORD = "saga_id uuid, step_idx int, phase text, attempt int, delivery int";
/** The progress a worker last reported for this attempt, or else for the step's previous attempt of the phase. */
const lastProgress = (t: string) => `coalesce(${t}.progress, (SELECT p.progress FROM saga_tasks p
  WHERE p.saga_id = ${t}.saga_id AND p.step_idx = ${t}.step_idx AND p.phase = ${t}.phase
    AND p.attempt < ${t}.attempt AND p.progress IS NOT NULL ORDER BY p.attempt DESC LIMIT 1)) AS last_progress`;
const KEY_MATCH = "t.saga_id = x.saga_id AND t.step_idx = x.step_idx AND t.phase = x.phase AND t.attempt = x.attempt";
/**
 * The saga ids of `x` again as an array, as in the saga commit: the planner takes a
 * jsonb_to_recordset for 100 rows and would scan saga_tasks; `saga_id = ANY(ARRAY(...))` probes
 * the key instead (0.9 ms a lookup before, on a table of a few thousand tasks).
 */
const PROBE = "t.saga_id = ANY(ARRAY(SELECT x.saga_id FROM x))";

/** Why a task is overdue, as the sweep finds it. */
export type OverdueKind = "TIMEOUT" | "HEARTBEAT_TIMEOUT" | "SCHEDULE_TO_START_TIMEOUT";

/**
 * All SQL about task rows outside the saga commit (which opens and closes them). Statements that
 * look across sagas are marked: they are the dispatch poll and the sweeps, and would need a
 * per-shard form under Citus (DESIGN.md §7).
 */
export class TaskStore {
  /**
   * Acks and result lookups come one per RPC; batched like saga commits (one statement for all
   * that arrive while earlier ones run), they cost one round trip and one commit per batch.
   */
  private readonly acks: GroupCommit<AckRow, string | null>;
  private readonly finds: GroupCommit<FindRow, TaskRow | null>;

  constructor(private readonly pool: pg.Pool) {
    this.acks = new GroupCommit((rows) => this.ackBatch(rows), null);
    this.finds = new GroupCommit((rows) => this.findBatch(rows), null);
  }

  /** Offers one queued task to a session (the fast path); its new delivery, or null if it was not queued. */
  async offer(
    key: TaskKey & { sagaId: string },
    sessionId: string,
    worker: string,
    ackDeadline: number,
  ): Promise<{ delivery: number; lastProgress: JsonObject | null } | null> {
    const { rows } = await this.pool.query({
      name: "sagad_task_offer",
      text: `UPDATE saga_tasks SET state = 'offered', delivery = delivery + 1, session_id = $5, worker = $6, ack_deadline = $7
             WHERE saga_id = $1 AND step_idx = $2 AND phase = $3 AND attempt = $4 AND state = 'queued'
             RETURNING delivery, ${lastProgress("saga_tasks")}`,
      values: [key.sagaId, key.stepIdx, key.phase, key.attempt, sessionId, worker, toIso(ackDeadline)],
    });
    if (rows.length === 0) return null;
    const row = rows[0] as { delivery: number; last_progress: JsonObject | null };
    return { delivery: row.delivery, lastProgress: row.last_progress };
  }

  /**
   * Cross-saga: takes up to `limit` of the oldest queued tasks of `action` for a session. SKIP
   * LOCKED lets replicas claim at once without waiting on each other.
   */
  async claim(
    action: string,
    limit: number,
    sessionId: string,
    worker: string,
    ackDeadline: number,
  ): Promise<(TaskRow & { lastProgress: JsonObject | null })[]> {
    const { rows } = await this.pool.query({
      name: "sagad_task_claim",
      text: `UPDATE saga_tasks t SET state = 'offered', delivery = t.delivery + 1, session_id = $3, worker = $4, ack_deadline = $5
             FROM (SELECT saga_id, step_idx, phase, attempt FROM saga_tasks
                   WHERE state = 'queued' AND action = $1 ORDER BY queued_at LIMIT $2 FOR UPDATE SKIP LOCKED) x
             WHERE ${KEY_MATCH}
             RETURNING t.*, ${lastProgress("t")}`,
      values: [action, limit, sessionId, worker, toIso(ackDeadline)],
    });
    return (rows as (Row & { last_progress: JsonObject | null })[]).map((r) => ({ ...fromRow(r), lastProgress: r.last_progress }));
  }

  /** Accepts offered tasks of a session; returns the refs it accepted (a repeated ack is accepted again). */
  async ack(sessionId: string, refs: readonly TaskRef[], now: number): Promise<(TaskRef & { action: string })[]> {
    const at = toIso(now);
    const actions = await Promise.all(
      refs.map((r) =>
        this.acks.write({ id: `${refKey(r)}#${r.delivery}`, saga_id: r.sagaId, step_idx: r.stepIdx, phase: r.phase, attempt: r.attempt, delivery: r.delivery, session_id: sessionId, now: at }),
      ),
    );
    return refs.flatMap((r, i) => (actions[i] === null ? [] : [{ ...r, action: actions[i]! }]));
  }

  /** Cross-saga (one statement for the acks of many RPCs): running from now, for the session each names. */
  private async ackBatch(rows: readonly AckRow[]): Promise<Map<string, string | null>> {
    const result = await this.pool.query({
      name: "sagad_task_ack",
      text: `WITH x AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(${REF_RECORD}, session_id text, now timestamptz))
             UPDATE saga_tasks t SET state = 'running', started_at = coalesce(t.started_at, x.now), heartbeat_at = x.now, ack_deadline = NULL
             FROM x
             WHERE ${PROBE} AND ${KEY_MATCH} AND t.delivery = x.delivery AND t.session_id = x.session_id AND t.state IN ('offered', 'running')
             RETURNING t.saga_id, t.step_idx, t.phase, t.attempt, t.delivery, t.action`,
      values: [JSON.stringify(rows)],
    });
    return new Map((result.rows as Row[]).map((r) => [`${refKey({ sagaId: r.saga_id, stepIdx: r.step_idx, phase: r.phase, attempt: r.attempt })}#${r.delivery}`.toLowerCase(), r.action]));
  }

  /**
   * A heartbeat's tasks: extends each one the session still holds (with its progress) and returns
   * the rows of every listed task, held or not, so the caller can tell cancels and unknowns apart.
   */
  async heartbeatTasks(sessionId: string, refs: readonly (TaskRef & { progress: JsonObject | null })[], now: number): Promise<TaskRow[]> {
    if (refs.length === 0) return [];
    const json = JSON.stringify(
      refs.map((r) => ({ saga_id: r.sagaId, step_idx: r.stepIdx, phase: r.phase, attempt: r.attempt, delivery: r.delivery, progress: r.progress })),
    );
    const { rows } = await this.pool.query({
      name: "sagad_task_heartbeat",
      text: `WITH x AS (SELECT * FROM jsonb_to_recordset($2::jsonb) AS x(${REF_RECORD}, progress jsonb)),
             u AS (
               UPDATE saga_tasks t SET heartbeat_at = $3, progress = coalesce(x.progress, t.progress)
               FROM x WHERE ${PROBE} AND ${KEY_MATCH} AND t.delivery = x.delivery AND t.session_id = $1 AND t.state IN ('offered', 'running')
               RETURNING t.*)
             SELECT * FROM u
             UNION ALL
             SELECT t.* FROM saga_tasks t JOIN x ON ${KEY_MATCH}
             WHERE ${PROBE} AND NOT EXISTS (SELECT 1 FROM u WHERE u.saga_id = t.saga_id AND u.step_idx = t.step_idx AND u.phase = t.phase AND u.attempt = t.attempt)`,
      values: [sessionId, json, toIso(now)],
    });
    return (rows as Row[]).map(fromRow);
  }

  /** One task row, whatever its state; lookups of concurrent calls share a statement. */
  find(key: TaskKey & { sagaId: string }): Promise<TaskRow | null> {
    return this.finds.write({ id: refKey(key), saga_id: key.sagaId, step_idx: key.stepIdx, phase: key.phase, attempt: key.attempt });
  }

  private async findBatch(keys: readonly FindRow[]): Promise<Map<string, TaskRow | null>> {
    const { rows } = await this.pool.query({
      name: "sagad_task_find",
      text: `WITH x AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(saga_id uuid, step_idx int, phase text, attempt int))
             SELECT t.* FROM saga_tasks t JOIN x ON ${KEY_MATCH} WHERE ${PROBE}`,
      values: [JSON.stringify(keys)],
    });
    return new Map((rows as Row[]).map((r) => { const row = fromRow(r); return [refKey(row).toLowerCase(), row]; }));
  }

  /** Every task of a saga not yet done, for GetSaga's sub-states. */
  async openTasksOf(sagaId: string): Promise<TaskRow[]> {
    const { rows } = await this.pool.query({
      name: "sagad_task_open_of_saga",
      text: `SELECT * FROM saga_tasks WHERE saga_id = $1 AND state <> 'done'`,
      values: [sagaId],
    });
    return (rows as Row[]).map(fromRow);
  }

  /** Tasks offered to or running on these sessions: the truth the dispatcher's slot counts follow. */
  async heldBy(sessionIds: readonly string[]): Promise<TaskRow[]> {
    if (sessionIds.length === 0) return [];
    const { rows } = await this.pool.query({
      name: "sagad_task_held_by",
      text: `SELECT * FROM saga_tasks WHERE session_id = ANY($1::text[]) AND state IN ('offered', 'running')`,
      values: [sessionIds],
    });
    return (rows as Row[]).map(fromRow);
  }

  /** Rows of given tasks, whatever their state (for tasks a session held that may have ended). */
  async rowsOf(refs: readonly TaskRef[]): Promise<TaskRow[]> {
    if (refs.length === 0) return [];
    const { rows } = await this.pool.query({
      name: "sagad_task_rows_of",
      text: `WITH x AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(${REF_RECORD}))
             SELECT t.* FROM saga_tasks t JOIN x ON ${KEY_MATCH} WHERE ${PROBE}`,
      values: [refsJson(refs)],
    });
    return (rows as Row[]).map(fromRow);
  }

  /**
   * Cross-saga sweep: offers whose ack deadline passed go back to the queue, their attempt
   * untouched. Returns them (with the session they were offered to).
   */
  async expireOffers(now: number, limit: number): Promise<TaskRow[]> {
    const { rows } = await this.pool.query({
      name: "sagad_task_expire_offers",
      text: `WITH x AS (SELECT saga_id, step_idx, phase, attempt, session_id FROM saga_tasks
                        WHERE state = 'offered' AND ack_deadline < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)
             UPDATE saga_tasks t SET state = 'queued', session_id = NULL, worker = NULL, ack_deadline = NULL
             FROM x WHERE ${KEY_MATCH}
             RETURNING t.*, x.session_id AS offered_to`,
      values: [toIso(now), limit],
    });
    return (rows as (Row & { offered_to: string })[]).map((r) => ({ ...fromRow(r), sessionId: r.offered_to }));
  }

  /**
   * Cross-saga sweep: tasks held by a session whose heartbeats stopped (or that is gone), and
   * running tasks a live session no longer lists in its heartbeats (its process restarted under
   * the same instance id and knows nothing of them): the session beat for `unlistedMs` since the
   * task was last listed. An offer goes back to the queue as if its ack deadline passed; a running
   * task is requeued with its requeue count raised, unless that passes `maxRequeues`: then it
   * stays running with no session, for the caller to fail with WORKER_LOST (a later sweep finds it
   * again if that does not happen). Returns the running ones, with the count after this sweep.
   */
  async requeueLost(
    now: number,
    maxRequeues: number,
    unlistedMs: number,
    limit: number,
  ): Promise<(TaskRow & { lostWorker: string | null; unlisted: boolean })[]> {
    const { rows } = await this.pool.query({
      name: "sagad_task_requeue_lost",
      text: `WITH x AS (
               SELECT t.saga_id, t.step_idx, t.phase, t.attempt, t.state AS was, t.worker AS lost_worker,
                 (w.id IS NOT NULL AND w.expires_at >= $1) AS unlisted
               FROM saga_tasks t
               LEFT JOIN worker_sessions w ON w.id = t.session_id
               WHERE t.state IN ('offered', 'running') AND (w.id IS NULL OR w.expires_at < $1
                 OR (t.state = 'running' AND w.heartbeat_at > t.heartbeat_at + $4 * interval '1 ms'))
               LIMIT $3 FOR UPDATE OF t SKIP LOCKED)
             UPDATE saga_tasks t SET
               state = CASE WHEN x.was = 'running' AND t.requeues >= $2 THEN 'running' ELSE 'queued' END,
               requeues = CASE WHEN x.was = 'running' THEN t.requeues + 1 ELSE t.requeues END,
               session_id = NULL, worker = NULL, ack_deadline = NULL,
               started_at = CASE WHEN x.was = 'running' AND t.requeues >= $2 THEN t.started_at END,
               queued_at = CASE WHEN x.was = 'running' AND t.requeues < $2 THEN $1 ELSE t.queued_at END
             FROM x WHERE ${KEY_MATCH}
             RETURNING t.*, x.was, x.lost_worker, x.unlisted`,
      values: [toIso(now), maxRequeues, limit, unlistedMs],
    });
    return (rows as (Row & { was: TaskState; lost_worker: string | null; unlisted: boolean })[])
      .filter((r) => r.was === "running")
      .map((r) => ({ ...fromRow(r), lostWorker: r.lost_worker, unlisted: r.unlisted }));
  }

  /**
   * Cross-saga sweep: attempts past a limit of their own: start-to-close (from the ack), the
   * heartbeat timeout, or schedule-to-start (queued or offered too long).
   */
  async overdue(now: number, limit: number): Promise<(TaskRow & { overdue: OverdueKind })[]> {
    const { rows } = await this.pool.query({
      name: "sagad_task_overdue",
      text: `SELECT *, CASE
                 WHEN state = 'running' AND timeout_ms > 0 AND started_at + timeout_ms * interval '1 ms' < $1 THEN 'TIMEOUT'
                 WHEN state = 'running' AND heartbeat_ms > 0 AND heartbeat_at + heartbeat_ms * interval '1 ms' < $1 THEN 'HEARTBEAT_TIMEOUT'
                 ELSE 'SCHEDULE_TO_START_TIMEOUT' END AS overdue
             FROM saga_tasks
             WHERE state IN ('queued', 'offered', 'running') AND ((state = 'running' AND timeout_ms > 0 AND started_at + timeout_ms * interval '1 ms' < $1)
                OR (state = 'running' AND heartbeat_ms > 0 AND heartbeat_at + heartbeat_ms * interval '1 ms' < $1)
                OR (state IN ('queued', 'offered') AND schedule_ms > 0 AND queued_at + schedule_ms * interval '1 ms' < $1))
             LIMIT $2`,
      values: [toIso(now), limit],
    });
    return (rows as (Row & { overdue: OverdueKind })[]).map((r) => ({ ...fromRow(r), overdue: r.overdue }));
  }

  /**
   * Ends a task whose attempt is no longer in flight in its saga (its result could not apply), so
   * sweeps stop finding it. Never touches a task whose saga still wants it: the caller checked.
   */
  async closeOrphan(key: TaskKey & { sagaId: string }, now: number): Promise<void> {
    await this.pool.query({
      name: "sagad_task_close_orphan",
      text: `UPDATE saga_tasks SET state = 'done', result = 'superseded', finished_at = $5
             WHERE saga_id = $1 AND step_idx = $2 AND phase = $3 AND attempt = $4 AND state <> 'done'`,
      values: [key.sagaId, key.stepIdx, key.phase, key.attempt, toIso(now)],
    });
  }

  /** Actions with queued tasks: the claim poll asks only for those, so an idle poll costs one index probe. */
  async queuedActions(): Promise<string[]> {
    const { rows } = await this.pool.query({
      name: "sagad_task_queued_actions",
      text: `SELECT DISTINCT action FROM saga_tasks WHERE state = 'queued'`,
    });
    return (rows as { action: string }[]).map((r) => r.action);
  }

  /**
   * Cross-saga sweep: tasks of cancelled sagas that no worker started (queued, or offered and not
   * acknowledged). Nobody runs them, so their attempts end as cancelled without waiting for a worker.
   */
  async cancelledUnstarted(limit: number): Promise<TaskRow[]> {
    const { rows } = await this.pool.query({
      name: "sagad_task_cancelled_unstarted",
      text: `SELECT * FROM saga_tasks WHERE cancel_reason IS NOT NULL AND state IN ('queued', 'offered') ORDER BY queued_at LIMIT $1`,
      values: [limit],
    });
    return (rows as Row[]).map(fromRow);
  }

  /** Queued tasks by action (for the queue-depth metric). */
  async queueDepth(): Promise<Map<string, number>> {
    const { rows } = await this.pool.query(`SELECT action, count(*)::int AS n FROM saga_tasks WHERE state = 'queued' GROUP BY action`);
    return new Map((rows as { action: string; n: number }[]).map((r) => [r.action, r.n]));
  }
}
