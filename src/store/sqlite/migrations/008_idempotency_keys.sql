-- Idempotency keys of submits (issue 9): a retried submit answers the tasks the first one made,
-- also after a server restart. Written in the transaction that inserts those tasks; expired
-- rows are replaced on reuse and pruned in the background.
CREATE TABLE idempotency_keys (
  scope        TEXT NOT NULL,
  key          TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  task_ids     TEXT NOT NULL, -- JSON array
  created_at   INTEGER NOT NULL,
  expires_at   INTEGER NOT NULL,
  PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
