-- Retention (--retention-days) deletes the oldest sagas that finished for good, a batch at a time.
-- Its query is "terminal, completed_at before the cutoff, oldest first, LIMIT n": this partial index
-- answers it with a range scan from the oldest entry, however many sagas are live or kept. It holds
-- only the statuses retention may delete, so active sagas never enter it, and updates that change
-- neither status nor completed_at stay heap-only (HOT) as before; status is already indexed, so a
-- transition that changes it was never HOT. A plain CREATE INDEX (the migration runner applies
-- each file in a transaction, where CONCURRENTLY is not allowed) locks writes to sagas while it
-- builds: as long as one scan of the table, on an existing large one.
-- No new table or key: sagas stays distributable by its id (DESIGN.md §7), the index one per shard.
CREATE INDEX sagas_retention_idx ON sagas (completed_at)
  WHERE status IN ('COMPLETED', 'COMPENSATED', 'CANCELLED');
