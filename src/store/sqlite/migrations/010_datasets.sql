-- Datasets (issue 16): versions with their manifests, the chunks each version names (so a
-- removal finds the chunks nothing else needs), the last version number given per name (a
-- removed version's number is never given again), and per-tenant byte quotas.
CREATE TABLE datasets (
  tenant      TEXT NOT NULL,
  name        TEXT NOT NULL,
  version     INTEGER NOT NULL,
  bytes       INTEGER NOT NULL,
  file_count  INTEGER NOT NULL,
  chunk_count INTEGER NOT NULL,
  created_at  INTEGER NOT NULL,
  manifest    TEXT NOT NULL,
  PRIMARY KEY (tenant, name, version)
);
CREATE TABLE dataset_chunks (
  tenant  TEXT NOT NULL,
  name    TEXT NOT NULL,
  version INTEGER NOT NULL,
  hash    TEXT NOT NULL,
  PRIMARY KEY (tenant, name, version, hash)
);
CREATE INDEX dataset_chunks_by_hash ON dataset_chunks (tenant, hash);
CREATE TABLE dataset_names (
  tenant       TEXT NOT NULL,
  name         TEXT NOT NULL,
  last_version INTEGER NOT NULL,
  PRIMARY KEY (tenant, name)
);
CREATE TABLE dataset_quotas (
  tenant    TEXT PRIMARY KEY,
  max_bytes INTEGER NOT NULL
);
