-- Utilisation samples in tiers, as SQLite's migrations 001/003/005: raw samples, per-GPU minute
-- and hour rollups, and how far compaction got. Kept in its own file (and samples.ts) so that
-- the compressed block layout (issue 24) replaces it in one place.
CREATE TABLE samples (
  at              BIGINT NOT NULL,
  node_id         TEXT COLLATE "C" NOT NULL,
  gpu_index       INTEGER NOT NULL,
  util_percent    DOUBLE PRECISION NOT NULL,
  memory_used_mib BIGINT NOT NULL,
  allocated_milli BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX samples_at ON samples (at);
CREATE INDEX samples_node_at ON samples (node_id, at);

CREATE TABLE samples_1m (
  at              BIGINT NOT NULL,
  node_id         TEXT COLLATE "C" NOT NULL,
  gpu_index       INTEGER NOT NULL,
  util_mean       DOUBLE PRECISION NOT NULL,
  memory_max_mib  BIGINT NOT NULL,
  allocated_mean  DOUBLE PRECISION NOT NULL,
  samples         BIGINT NOT NULL,
  PRIMARY KEY (at, node_id, gpu_index)
);

CREATE TABLE samples_1h (
  at              BIGINT NOT NULL,
  node_id         TEXT COLLATE "C" NOT NULL,
  gpu_index       INTEGER NOT NULL,
  util_mean       DOUBLE PRECISION NOT NULL,
  memory_max_mib  BIGINT NOT NULL,
  allocated_mean  DOUBLE PRECISION NOT NULL,
  samples         BIGINT NOT NULL,
  PRIMARY KEY (at, node_id, gpu_index)
);

CREATE TABLE sample_rollup_marks (
  tier    TEXT PRIMARY KEY CHECK (tier IN ('minute', 'hour')),
  through BIGINT NOT NULL
);
