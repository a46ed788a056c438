-- Idempotency keys of submits (issue 9): a retried submit answers the tasks the first one made,
-- also after a server restart. Written in the transaction that inserts those tasks; expired
-- rows are replaced on reuse and pruned in the background.
CREATE TABLE idempotency_keys (
  scope        TEXT COLLATE "C" NOT NULL,
  key          TEXT COLLATE "C" NOT NULL,
  request_hash TEXT NOT NULL,
  task_ids     TEXT NOT NULL, -- JSON array
  created_at   BIGINT NOT NULL,
  expires_at   BIGINT NOT NULL,
  PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
