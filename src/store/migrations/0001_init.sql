-- sagad schema v1. Every table carries saga_id first in its primary key and every hot query is
-- scoped to one saga, so the tables can be distributed by saga_id (Citus) unchanged (DESIGN.md §7).

-- fillfactor leaves room in each page so the frequent updates that touch no indexed column stay
-- heap-only (HOT) and skip index maintenance.
CREATE TABLE sagas (
  id               uuid        PRIMARY KEY,
  name             text        NOT NULL,
  status           text        NOT NULL,
  failure_policy   text        NOT NULL,
  vars             jsonb       NOT NULL,
  labels           jsonb       NOT NULL,
  definition       text        NOT NULL,
  -- Idempotent create: the id is derived from request_id, so the primary key de-duplicates and
  -- no cross-saga unique index is needed. request_hash tells "same body" from "different body".
  request_id       text,
  request_hash     text,
  max_retries      integer     NOT NULL,
  retry_count      integer     NOT NULL,
  error            text,
  current_step     text,
  cancel_requested boolean     NOT NULL,
  -- Sequence of the last event; every write is fenced on it (optimistic concurrency).
  sequence         bigint      NOT NULL,
  lease_owner      text,
  -- '-infinity' when nobody holds the lease, so "expired or free" is one index range.
  lease_expires_at timestamptz NOT NULL,
  created_at       timestamptz NOT NULL,
  updated_at       timestamptz NOT NULL,
  completed_at     timestamptz
) WITH (fillfactor = 80);

-- ListSagas keyset pagination (newest first) with optional filters.
CREATE INDEX sagas_created_idx ON sagas (created_at DESC, id DESC);
CREATE INDEX sagas_status_created_idx ON sagas (status, created_at DESC, id DESC);
CREATE INDEX sagas_name_created_idx ON sagas (name, created_at DESC, id DESC);
CREATE INDEX sagas_labels_idx ON sagas USING gin (labels jsonb_path_ops);
-- The claim query only ever looks at active sagas; keep that index small.
CREATE INDEX sagas_claimable_idx ON sagas (lease_expires_at)
  WHERE status IN ('PENDING', 'RUNNING', 'COMPENSATING', 'CANCELLING');

CREATE TABLE saga_steps (
  saga_id          uuid        NOT NULL REFERENCES sagas (id) ON DELETE CASCADE,
  idx              integer     NOT NULL,
  name             text        NOT NULL,
  -- The definition (action, config, depends_on, compensate, retry policy) as one JSON document:
  -- it is written at create (and by RetryStep) and always read whole.
  spec             jsonb       NOT NULL,
  status           text        NOT NULL,
  attempt          integer     NOT NULL,
  round_start      integer     NOT NULL,
  output           jsonb,
  error            text,
  error_kind       text,
  started_at       timestamptz,
  completed_at     timestamptz,
  next_attempt_at  timestamptz,
  PRIMARY KEY (saga_id, idx)
) WITH (fillfactor = 80);

CREATE TABLE saga_events (
  saga_id   uuid        NOT NULL REFERENCES sagas (id) ON DELETE CASCADE,
  sequence  bigint      NOT NULL,
  type      text        NOT NULL,
  at        timestamptz NOT NULL,
  -- The rest of the event (statuses, step, attempt, error, output, actor, message).
  body      jsonb       NOT NULL,
  PRIMARY KEY (saga_id, sequence)
);
