-- Sweeps (issue 14 item 4): a sweep, its trials (each one task) and the metric points tasks
-- report. Docs are JSON; the columns are what the queries filter on.
CREATE TABLE sweeps (
  id         TEXT PRIMARY KEY,
  tenant     TEXT NOT NULL,
  state      TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  version    INTEGER NOT NULL,
  doc        TEXT NOT NULL
);
CREATE INDEX sweeps_created ON sweeps (created_at);

CREATE TABLE sweep_trials (
  sweep_id TEXT NOT NULL REFERENCES sweeps (id),
  idx      INTEGER NOT NULL,
  task_id  TEXT NOT NULL UNIQUE,
  doc      TEXT NOT NULL,
  PRIMARY KEY (sweep_id, idx)
);

CREATE TABLE task_metrics (
  task_id TEXT NOT NULL,
  seq     INTEGER NOT NULL,
  at      INTEGER NOT NULL,
  step    REAL NOT NULL,
  doc     TEXT NOT NULL,
  PRIMARY KEY (task_id, seq)
) WITHOUT ROWID;
