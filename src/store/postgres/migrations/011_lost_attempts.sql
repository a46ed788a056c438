-- Attempts LOST with their node (issue 9, src/store/lost-port.ts): the hold before their tasks
-- are placed again and the record a late exit report is judged against, kept across restarts and
-- leader changes. One row per task (its latest LOST attempt); written in the transaction of the
-- LOST, and fenced like the other control-plane tables (007_fencing.sql).
CREATE TABLE lost_attempts (
  task_id    TEXT COLLATE "C" PRIMARY KEY,
  attempt    INTEGER NOT NULL,
  node_id    TEXT NOT NULL,
  at         BIGINT NOT NULL,
  hold_until BIGINT NOT NULL,
  awaited    BOOLEAN NOT NULL,
  task       TEXT NOT NULL -- JSON: the task as the LOST left it
);

CREATE TRIGGER lost_attempts_fence BEFORE INSERT OR UPDATE OR DELETE ON lost_attempts
  FOR EACH STATEMENT EXECUTE FUNCTION fastgpu_fence_statement();
