-- API tokens (issue 3). A token is sagad_<key_id>_<secret>; only SHA-256 of the secret is stored,
-- so a copy of this table lets nobody call sagad. The table is small and read whole by every
-- replica (its token cache), so it has no saga_id: past one Postgres it is a Citus reference table,
-- copied to every node (DESIGN.md §7).
CREATE TABLE api_tokens (
  -- Public lookup key: random, so it says nothing about the secret, and looking a presented token
  -- up by it means a check never compares against another token's hash.
  key_id       text        PRIMARY KEY CHECK (key_id ~ '^[0-9a-f]{16}$'),
  -- Unique forever, revoked tokens included: a token name in a saga's history names exactly one token.
  name         text        NOT NULL UNIQUE,
  scopes       text[]      NOT NULL
    CHECK (cardinality(scopes) > 0 AND scopes <@ ARRAY['sagas:read', 'sagas:execute', 'admin']::text[]),
  secret_hash  bytea       NOT NULL CHECK (length(secret_hash) = 32),
  created_at   timestamptz NOT NULL,
  -- Set once by revoke; a revoked token is refused by every replica within seconds.
  revoked_at   timestamptz
);
