-- FastGPU on PostgreSQL, version 1: the same tables as the SQLite schema at its version 6
-- (less the samples, in 002), so one conformance suite and one copy (`fastgpu admin migrate`)
-- serve both. As there, real columns hold what is filtered, sorted or updated on its own, and
-- `doc` the rest of the record as JSON text (TEXT, not jsonb: jsonb refuses \u0000 and would
-- reorder keys for nothing). Times are epoch ms in BIGINT; money is BIGINT micro-units.
-- Every sortable text column is COLLATE "C": byte order, as SQLite compares, whatever locale
-- the database was created with.

CREATE TABLE meta (
  key   TEXT COLLATE "C" PRIMARY KEY,
  value TEXT NOT NULL
);

-- events.seq and log_chunks.pos are handed out from here, not from a SEQUENCE: taking a
-- number locks the counter's row until the transaction ends, so numbers become visible in the
-- order they were taken. A reader tailing `seq > N` (SSE, log follow, on any server) can never
-- see N + 1 before a late-committing N, which a plain sequence allows with several writers.
CREATE TABLE counters (
  name  TEXT COLLATE "C" PRIMARY KEY,
  value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('events', 0), ('log_chunks', 0);

CREATE TABLE nodes (
  id                TEXT COLLATE "C" PRIMARY KEY,
  name              TEXT COLLATE "C" NOT NULL,
  state             TEXT NOT NULL,
  registered_at     BIGINT NOT NULL,
  last_heartbeat_at BIGINT NOT NULL,
  doc               TEXT NOT NULL
);
CREATE INDEX nodes_name ON nodes (name, registered_at);

CREATE TABLE tasks (
  id             TEXT COLLATE "C" PRIMARY KEY,
  state          TEXT COLLATE "C" NOT NULL,
  name           TEXT COLLATE "C" NOT NULL,
  tenant         TEXT COLLATE "C" NOT NULL,
  node_id        TEXT COLLATE "C",
  vgpu_id        TEXT COLLATE "C",
  gang_id        TEXT COLLATE "C",
  created_at     BIGINT NOT NULL,
  priority       INTEGER NOT NULL,
  version        INTEGER NOT NULL,
  doc            TEXT NOT NULL,
  -- Copied out of the doc (SQLite indexes json_extract(doc, '$.finishedAt') instead).
  finished_at    BIGINT,
  logs_pruned_at BIGINT
);
CREATE INDEX tasks_created ON tasks (created_at, id);
CREATE INDEX tasks_state ON tasks (state, created_at, id);
CREATE INDEX tasks_tenant ON tasks (tenant, created_at, id);
CREATE INDEX tasks_node ON tasks (node_id, created_at, id) WHERE node_id IS NOT NULL;
CREATE INDEX tasks_vgpu ON tasks (vgpu_id, created_at, id) WHERE vgpu_id IS NOT NULL;
CREATE INDEX tasks_gang ON tasks (gang_id, created_at, id) WHERE gang_id IS NOT NULL;
-- Loaded at every start (and by a new leader): only the live tasks, oldest first.
CREATE INDEX tasks_live ON tasks (created_at, id)
  WHERE state IN ('PENDING', 'SCHEDULED', 'RUNNING', 'PREEMPTED', 'LOST');
CREATE INDEX tasks_logs_due ON tasks (finished_at)
  WHERE logs_pruned_at IS NULL AND state IN ('SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMEOUT');

CREATE TABLE attempts (
  task_id TEXT COLLATE "C" NOT NULL REFERENCES tasks (id),
  attempt INTEGER NOT NULL,
  node_id TEXT COLLATE "C" NOT NULL,
  doc     TEXT NOT NULL,
  PRIMARY KEY (task_id, attempt)
);

-- `pos` is the global order log readers page by (from counters, never reused). `data` is the
-- UTF-8 bytes: a process may print NUL, which PostgreSQL's TEXT cannot hold.
CREATE TABLE log_chunks (
  pos     BIGINT PRIMARY KEY,
  task_id TEXT COLLATE "C" NOT NULL REFERENCES tasks (id),
  attempt INTEGER NOT NULL,
  stream  TEXT NOT NULL CHECK (stream IN ('stdout', 'stderr')),
  seq     BIGINT NOT NULL,
  at      BIGINT NOT NULL,
  data    BYTEA NOT NULL
);
CREATE UNIQUE INDEX log_chunks_key ON log_chunks (task_id, attempt, stream, seq);
CREATE INDEX log_chunks_task_pos ON log_chunks (task_id, pos);

CREATE TABLE events (
  seq     BIGINT PRIMARY KEY,
  at      BIGINT NOT NULL,
  type    TEXT NOT NULL,
  task_id TEXT COLLATE "C",
  node_id TEXT COLLATE "C",
  vgpu_id TEXT COLLATE "C",
  data    TEXT NOT NULL
);
CREATE INDEX events_task ON events (task_id, seq) WHERE task_id IS NOT NULL;

CREATE TABLE reservations (
  id          TEXT COLLATE "C" PRIMARY KEY,
  tenant      TEXT COLLATE "C" NOT NULL,
  state       TEXT NOT NULL,
  created_at  BIGINT NOT NULL,
  version     INTEGER NOT NULL,
  doc         TEXT NOT NULL
);
CREATE INDEX reservations_state ON reservations (state, created_at);

CREATE TABLE tokens (
  id         TEXT COLLATE "C" PRIMARY KEY,
  hash       TEXT NOT NULL UNIQUE,
  tenant     TEXT COLLATE "C" NOT NULL,
  role       TEXT NOT NULL,
  name       TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  revoked_at BIGINT
);
CREATE INDEX tokens_tenant ON tokens (tenant) WHERE revoked_at IS NULL;

-- Tenants, the price book, promotions, the ledger and its priced lines (issue 4).
CREATE TABLE tenants (
  name            TEXT COLLATE "C" PRIMARY KEY,
  guarantee_milli BIGINT NOT NULL,
  limit_milli     BIGINT,
  weight          DOUBLE PRECISION NOT NULL,
  budget          BIGINT,
  created_at      BIGINT NOT NULL
);

CREATE TABLE price_book (
  id  INTEGER PRIMARY KEY CHECK (id = 1),
  doc TEXT NOT NULL
);

CREATE TABLE promotions (
  name    TEXT COLLATE "C" PRIMARY KEY,
  from_ms BIGINT NOT NULL,
  to_ms   BIGINT NOT NULL,
  doc     TEXT NOT NULL
);

CREATE TABLE ledger_entries (
  task_id    TEXT COLLATE "C" NOT NULL,
  attempt    INTEGER NOT NULL,
  seq        INTEGER NOT NULL,
  tenant     TEXT COLLATE "C" NOT NULL,
  to_ms      BIGINT,
  settled_to BIGINT NOT NULL,
  doc        TEXT NOT NULL,
  PRIMARY KEY (task_id, attempt, seq)
);
CREATE INDEX ledger_open ON ledger_entries (task_id, attempt, seq) WHERE to_ms IS NULL;
CREATE INDEX ledger_tenant ON ledger_entries (tenant, task_id, attempt, seq);

CREATE TABLE priced_lines (
  id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant          TEXT COLLATE "C" NOT NULL,
  task_id         TEXT COLLATE "C" NOT NULL,
  attempt         INTEGER NOT NULL,
  gpu_model       TEXT NOT NULL,
  gpu_milli       BIGINT NOT NULL,
  gpu_count       BIGINT NOT NULL,
  anchor          BIGINT NOT NULL,
  unit_price      BIGINT NOT NULL,
  from_ms         BIGINT NOT NULL,
  to_ms           BIGINT NOT NULL,
  list_amount     BIGINT NOT NULL,
  discount_amount BIGINT NOT NULL,
  charged_amount  BIGINT NOT NULL,
  promotion       TEXT COLLATE "C"
);
CREATE UNIQUE INDEX priced_lines_attempt ON priced_lines (task_id, attempt, from_ms);
CREATE INDEX priced_lines_to ON priced_lines (to_ms);
CREATE INDEX priced_lines_tenant ON priced_lines (tenant, to_ms);

CREATE TABLE tenant_spend (
  tenant  TEXT COLLATE "C" PRIMARY KEY,
  charged BIGINT NOT NULL
);

CREATE TABLE promo_spent (
  name  TEXT COLLATE "C" PRIMARY KEY,
  spent BIGINT NOT NULL
);
