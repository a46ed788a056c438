// The SQLite side of datasets (datasets-port.ts). Each write is one IMMEDIATE transaction, so the
// version number and the quota check see every other writer's committed pushes.
import type Database from 'better-sqlite3';
import { quotaError, type Dataset, type DatasetSummary } from '../../core/data/dataset.js';
import { DATASET_SUMMARY_COLUMNS, rowToDataset, rowToSummary, type DatasetRow } from '../datasets-rows.js';
import type { DatasetInsert, DatasetStore } from '../datasets-port.js';

type Row = DatasetRow;
const SUMMARY = DATASET_SUMMARY_COLUMNS;

export class SqliteDatasets implements DatasetStore {
  private readonly q;
  private readonly insertTx: (d: DatasetInsert) => Dataset;
  private readonly deleteTx: (tenant: string, name: string, version?: number) => { versions: number[]; orphanChunks: string[] } | null;

  constructor(db: Database.Database) {
    const p = <R = unknown>(sql: string) => db.prepare<unknown[], R>(sql);
    const q = {
      bytes: p<{ b: number | null }>('SELECT SUM(bytes) AS b FROM datasets WHERE tenant = ?'),
      quota: p<{ max_bytes: number }>('SELECT max_bytes FROM dataset_quotas WHERE tenant = ?'),
      setQuota: p('INSERT INTO dataset_quotas (tenant, max_bytes) VALUES (?, ?) ON CONFLICT (tenant) DO UPDATE SET max_bytes = excluded.max_bytes'),
      dropQuota: p('DELETE FROM dataset_quotas WHERE tenant = ?'),
      bump: p<{ last_version: number }>(`INSERT INTO dataset_names (tenant, name, last_version) VALUES (?, ?, 1)
        ON CONFLICT (tenant, name) DO UPDATE SET last_version = last_version + 1 RETURNING last_version`),
      insert: p(`INSERT INTO datasets (tenant, name, version, bytes, file_count, chunk_count, created_at, task_id, manifest)
        VALUES (@tenant, @name, @version, @bytes, @file_count, @chunk_count, @created_at, @task_id, @manifest)`),
      insertChunk: p('INSERT INTO dataset_chunks (tenant, name, version, hash) VALUES (?, ?, ?, ?)'),
      getOne: p<Row & { manifest: string }>('SELECT * FROM datasets WHERE tenant = ? AND name = ? AND version = ?'),
      getNewest: p<Row & { manifest: string }>('SELECT * FROM datasets WHERE tenant = ? AND name = ? ORDER BY version DESC LIMIT 1'),
      listAll: p<Row>(`SELECT ${SUMMARY} FROM datasets ORDER BY tenant, name, version`),
      listTenant: p<Row>(`SELECT ${SUMMARY} FROM datasets WHERE tenant = ? ORDER BY name, version`),
      versions: p<{ version: number }>('SELECT version FROM datasets WHERE tenant = ? AND name = ? ORDER BY version'),
      chunksOf: p<{ hash: string }>('SELECT hash FROM dataset_chunks WHERE tenant = ? AND name = ? AND version = ?'),
      delete: p('DELETE FROM datasets WHERE tenant = ? AND name = ? AND version = ?'),
      deleteChunks: p('DELETE FROM dataset_chunks WHERE tenant = ? AND name = ? AND version = ?'),
      referenced: p<{ one: number }>('SELECT 1 AS one FROM dataset_chunks WHERE tenant = ? AND hash = ? LIMIT 1'),
    };
    this.q = q;
    this.insertTx = db
      .transaction((d: DatasetInsert): Dataset => {
        const used = q.bytes.get(d.tenant)?.b ?? 0;
        const err = quotaError(d.tenant, used, d.bytes, q.quota.get(d.tenant)?.max_bytes ?? null);
        if (err) throw err;
        const version = q.bump.get(d.tenant, d.name)!.last_version;
        const row = { tenant: d.tenant, name: d.name, version, bytes: d.bytes, file_count: d.fileCount, chunk_count: d.chunks.length, created_at: d.createdAt, task_id: d.taskId ?? null, manifest: JSON.stringify(d.manifest) };
        q.insert.run(row);
        for (const h of d.chunks) q.insertChunk.run(d.tenant, d.name, version, h);
        return rowToDataset(row);
      })
      .immediate.bind(null);
    this.deleteTx = db
      .transaction((tenant: string, name: string, version?: number) => {
        const versions = version === undefined ? q.versions.all(tenant, name).map((r) => r.version) : q.getOne.get(tenant, name, version) ? [version] : [];
        if (versions.length === 0) return null;
        const candidates = new Set<string>();
        for (const v of versions) {
          for (const r of q.chunksOf.all(tenant, name, v)) candidates.add(r.hash);
          q.deleteChunks.run(tenant, name, v);
          q.delete.run(tenant, name, v);
        }
        const orphanChunks = [...candidates].filter((h) => !q.referenced.get(tenant, h)).sort();
        return { versions, orphanChunks };
      })
      .immediate.bind(null);
  }

  async insertDataset(d: DatasetInsert): Promise<Dataset> {
    return this.insertTx(d);
  }

  async getDataset(tenant: string, name: string, version?: number): Promise<Dataset | null> {
    const r = version === undefined ? this.q.getNewest.get(tenant, name) : this.q.getOne.get(tenant, name, version);
    return r ? rowToDataset(r) : null;
  }

  async listDatasets(tenant?: string): Promise<DatasetSummary[]> {
    return (tenant === undefined ? this.q.listAll.all() : this.q.listTenant.all(tenant)).map(rowToSummary);
  }

  async deleteDataset(tenant: string, name: string, version?: number): Promise<{ versions: number[]; orphanChunks: string[] } | null> {
    return this.deleteTx(tenant, name, version);
  }

  async chunkReferenced(tenant: string, hash: string): Promise<boolean> {
    return this.q.referenced.get(tenant, hash) !== undefined;
  }

  async datasetBytes(tenant: string): Promise<number> {
    return this.q.bytes.get(tenant)?.b ?? 0;
  }

  async getDatasetQuota(tenant: string): Promise<number | null> {
    return this.q.quota.get(tenant)?.max_bytes ?? null;
  }

  async setDatasetQuota(tenant: string, maxBytes: number | null): Promise<void> {
    if (maxBytes === null) this.q.dropQuota.run(tenant);
    else this.q.setQuota.run(tenant, maxBytes);
  }
}
