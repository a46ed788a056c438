-- FastGPU schema, version 2: tenants, the price book, promotions, the metering ledger and its
-- priced lines (issue 4). Money is integer micro-units: INTEGER columns (64-bit in SQLite, read
-- back as bigint), or decimal strings inside JSON docs. Times are epoch milliseconds.

CREATE TABLE tenants (
  name            TEXT PRIMARY KEY,
  guarantee_milli INTEGER NOT NULL,
  limit_milli     INTEGER,
  weight          REAL NOT NULL,
  budget          INTEGER,
  created_at      INTEGER NOT NULL
);

-- One row: the pool's price book, in the core's JSON input form (priceBookToInput).
CREATE TABLE price_book (
  id  INTEGER PRIMARY KEY CHECK (id = 1),
  doc TEXT NOT NULL
);

-- The core's JSON input form (promotionToInput) in `doc`; the window is copied out for sorting.
CREATE TABLE promotions (
  name    TEXT PRIMARY KEY,
  from_ms INTEGER NOT NULL,
  to_ms   INTEGER NOT NULL,
  doc     TEXT NOT NULL
);

-- One row per ledger entry (an attempt, or a piece of one after a split). `settled_to` is the
-- entry's version for conditional writes. No foreign key to tasks: accounting outlives pruning.
CREATE TABLE ledger_entries (
  task_id    TEXT NOT NULL,
  attempt    INTEGER NOT NULL,
  seq        INTEGER NOT NULL,
  tenant     TEXT NOT NULL,
  to_ms      INTEGER,
  settled_to INTEGER NOT NULL,
  doc        TEXT NOT NULL,
  PRIMARY KEY (task_id, attempt, seq)
);
-- Settled every few seconds by the control loop: only the running entries.
CREATE INDEX ledger_open ON ledger_entries (task_id, attempt, seq) WHERE to_ms IS NULL;
CREATE INDEX ledger_tenant ON ledger_entries (tenant, task_id, attempt, seq);

-- Charged usage, one row per priced line. No two lines of an attempt overlap in time (checked
-- on insert); the unique key also makes an exact replay fail.
CREATE TABLE priced_lines (
  id              INTEGER PRIMARY KEY,
  tenant          TEXT NOT NULL,
  task_id         TEXT NOT NULL,
  attempt         INTEGER NOT NULL,
  gpu_model       TEXT NOT NULL,
  gpu_milli       INTEGER NOT NULL,
  gpu_count       INTEGER NOT NULL,
  anchor          INTEGER NOT NULL,
  unit_price      INTEGER NOT NULL,
  from_ms         INTEGER NOT NULL,
  to_ms           INTEGER NOT NULL,
  list_amount     INTEGER NOT NULL,
  discount_amount INTEGER NOT NULL,
  charged_amount  INTEGER NOT NULL,
  promotion       TEXT
);
CREATE UNIQUE INDEX priced_lines_attempt ON priced_lines (task_id, attempt, from_ms);
-- Reports ask for lines overlapping a period: to_ms > from AND from_ms < to.
CREATE INDEX priced_lines_to ON priced_lines (to_ms);
CREATE INDEX priced_lines_tenant ON priced_lines (tenant, to_ms);

-- Running totals kept by the settlement transaction from the lines it inserts, so budget checks
-- read one row instead of summing every line ever charged.
CREATE TABLE tenant_spend (
  tenant  TEXT PRIMARY KEY,
  charged INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE promo_spent (
  name  TEXT PRIMARY KEY,
  spent INTEGER NOT NULL
) WITHOUT ROWID;
