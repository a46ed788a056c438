-- Nodes that providers lent the pool (issue 12): asked for, joined, draining, given back. Node-hours
-- by provider (`fastgpu usage`) and the dashboard's nodes coming and going read them.
CREATE TABLE lent_nodes (
  provider       TEXT NOT NULL,
  provider_id    TEXT NOT NULL,
  node_name      TEXT NOT NULL,
  shape          TEXT NOT NULL,
  hourly_micros  INTEGER,
  requested_at   INTEGER NOT NULL,
  joined_at      INTEGER,
  draining_at    INTEGER,
  released_at    INTEGER,
  release_reason TEXT,
  PRIMARY KEY (provider, provider_id)
);
CREATE INDEX lent_nodes_requested ON lent_nodes (requested_at);
