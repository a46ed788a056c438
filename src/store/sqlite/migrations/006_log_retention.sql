-- Log retention (opt-in: `fastgpu up --logs-retention 30d`). When a finished task's log chunks
-- were deleted, so readers can say so; and an index to find the finished tasks whose logs are
-- due, by the time they finished (kept in the task's doc).
ALTER TABLE tasks ADD COLUMN logs_pruned_at INTEGER;
CREATE INDEX tasks_logs_due ON tasks (json_extract(doc, '$.finishedAt'))
  WHERE logs_pruned_at IS NULL AND state IN ('SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMEOUT');
