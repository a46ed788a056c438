-- Nodes that providers lent the pool (issue 12): asked for, joined, draining, given back. Node-hours
-- by provider (`fastgpu usage`) and the dashboard's nodes coming and going read them.
CREATE TABLE lent_nodes (
  provider       TEXT COLLATE "C" NOT NULL,
  provider_id    TEXT COLLATE "C" NOT NULL,
  node_name      TEXT NOT NULL,
  shape          TEXT NOT NULL,
  hourly_micros  BIGINT,
  requested_at   BIGINT NOT NULL,
  joined_at      BIGINT,
  draining_at    BIGINT,
  released_at    BIGINT,
  release_reason TEXT,
  PRIMARY KEY (provider, provider_id)
);
CREATE INDEX lent_nodes_requested ON lent_nodes (requested_at);
