-- Remote workers. An attempt of a worker action is a task row, written in the same statement as
-- the step's transition that starts the attempt; offers, acks, heartbeats and results change the
-- row, so a replica that dies loses no task. saga_tasks carries saga_id first in its key like
-- every per-saga table (DESIGN.md §7). The dispatch statements that look across sagas (claim of
-- queued tasks, ack-deadline and lost-session sweeps) are named and commented in task-store.ts.
CREATE TABLE saga_tasks (
  saga_id           uuid        NOT NULL REFERENCES sagas (id) ON DELETE CASCADE,
  step_idx          integer     NOT NULL,
  -- 'action' or 'compensate'
  phase             text        NOT NULL,
  attempt           integer     NOT NULL,
  -- The step's name, so a result can be applied without loading the saga first.
  step              text        NOT NULL,
  action            text        NOT NULL,
  -- queued -> offered -> running -> done; offered/running go back to queued when the ack deadline
  -- passes or the worker's session is lost.
  state             text        NOT NULL,
  -- Offers made so far; a token names the delivery it was offered with.
  delivery          integer     NOT NULL DEFAULT 0,
  session_id        text,
  worker            text,
  -- Offered again because the worker running it was lost (capped; not an attempt).
  requeues          integer     NOT NULL DEFAULT 0,
  -- Set when the worker is asked to stop (CancelSaga); repeated in heartbeat answers.
  cancel_reason     text,
  -- The attempt's limits, from the step's retry policy when it started (0: none).
  timeout_ms        integer     NOT NULL DEFAULT 0,
  heartbeat_ms      integer     NOT NULL DEFAULT 0,
  schedule_ms       integer     NOT NULL DEFAULT 0,
  queued_at         timestamptz NOT NULL,
  ack_deadline      timestamptz,
  started_at        timestamptz,
  heartbeat_at      timestamptz,
  progress          jsonb,
  -- Once done: succeeded | failed | cancelled | superseded, and what was reported, so the same
  -- report sent again is told already_recorded and a different one STALE_ATTEMPT.
  result            text,
  result_digest     text,
  finished_at       timestamptz,
  PRIMARY KEY (saga_id, step_idx, phase, attempt)
) WITH (fillfactor = 80);

-- What the claim poll scans: queued tasks by action, oldest first.
CREATE INDEX saga_tasks_queued_idx ON saga_tasks (action, queued_at) WHERE state = 'queued';
-- The sweeps read only tasks not yet done, which are few however many done ones the table keeps:
-- offers past their ack deadline, and attempts past a timeout of their own.
CREATE INDEX saga_tasks_offered_idx ON saga_tasks (ack_deadline) WHERE state = 'offered';
CREATE INDEX saga_tasks_live_idx ON saga_tasks (queued_at) WHERE state IN ('queued', 'offered', 'running');
-- Cancelled tasks no worker has started yet: the sweep ends them at once.
CREATE INDEX saga_tasks_cancelled_idx ON saga_tasks (queued_at) WHERE cancel_reason IS NOT NULL AND state IN ('queued', 'offered');
-- Tasks held by a worker session, for heartbeats, slot counts and the lost-session sweep.
CREATE INDEX saga_tasks_session_idx ON saga_tasks (session_id) WHERE state IN ('offered', 'running');

-- One row per worker process (instance_id); liveness is expires_at, moved only by heartbeats.
CREATE TABLE worker_sessions (
  id            text        PRIMARY KEY,
  instance_id   text        NOT NULL UNIQUE,
  actions       jsonb       NOT NULL,
  slots         integer     NOT NULL,
  labels        jsonb       NOT NULL,
  sdk           text        NOT NULL,
  -- The replica holding its Subscribe stream (or its last poll); NULL when none.
  replica_id    text,
  draining      boolean     NOT NULL DEFAULT false,
  connected_at  timestamptz NOT NULL,
  heartbeat_at  timestamptz NOT NULL,
  expires_at    timestamptz NOT NULL
);
CREATE INDEX worker_sessions_expires_idx ON worker_sessions (expires_at);

-- The key task tokens are signed with, shared by every replica (made once, by the first one).
CREATE TABLE worker_token_keys (
  id          integer     PRIMARY KEY,
  secret      bytea       NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- Worker processes get tokens of their own scope: they run tasks and can neither read nor steer sagas.
ALTER TABLE api_tokens DROP CONSTRAINT api_tokens_scopes_check;
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_scopes_check
  CHECK (cardinality(scopes) > 0 AND scopes <@ ARRAY['sagas:read', 'sagas:execute', 'definitions:write', 'workers', 'admin']::text[]);
