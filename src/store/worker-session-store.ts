import { randomBytes } from "node:crypto";
import type pg from "pg";
import { toIso } from "./rows.js";

/** An action a worker serves, with its optional concurrency cap (0: only the slots limit it). */
export interface ServedAction {
  name: string;
  maxConcurrency: number;
}

/** A worker session as stored: one per worker process, alive while its heartbeats come. */
export interface SessionRow {
  id: string;
  instanceId: string;
  actions: ServedAction[];
  slots: number;
  labels: Record<string, string>;
  sdk: string;
  replicaId: string | null;
  draining: boolean;
  connectedAt: number;
  heartbeatAt: number;
  expiresAt: number;
  /** Tasks offered to or running on it (ListWorkers only). */
  inFlight?: number;
}

interface Row {
  id: string;
  instance_id: string;
  actions: ServedAction[];
  slots: number;
  labels: Record<string, string>;
  sdk: string;
  replica_id: string | null;
  draining: boolean;
  connected_at: Date;
  heartbeat_at: Date;
  expires_at: Date;
  in_flight?: number;
}

function fromRow(r: Row): SessionRow {
  return {
    id: r.id,
    instanceId: r.instance_id,
    actions: r.actions,
    slots: r.slots,
    labels: r.labels,
    sdk: r.sdk,
    replicaId: r.replica_id,
    draining: r.draining,
    connectedAt: r.connected_at.getTime(),
    heartbeatAt: r.heartbeat_at.getTime(),
    expiresAt: r.expires_at.getTime(),
    ...(r.in_flight === undefined ? {} : { inFlight: r.in_flight }),
  };
}

export interface RegisterSession {
  instanceId: string;
  actions: ServedAction[];
  slots: number;
  labels: Record<string, string>;
  sdk: string;
  replicaId: string;
  now: number;
  ttlMs: number;
}

/** SQL about worker sessions and the key task tokens are signed with. */
export class WorkerSessionStore {
  constructor(private readonly pool: pg.Pool) {}

  /**
   * Opens the session of `instanceId`, or resumes it while it is alive (same id, its tasks kept,
   * its actions and slots as now given). An expired one is replaced by a new session: its tasks
   * were (or will be) offered again, so the old id must not match them.
   */
  async register(s: RegisterSession): Promise<{ session: SessionRow; resumed: boolean }> {
    const fresh = `ws_${randomBytes(12).toString("base64url")}`;
    const { rows } = await this.pool.query({
      name: "sagad_session_register",
      text: `INSERT INTO worker_sessions AS w (id, instance_id, actions, slots, labels, sdk, replica_id, connected_at, heartbeat_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9)
             ON CONFLICT (instance_id) DO UPDATE SET
               id = CASE WHEN w.expires_at < $8 THEN EXCLUDED.id ELSE w.id END,
               draining = CASE WHEN w.expires_at < $8 THEN false ELSE w.draining END,
               connected_at = CASE WHEN w.expires_at < $8 THEN $8 ELSE w.connected_at END,
               actions = EXCLUDED.actions, slots = EXCLUDED.slots, labels = EXCLUDED.labels, sdk = EXCLUDED.sdk,
               replica_id = EXCLUDED.replica_id, heartbeat_at = $8, expires_at = EXCLUDED.expires_at
             RETURNING *`,
      values: [
        fresh,
        s.instanceId,
        JSON.stringify(s.actions),
        s.slots,
        JSON.stringify(s.labels),
        s.sdk,
        s.replicaId,
        toIso(s.now),
        toIso(s.now + s.ttlMs),
      ],
    });
    const session = fromRow(rows[0] as Row);
    return { session, resumed: session.id !== fresh };
  }

  /** A live session, or null if it expired or never was. */
  async live(id: string, now: number): Promise<SessionRow | null> {
    const { rows } = await this.pool.query({
      name: "sagad_session_live",
      text: `SELECT * FROM worker_sessions WHERE id = $1 AND expires_at >= $2`,
      values: [id, toIso(now)],
    });
    return rows.length === 0 ? null : fromRow(rows[0] as Row);
  }

  /** Which of these sessions are alive (the dispatcher drops the rest). */
  async alive(ids: readonly string[], now: number): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const { rows } = await this.pool.query({
      name: "sagad_session_alive",
      text: `SELECT id FROM worker_sessions WHERE id = ANY($1::text[]) AND expires_at >= $2`,
      values: [ids, toIso(now)],
    });
    return new Set((rows as { id: string }[]).map((r) => r.id));
  }

  /** Liveness: moves the session's expiry; null if it had already expired (its tasks are gone). */
  async heartbeat(id: string, now: number, ttlMs: number): Promise<SessionRow | null> {
    const { rows } = await this.pool.query({
      name: "sagad_session_heartbeat",
      text: `UPDATE worker_sessions SET heartbeat_at = $2, expires_at = $3 WHERE id = $1 AND expires_at >= $2 RETURNING *`,
      values: [id, toIso(now), toIso(now + ttlMs)],
    });
    return rows.length === 0 ? null : fromRow(rows[0] as Row);
  }

  /** Which replica holds the session's stream (or last poll); null when it left. */
  async attach(id: string, replicaId: string | null): Promise<void> {
    await this.pool.query({
      name: "sagad_session_attach",
      text: `UPDATE worker_sessions SET replica_id = $2 WHERE id = $1`,
      values: [id, replicaId],
    });
  }

  /** Detaches only if this replica still holds it (a reconnect elsewhere may have won). */
  async detach(id: string, replicaId: string): Promise<void> {
    await this.pool.query({
      name: "sagad_session_detach",
      text: `UPDATE worker_sessions SET replica_id = NULL WHERE id = $1 AND replica_id = $2`,
      values: [id, replicaId],
    });
  }

  async drain(id: string, now: number): Promise<SessionRow | null> {
    const { rows } = await this.pool.query({
      name: "sagad_session_drain",
      text: `UPDATE worker_sessions SET draining = true WHERE id = $1 AND expires_at >= $2 RETURNING *`,
      values: [id, toIso(now)],
    });
    return rows.length === 0 ? null : fromRow(rows[0] as Row);
  }

  /** Live sessions with their in-flight counts, optionally only those serving `action`. */
  async list(now: number, action: string | null): Promise<SessionRow[]> {
    const { rows } = await this.pool.query({
      name: "sagad_session_list",
      text: `SELECT w.*, (SELECT count(*)::int FROM saga_tasks t WHERE t.session_id = w.id AND t.state IN ('offered', 'running')) AS in_flight
             FROM worker_sessions w
             WHERE w.expires_at >= $1 AND ($2::text IS NULL OR w.actions @> jsonb_build_array(jsonb_build_object('name', $2::text)))
             ORDER BY w.connected_at, w.id`,
      values: [toIso(now), action],
    });
    return (rows as Row[]).map(fromRow);
  }

  /** Actions some live session serves (CreateSaga warns about steps no worker serves). */
  async servedActions(now: number): Promise<Set<string>> {
    const { rows } = await this.pool.query({
      name: "sagad_session_served_actions",
      text: `SELECT DISTINCT a->>'name' AS name FROM worker_sessions w, jsonb_array_elements(w.actions) a WHERE w.expires_at >= $1`,
      values: [toIso(now)],
    });
    return new Set((rows as { name: string }[]).map((r) => r.name));
  }

  /** Ends sessions whose heartbeats stopped before `before`; returns them. */
  async deleteExpired(before: number): Promise<SessionRow[]> {
    const { rows } = await this.pool.query(`DELETE FROM worker_sessions WHERE expires_at < $1 RETURNING *`, [toIso(before)]);
    return (rows as Row[]).map(fromRow);
  }

  /** Ends a session at the worker's request (drained, nothing in flight). */
  async end(id: string): Promise<SessionRow | null> {
    const { rows } = await this.pool.query(`DELETE FROM worker_sessions WHERE id = $1 RETURNING *`, [id]);
    return rows.length === 0 ? null : fromRow(rows[0] as Row);
  }

  /** The token-signing key shared by all replicas, made by whichever asks first. */
  async tokenKey(): Promise<Buffer> {
    await this.pool.query(`INSERT INTO worker_token_keys (id, secret) VALUES (1, $1) ON CONFLICT (id) DO NOTHING`, [randomBytes(32)]);
    const { rows } = await this.pool.query(`SELECT secret FROM worker_token_keys WHERE id = 1`);
    return (rows[0] as { secret: Buffer }).secret;
  }
}
