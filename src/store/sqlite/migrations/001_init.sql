-- FastGPU schema, version 1. Each table keeps as real columns what is filtered, sorted or
-- updated on its own, and the rest of the record as JSON in `doc` (columns win on read), so
-- rows stay compact and the domain types can grow without a migration for every field.

CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE nodes (
  id                TEXT PRIMARY KEY,
  name              TEXT NOT NULL,
  state             TEXT NOT NULL,
  registered_at     INTEGER NOT NULL,
  last_heartbeat_at INTEGER NOT NULL,
  doc               TEXT NOT NULL
);
CREATE INDEX nodes_name ON nodes (name, registered_at);

CREATE TABLE tasks (
  id         TEXT PRIMARY KEY,
  state      TEXT NOT NULL,
  name       TEXT NOT NULL,
  tenant     TEXT NOT NULL,
  node_id    TEXT,
  vgpu_id    TEXT,
  gang_id    TEXT,
  created_at INTEGER NOT NULL,
  priority   INTEGER NOT NULL,
  version    INTEGER NOT NULL,
  doc        TEXT NOT NULL
);
-- Listing is newest first with (created_at, id) as the keyset; every filter index ends in it.
CREATE INDEX tasks_created ON tasks (created_at, id);
CREATE INDEX tasks_state ON tasks (state, created_at, id);
CREATE INDEX tasks_tenant ON tasks (tenant, created_at, id);
CREATE INDEX tasks_node ON tasks (node_id, created_at, id) WHERE node_id IS NOT NULL;
CREATE INDEX tasks_vgpu ON tasks (vgpu_id, created_at, id) WHERE vgpu_id IS NOT NULL;
CREATE INDEX tasks_gang ON tasks (gang_id, created_at, id) WHERE gang_id IS NOT NULL;
-- Loaded at every start: only the live tasks, oldest first. The WHERE must match the query's
-- text in store.ts (LIVE_STATES_SQL) for SQLite to pick this partial index.
CREATE INDEX tasks_live ON tasks (created_at, id)
  WHERE state IN ('PENDING', 'SCHEDULED', 'RUNNING', 'PREEMPTED', 'LOST');

CREATE TABLE attempts (
  task_id TEXT NOT NULL REFERENCES tasks (id),
  attempt INTEGER NOT NULL,
  node_id TEXT NOT NULL,
  doc     TEXT NOT NULL,
  PRIMARY KEY (task_id, attempt)
);

-- `pos` is the global insertion order that log readers page by; AUTOINCREMENT so a position
-- is never reused, even after the newest rows are deleted by a future pruning.
CREATE TABLE log_chunks (
  pos     INTEGER PRIMARY KEY AUTOINCREMENT,
  task_id TEXT NOT NULL REFERENCES tasks (id),
  attempt INTEGER NOT NULL,
  stream  TEXT NOT NULL CHECK (stream IN ('stdout', 'stderr')),
  seq     INTEGER NOT NULL,
  at      INTEGER NOT NULL,
  data    TEXT NOT NULL
);
-- Duplicate shipping (agent retries) is dropped by INSERT OR IGNORE on this key.
CREATE UNIQUE INDEX log_chunks_key ON log_chunks (task_id, attempt, stream, seq);
CREATE INDEX log_chunks_task_pos ON log_chunks (task_id, pos);

CREATE TABLE events (
  seq     INTEGER PRIMARY KEY AUTOINCREMENT,
  at      INTEGER NOT NULL,
  type    TEXT NOT NULL,
  task_id TEXT,
  node_id TEXT,
  vgpu_id TEXT,
  data    TEXT NOT NULL
);

CREATE TABLE reservations (
  id          TEXT PRIMARY KEY,
  tenant      TEXT NOT NULL,
  state       TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  version     INTEGER NOT NULL,
  doc         TEXT NOT NULL
);
CREATE INDEX reservations_state ON reservations (state, created_at);

CREATE TABLE tokens (
  id         TEXT PRIMARY KEY,
  hash       TEXT NOT NULL UNIQUE,
  tenant     TEXT NOT NULL,
  role       TEXT NOT NULL,
  name       TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER
);

CREATE TABLE samples (
  at              INTEGER NOT NULL,
  node_id         TEXT NOT NULL,
  gpu_index       INTEGER NOT NULL,
  util_percent    REAL NOT NULL,
  memory_used_mib INTEGER NOT NULL
);
CREATE INDEX samples_at ON samples (at);
CREATE INDEX samples_node_at ON samples (node_id, at);
