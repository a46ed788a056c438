-- Utilisation samples in blocks (store/sample-blocks.ts describes the layout): one row per
-- tier, block of time and node, holding the node's samples (or rollups) of the block packed and
-- compressed in `body`, and those appended since it was sealed in `tail`. About 1 byte a sample
-- where a row a sample took about 60. The rows of the old tables (`samples`, `samples_1m`,
-- `samples_1h`) are converted into blocks by the store when it opens (samples-legacy.ts, one
-- transaction), which then drops them: SQL cannot pack them.
CREATE TABLE sample_blocks (
  tier    TEXT NOT NULL CHECK (tier IN ('raw', 'minute', 'hour')),
  start   INTEGER NOT NULL, -- block start, epoch ms
  node_id TEXT NOT NULL,
  -- The small, open tail first: reading it (or its length) does not walk the body's pages.
  tail    BLOB NOT NULL,
  body    BLOB NOT NULL,
  PRIMARY KEY (tier, start, node_id)
);

-- How far compaction ('minute', 'hour'), pruning ('pruned:raw', 'pruned:minute') and sealing
-- ('sealed:<tier>') got. Written in the same transaction as the blocks they describe.
CREATE TABLE sample_marks (
  name TEXT PRIMARY KEY,
  at   INTEGER NOT NULL
);
