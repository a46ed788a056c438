// Datasets on Postgres, as ../sqlite/datasets.ts. A push and a removal take a transaction
// advisory lock per tenant: the quota check reads the tenant's total, which another push of the
// same tenant may be changing, and SQLite's single writer gave that order for free.
import type pg from 'pg';
import { quotaError, type Dataset, type DatasetSummary } from '../../core/data/dataset.js';
import { DATASET_SUMMARY_COLUMNS, rowToDataset, rowToSummary, type DatasetRow } from '../datasets-rows.js';
import type { DatasetInsert, DatasetStore } from '../datasets-port.js';
import { inTx } from './db.js';
import { LOCK_CLASS } from './migrate.js';

type Row = DatasetRow;
const summary = rowToSummary;
const full = rowToDataset;
const SUMMARY = DATASET_SUMMARY_COLUMNS;

async function lockTenant(c: pg.ClientBase, tenant: string): Promise<void> {
  await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_CLASS, `datasets:${tenant}`]);
}

async function tenantBytes(c: pg.ClientBase | pg.Pool, tenant: string): Promise<number> {
  return (await c.query<{ b: number }>('SELECT COALESCE(SUM(bytes), 0)::bigint AS b FROM datasets WHERE tenant = $1', [tenant])).rows[0]?.b ?? 0;
}

export class PgDatasets implements DatasetStore {
  constructor(private readonly pool: pg.Pool) {}

  async insertDataset(d: DatasetInsert): Promise<Dataset> {
    return inTx(this.pool, async (c) => {
      await lockTenant(c, d.tenant);
      const used = await tenantBytes(c, d.tenant);
      const err = quotaError(d.tenant, used, d.bytes, await this.quotaOn(c, d.tenant));
      if (err) throw err;
      const version = (
        await c.query<{ last_version: number }>(
          `INSERT INTO dataset_names (tenant, name, last_version) VALUES ($1, $2, 1)
            ON CONFLICT (tenant, name) DO UPDATE SET last_version = dataset_names.last_version + 1 RETURNING last_version`,
          [d.tenant, d.name],
        )
      ).rows[0]!.last_version;
      const manifest = JSON.stringify(d.manifest);
      await c.query(`INSERT INTO datasets (${SUMMARY}, manifest) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, [d.tenant, d.name, version, d.bytes, d.fileCount, d.chunks.length, d.createdAt, d.taskId ?? null, manifest]);
      if (d.chunks.length > 0) {
        await c.query('INSERT INTO dataset_chunks (tenant, name, version, hash) SELECT $1, $2, $3, h FROM unnest($4::text[]) AS h', [d.tenant, d.name, version, d.chunks]);
      }
      return { tenant: d.tenant, name: d.name, version, bytes: d.bytes, fileCount: d.fileCount, chunkCount: d.chunks.length, createdAt: d.createdAt, ...(d.taskId !== undefined ? { taskId: d.taskId } : {}), manifest: d.manifest };
    });
  }

  async getDataset(tenant: string, name: string, version?: number): Promise<Dataset | null> {
    const r =
      version === undefined
        ? await this.pool.query<Row & { manifest: string }>('SELECT * FROM datasets WHERE tenant = $1 AND name = $2 ORDER BY version DESC LIMIT 1', [tenant, name])
        : await this.pool.query<Row & { manifest: string }>('SELECT * FROM datasets WHERE tenant = $1 AND name = $2 AND version = $3', [tenant, name, version]);
    return r.rows[0] ? full(r.rows[0]) : null;
  }

  async listDatasets(tenant?: string): Promise<DatasetSummary[]> {
    const r =
      tenant === undefined
        ? await this.pool.query<Row>(`SELECT ${SUMMARY} FROM datasets ORDER BY tenant, name, version`)
        : await this.pool.query<Row>(`SELECT ${SUMMARY} FROM datasets WHERE tenant = $1 ORDER BY name, version`, [tenant]);
    return r.rows.map(summary);
  }

  async deleteDataset(tenant: string, name: string, version?: number): Promise<{ versions: number[]; orphanChunks: string[] } | null> {
    return inTx(this.pool, async (c) => {
      await lockTenant(c, tenant);
      const gone = await c.query<{ version: number }>(
        `DELETE FROM datasets WHERE tenant = $1 AND name = $2 AND ($3::int IS NULL OR version = $3) RETURNING version`,
        [tenant, name, version ?? null],
      );
      if (gone.rows.length === 0) return null;
      const versions = gone.rows.map((r) => r.version).sort((a, b) => a - b);
      const hashes = await c.query<{ hash: string }>('DELETE FROM dataset_chunks WHERE tenant = $1 AND name = $2 AND version = ANY($3::int[]) RETURNING hash', [tenant, name, versions]);
      const candidates = [...new Set(hashes.rows.map((r) => r.hash))];
      const still = await c.query<{ hash: string }>('SELECT DISTINCT hash FROM dataset_chunks WHERE tenant = $1 AND hash = ANY($2::text[])', [tenant, candidates]);
      const kept = new Set(still.rows.map((r) => r.hash));
      return { versions, orphanChunks: candidates.filter((h) => !kept.has(h)).sort() };
    });
  }

  async chunkReferenced(tenant: string, hash: string): Promise<boolean> {
    return (await this.pool.query('SELECT 1 FROM dataset_chunks WHERE tenant = $1 AND hash = $2 LIMIT 1', [tenant, hash])).rows.length > 0;
  }

  async datasetBytes(tenant: string): Promise<number> {
    return tenantBytes(this.pool, tenant);
  }

  async getDatasetQuota(tenant: string): Promise<number | null> {
    return this.quotaOn(this.pool, tenant);
  }

  async setDatasetQuota(tenant: string, maxBytes: number | null): Promise<void> {
    if (maxBytes === null) await this.pool.query('DELETE FROM dataset_quotas WHERE tenant = $1', [tenant]);
    else await this.pool.query('INSERT INTO dataset_quotas (tenant, max_bytes) VALUES ($1, $2) ON CONFLICT (tenant) DO UPDATE SET max_bytes = excluded.max_bytes', [tenant, maxBytes]);
  }

  private async quotaOn(c: pg.ClientBase | pg.Pool, tenant: string): Promise<number | null> {
    return (await c.query<{ max_bytes: number }>('SELECT max_bytes FROM dataset_quotas WHERE tenant = $1', [tenant])).rows[0]?.max_bytes ?? null;
  }
}
