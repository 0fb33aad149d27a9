-- ListSagas filtered by definition name alone ("every checkout saga, newest first") had no index
-- of its own: sagas_definition_created_idx leads with (definition_name, definition_version), so a
-- name without a version read every version's sagas and sorted them, 10-14 ms at 1,000,000 sagas
-- and over 100 ms for a name whose sagas are all old (BENCHMARKS.md, run P). This index matches
-- that query's WHERE and its ORDER BY created_at DESC, id DESC, so the first page is an index
-- range scan that stops after page_size rows, and a keyset page continues from its cursor.
-- The (name, version) index stays: with a version it is the exact match, and without it a
-- version's sagas would be filtered out of the name's, row by row.
-- A plain CREATE INDEX (each migration runs in a transaction, where CONCURRENTLY is not allowed)
-- blocks writes to sagas while it builds: one scan of the table.
-- No new table or key: sagas stays distributable by its id (DESIGN.md §7), the index one per shard.
CREATE INDEX sagas_definition_name_created_idx ON sagas (definition_name, created_at DESC, id DESC)
  WHERE definition_name IS NOT NULL;
