import type {
  CompensationSpec,
  FailurePolicy,
  JsonObject,
  RetryPolicy,
  SagaEvent,
  SagaState,
  SagaStatus,
  StepState,
  StepStatus,
} from "../domain/types.js";

/**
 * The one place rows become domain objects and back. Timestamps travel as ISO strings inside JSON
 * parameters (jsonb_to_recordset) and come back as Date (columns) or ISO strings (jsonb_agg).
 */

/** The part of a step that is its definition, stored whole in saga_steps.spec. */
interface StepSpecJson {
  action: string;
  config: JsonObject;
  dependsOn: string[];
  compensate: CompensationSpec | null;
  retryPolicy: RetryPolicy;
}

export interface SagaRow {
  id: string;
  name: string;
  status: string;
  failure_policy: string;
  vars: Record<string, string>;
  labels: Record<string, string>;
  definition: string;
  definition_name: string | null;
  definition_version: number | null;
  request_id: string | null;
  request_hash: string | null;
  max_retries: number;
  retry_count: number;
  error: string | null;
  current_step: string | null;
  cancel_requested: boolean;
  sequence: string | number;
  lease_owner: string | null;
  created_at: Date;
  updated_at: Date;
  completed_at: Date | null;
}

interface StepRowJson {
  idx: number;
  name: string;
  spec: StepSpecJson;
  status: string;
  attempt: number;
  round_start: number;
  output: JsonObject | null;
  error: string | null;
  error_kind: string | null;
  started_at: string | null;
  completed_at: string | null;
  next_attempt_at: string | null;
}

const ms = (value: Date | string | null): number | null => (value === null ? null : new Date(value).getTime());
const iso = (value: number | null): string | null => (value === null ? null : new Date(value).toISOString());

export function sagaFromRow(row: SagaRow, steps: StepRowJson[] | null): SagaState {
  return {
    id: row.id,
    name: row.name,
    status: row.status as SagaStatus,
    failurePolicy: row.failure_policy as FailurePolicy,
    vars: row.vars,
    labels: row.labels,
    definition: row.definition,
    definitionRef: row.definition_name === null ? null : { name: row.definition_name, version: row.definition_version ?? 0 },
    requestId: row.request_id,
    maxRetries: row.max_retries,
    retryCount: row.retry_count,
    error: row.error,
    currentStep: row.current_step,
    cancelRequested: row.cancel_requested,
    sequence: Number(row.sequence),
    createdAt: row.created_at.getTime(),
    updatedAt: row.updated_at.getTime(),
    completedAt: ms(row.completed_at),
    steps: (steps ?? []).map(stepFromJson),
  };
}

function stepFromJson(row: StepRowJson): StepState {
  return {
    name: row.name,
    ...row.spec,
    status: row.status as StepStatus,
    attempt: row.attempt,
    roundStart: row.round_start,
    output: row.output,
    error: row.error,
    errorKind: row.error_kind,
    startedAt: ms(row.started_at),
    completedAt: ms(row.completed_at),
    nextAttemptAt: ms(row.next_attempt_at),
  };
}

export function stepSpecJson(step: StepState): StepSpecJson {
  return {
    action: step.action,
    config: step.config,
    dependsOn: step.dependsOn,
    compensate: step.compensate,
    retryPolicy: step.retryPolicy,
  };
}

/** A step row for jsonb_to_recordset; `spec` only when the definition changed (it can be large). */
export function stepRowJson(step: StepState, idx: number, withSpec: boolean): Record<string, unknown> {
  return {
    idx,
    name: step.name,
    spec: withSpec ? stepSpecJson(step) : null,
    status: step.status,
    attempt: step.attempt,
    round_start: step.roundStart,
    output: step.output,
    error: step.error,
    error_kind: step.errorKind,
    started_at: iso(step.startedAt),
    completed_at: iso(step.completedAt),
    next_attempt_at: iso(step.nextAttemptAt),
  };
}

/** The columns of an event row; everything but the key and type lives in `body`. */
export function eventRowJson(event: SagaEvent): Record<string, unknown> {
  const { sequence, type, at, ...body } = event;
  return { sequence, type, at: iso(at), body };
}

export function eventFromRow(row: { sequence: string | number; type: string; at: Date; body: Omit<SagaEvent, "sequence" | "type" | "at"> }): SagaEvent {
  // Events written before tokens (or reasons) existed have no tokenName (reason) in their body.
  return { ...row.body, tokenName: row.body.tokenName ?? null, reason: row.body.reason ?? null, sequence: Number(row.sequence), type: row.type as SagaEvent["type"], at: row.at.getTime() };
}

export const toIso = iso;

/** Notification channel: payload `<saga id>:<sequence>`, sent in the committing transaction. */
export const EVENTS_CHANNEL = "sagad_events";

/** Column list of a step row in jsonb_to_recordset. */
export const STEP_RECORD = `idx int, name text, spec jsonb, status text, attempt int, round_start int, output jsonb, error text,
  error_kind text, started_at timestamptz, completed_at timestamptz, next_attempt_at timestamptz`;
/** Column list of an event row in jsonb_to_recordset. */
export const EVENT_RECORD = `sequence bigint, type text, at timestamptz, body jsonb`;

/** The columns of one opened task in jsonb_to_recordset (see TaskOpen). */
export const TASK_OPEN_RECORD =
  "step_idx int, phase text, attempt int, step text, action text, timeout_ms int, heartbeat_ms int, schedule_ms int, session_id text, worker text, ack_deadline timestamptz";
/** The columns of one closed task (see TaskClose). */
export const TASK_CLOSE_RECORD = "step_idx int, phase text, attempt int, result text, digest text";

/**
 * Inserts the tasks a statement's sagas opened, from `<source>.tasks_open`, queued at
 * `<source>.updated_at`: queued, or already offered (delivery 1) to the session the dispatcher
 * chose. A key seen before (an attempt number given back and used again) starts over queued,
 * keeping its delivery count so no old token, nor the offer just made, matches it.
 */
export function insertTasksSql(source: string, written: string): string {
  return `INSERT INTO saga_tasks (saga_id, step_idx, phase, attempt, step, action, state, delivery, session_id, worker, ack_deadline,
    timeout_ms, heartbeat_ms, schedule_ms, queued_at)
  SELECT ${written}.id, x.step_idx, x.phase, x.attempt, x.step, x.action,
    CASE WHEN x.session_id IS NULL THEN 'queued' ELSE 'offered' END, CASE WHEN x.session_id IS NULL THEN 0 ELSE 1 END,
    x.session_id, x.worker, x.ack_deadline, x.timeout_ms, x.heartbeat_ms, x.schedule_ms, ${source}.updated_at
  FROM ${written} JOIN ${source} ON ${source}.id = ${written}.id
  CROSS JOIN LATERAL jsonb_to_recordset(coalesce(${source}.tasks_open, '[]')) AS x(${TASK_OPEN_RECORD})
  ON CONFLICT (saga_id, step_idx, phase, attempt) DO UPDATE SET action = EXCLUDED.action, state = 'queued',
    session_id = NULL, worker = NULL, requeues = 0, cancel_reason = NULL, timeout_ms = EXCLUDED.timeout_ms,
    heartbeat_ms = EXCLUDED.heartbeat_ms, schedule_ms = EXCLUDED.schedule_ms, queued_at = EXCLUDED.queued_at,
    ack_deadline = NULL, started_at = NULL, heartbeat_at = NULL, progress = NULL, result = NULL, result_digest = NULL,
    finished_at = NULL`;
}
