-- Sweeps (issue 14 item 4): a sweep, its trials (each one task) and the metric points tasks
-- report, as in the SQLite adapter's 008_sweeps.sql.
CREATE TABLE sweeps (
  id         TEXT COLLATE "C" PRIMARY KEY,
  tenant     TEXT NOT NULL,
  state      TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  version    BIGINT NOT NULL,
  doc        TEXT NOT NULL
);
CREATE INDEX sweeps_created ON sweeps (created_at);

CREATE TABLE sweep_trials (
  sweep_id TEXT COLLATE "C" NOT NULL REFERENCES sweeps (id),
  idx      INTEGER NOT NULL,
  task_id  TEXT COLLATE "C" NOT NULL UNIQUE,
  doc      TEXT NOT NULL,
  PRIMARY KEY (sweep_id, idx)
);

CREATE TABLE task_metrics (
  task_id TEXT COLLATE "C" NOT NULL,
  seq     INTEGER NOT NULL,
  at      BIGINT NOT NULL,
  step    DOUBLE PRECISION NOT NULL,
  doc     TEXT NOT NULL,
  PRIMARY KEY (task_id, seq)
);
