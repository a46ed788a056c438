-- Utilisation samples in tiers: raw samples (the `samples` table) are kept a short while, and
-- compaction rolls them up per GPU into minutes, and minutes into hours, kept much longer.
-- Each rollup is recomputed from the finer tier and replaces the row of the same (start, node,
-- GPU), so rolling a bucket up twice never counts a sample twice. Keyed by time first: reads and
-- pruning take a range of time across every GPU. WITHOUT ROWID: the key is the table.
CREATE TABLE samples_1m (
  at              INTEGER NOT NULL, -- start of the minute, epoch ms
  node_id         TEXT NOT NULL,
  gpu_index       INTEGER NOT NULL,
  util_mean       REAL NOT NULL,
  memory_max_mib  INTEGER NOT NULL,
  allocated_mean  REAL NOT NULL,
  samples         INTEGER NOT NULL, -- raw samples behind the row: the weight of its means
  PRIMARY KEY (at, node_id, gpu_index)
) WITHOUT ROWID;

CREATE TABLE samples_1h (
  at              INTEGER NOT NULL, -- start of the hour, epoch ms
  node_id         TEXT NOT NULL,
  gpu_index       INTEGER NOT NULL,
  util_mean       REAL NOT NULL,
  memory_max_mib  INTEGER NOT NULL,
  allocated_mean  REAL NOT NULL,
  samples         INTEGER NOT NULL,
  PRIMARY KEY (at, node_id, gpu_index)
) WITHOUT ROWID;

-- How far compaction got per tier: every bucket that starts before `through` is rolled up.
-- Written in the same transaction as the rollups, so a crash leaves both or neither.
CREATE TABLE sample_rollup_marks (
  tier    TEXT PRIMARY KEY CHECK (tier IN ('minute', 'hour')),
  through INTEGER NOT NULL
);
