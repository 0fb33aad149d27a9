-- Saga definitions (issue 11): registered once, versioned, started by name. A version is immutable
-- (only its state changes), so every replica may cache it by (name, version). The table is small and
-- read by name, never joined to a saga's rows: past one Postgres it is a Citus reference table,
-- copied to every node, like api_tokens (DESIGN.md §7).
CREATE TABLE definitions (
  name        text        NOT NULL,
  version     integer     NOT NULL CHECK (version > 0),
  -- The validated spec in proto JSON (DefinitionSpec), read whole.
  spec        jsonb       NOT NULL,
  -- SHA-256 of the spec's canonical form: registering an identical spec again is a no-op.
  spec_hash   text        NOT NULL,
  state       text        NOT NULL CHECK (state IN ('ACTIVE', 'DEPRECATED', 'DISABLED')),
  labels      jsonb       NOT NULL,
  step_count  integer     NOT NULL,
  created_at  timestamptz NOT NULL,
  created_by  text        NOT NULL,
  updated_at  timestamptz NOT NULL,
  PRIMARY KEY (name, version)
);
CREATE INDEX definitions_labels_idx ON definitions USING gin (labels jsonb_path_ops);

-- The saga records the version it was started from; its steps are already a snapshot in saga_steps.
ALTER TABLE sagas ADD COLUMN definition_name text, ADD COLUMN definition_version integer;
-- ListSagas by definition (and version), newest first, keyset-paginated like the other filters.
CREATE INDEX sagas_definition_created_idx ON sagas (definition_name, definition_version, created_at DESC, id DESC)
  WHERE definition_name IS NOT NULL;

-- Registering definitions needs its own scope.
ALTER TABLE api_tokens DROP CONSTRAINT api_tokens_scopes_check;
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_scopes_check
  CHECK (cardinality(scopes) > 0 AND scopes <@ ARRAY['sagas:read', 'sagas:execute', 'definitions:write', 'admin']::text[]);
