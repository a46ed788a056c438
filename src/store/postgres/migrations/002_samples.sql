-- Utilisation samples in blocks (store/sample-blocks.ts describes the layout), as SQLite's
-- migration 007: one row per tier, block of time and node, its records packed and compressed
-- in `body`, those appended since it was sealed in `tail`. Kept in its own file (and
-- samples.ts) so that the sample layout changes in one place.
CREATE TABLE sample_blocks (
  tier    TEXT NOT NULL CHECK (tier IN ('raw', 'minute', 'hour')),
  start   BIGINT NOT NULL,
  node_id TEXT COLLATE "C" NOT NULL,
  body    BYTEA NOT NULL,
  tail    BYTEA NOT NULL,
  PRIMARY KEY (tier, start, node_id)
);

-- How far compaction ('minute', 'hour'), pruning ('pruned:raw', 'pruned:minute') and sealing
-- ('sealed:<tier>') got, written in the same transaction as the blocks they describe.
CREATE TABLE sample_marks (
  name TEXT COLLATE "C" PRIMARY KEY,
  at   BIGINT NOT NULL
);
