-- Datasets (issue 16), as the SQLite migration: versions with their manifests, the chunks each
-- version names, the last version number given per name, and per-tenant byte quotas.
CREATE TABLE datasets (
  tenant      TEXT COLLATE "C" NOT NULL,
  name        TEXT COLLATE "C" NOT NULL,
  version     INTEGER NOT NULL,
  bytes       BIGINT NOT NULL,
  file_count  INTEGER NOT NULL,
  chunk_count INTEGER NOT NULL,
  created_at  BIGINT NOT NULL,
  manifest    TEXT NOT NULL,
  PRIMARY KEY (tenant, name, version)
);
CREATE TABLE dataset_chunks (
  tenant  TEXT COLLATE "C" NOT NULL,
  name    TEXT COLLATE "C" NOT NULL,
  version INTEGER NOT NULL,
  hash    TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (tenant, name, version, hash)
);
CREATE INDEX dataset_chunks_by_hash ON dataset_chunks (tenant, hash);
CREATE TABLE dataset_names (
  tenant       TEXT COLLATE "C" NOT NULL,
  name         TEXT COLLATE "C" NOT NULL,
  last_version INTEGER NOT NULL,
  PRIMARY KEY (tenant, name)
);
CREATE TABLE dataset_quotas (
  tenant    TEXT COLLATE "C" PRIMARY KEY,
  max_bytes BIGINT NOT NULL
);
