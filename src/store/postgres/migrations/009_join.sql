-- Joining machines (issue 11): join tokens an agent trades once for a node credential, and
-- those credentials. Only sha256 hashes of the secrets are kept.
CREATE TABLE join_tokens (
  id         TEXT COLLATE "C" PRIMARY KEY,
  hash       TEXT NOT NULL UNIQUE,
  labels     JSONB NOT NULL,
  max_uses   INTEGER NOT NULL,
  uses       INTEGER NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  revoked_at BIGINT
);

CREATE TABLE node_credentials (
  id            TEXT COLLATE "C" PRIMARY KEY,
  hash          TEXT NOT NULL UNIQUE,
  node          TEXT COLLATE "C" NOT NULL,
  join_token_id TEXT,
  created_at    BIGINT NOT NULL,
  expires_at    BIGINT NOT NULL,
  revoked_at    BIGINT
);
CREATE INDEX node_credentials_node ON node_credentials (node) WHERE revoked_at IS NULL;
