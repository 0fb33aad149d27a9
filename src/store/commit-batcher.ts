import type pg from "pg";
import { isTransientPgError } from "./pool.js";

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
}

export interface CommitResult {
  /** False when the saga moved on (sequence) or the lease was lost: reload before retrying. */
  ok: boolean;
  /** The lease owner after the commit (on success). */
  leaseOwner: string | null;
}

/** Notification channel: payload `<saga id>:<sequence>`, sent in the committing transaction. */
export const EVENTS_CHANNEL = "sagad_events";

export const STEP_RECORD = `idx int, name text, spec jsonb, status text, attempt int, round_start int, output jsonb, error text,
  error_kind text, started_at timestamptz, completed_at timestamptz, next_attempt_at timestamptz`;
export const EVENT_RECORD = `sequence bigint, type text, at timestamptz, body jsonb`;

/**
 * Any number of transitions of different sagas in one statement and one transaction: each saga
 * row is fenced on its own sequence (and lease), and only the sagas whose fence held get their
 * step rows, events and notification.
 */
const COMMIT_TRANSITIONS = `
WITH i AS (
  SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, expected bigint, status text, retry_count int, error text,
    current_step text, cancel_requested boolean, sequence bigint, updated_at timestamptz, completed_at timestamptz,
    mode text, me text, until timestamptz, now timestamptz, steps jsonb, events jsonb)
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
  WHERE t.id = i.id AND t.sequence = i.expected AND (i.mode NOT IN ('owner', 'release') OR t.lease_owner = i.me)
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
)
SELECT s.id, s.lease_owner, pg_notify('${EVENTS_CHANNEL}', s.id::text || ':' || s.sequence::text) AS notified FROM s`;

interface Pending {
  row: TransitionRow;
  resolve(result: CommitResult): void;
  reject(err: unknown): void;
}

/** Sizing of the batching; the defaults suit one replica on a small machine. */
export interface BatchOptions {
  /** Most transitions per statement. */
  maxBatch: number;
  /** Statements in flight at once (each holds a pooled connection). */
  maxInFlight: number;
}

/**
 * Group commit for saga transitions. A transition is sent at once when a connection slot is free
 * (no added latency when idle); while all slots are busy, transitions queue and go out together
 * in the next statement. Every transaction that sends NOTIFY takes a global lock at commit, so
 * committing one saga per transaction caps the whole cluster at a few thousand commits a second;
 * a batch pays that once. Each caller still learns its own outcome, and a batch never holds two
 * transitions of one saga (the second waits for the next batch, keeping their order).
 */
export class CommitBatcher {
  private readonly queue: Pending[] = [];
  private inFlight = 0;

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: BatchOptions = { maxBatch: 128, maxInFlight: 2 },
  ) {}

  commit(row: TransitionRow): Promise<CommitResult> {
    return new Promise<CommitResult>((resolve, reject) => {
      this.queue.push({ row, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.options.maxInFlight && this.queue.length > 0) {
      const batch = this.takeBatch();
      this.inFlight++;
      void this.run(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private takeBatch(): Pending[] {
    const batch: Pending[] = [];
    const ids = new Set<string>();
    const rest: Pending[] = [];
    for (const pending of this.queue) {
      if (batch.length < this.options.maxBatch && !ids.has(pending.row.id)) {
        ids.add(pending.row.id);
        batch.push(pending);
      } else {
        rest.push(pending);
      }
    }
    this.queue.splice(0, this.queue.length, ...rest);
    return batch;
  }

  private async run(batch: Pending[]): Promise<void> {
    try {
      const { rows } = await this.pool.query({
        name: "sagad_commit_transitions",
        text: COMMIT_TRANSITIONS,
        values: [JSON.stringify(batch.map((p) => p.row))],
      });
      const owners = new Map((rows as { id: string; lease_owner: string | null }[]).map((r) => [r.id.toLowerCase(), r.lease_owner]));
      for (const p of batch) {
        const id = p.row.id.toLowerCase();
        p.resolve(owners.has(id) ? { ok: true, leaseOwner: owners.get(id)! } : { ok: false, leaseOwner: null });
      }
    } catch (err) {
      if (batch.length === 1 || isTransientPgError(err)) {
        for (const p of batch) p.reject(err);
        return;
      }
      // One bad transition must not fail the others: commit each on its own to isolate it.
      for (const p of batch) await this.run([p]);
    }
  }
}
