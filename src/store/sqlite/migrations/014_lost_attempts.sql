-- Attempts LOST with their node (issue 9, src/store/lost-port.ts): the hold before their tasks
-- are placed again and the record a late exit report is judged against, kept across restarts.
-- One row per task (its latest LOST attempt); written in the transaction of the LOST.
CREATE TABLE lost_attempts (
  task_id    TEXT PRIMARY KEY,
  attempt    INTEGER NOT NULL,
  node_id    TEXT NOT NULL,
  at         INTEGER NOT NULL,
  hold_until INTEGER NOT NULL,
  awaited    INTEGER NOT NULL, -- 0 or 1
  task       TEXT NOT NULL     -- JSON: the task as the LOST left it
);
