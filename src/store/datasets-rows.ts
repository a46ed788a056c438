// The datasets tables' row shape, shared by both adapters (their columns are the same).
import type { Dataset, DatasetSummary } from '../core/data/dataset.js';

export interface DatasetRow {
  tenant: string;
  name: string;
  version: number;
  bytes: number;
  file_count: number;
  chunk_count: number;
  created_at: number;
  /** The task whose outputs made it; null for a push. */
  task_id: string | null;
  manifest?: string;
}

export const DATASET_SUMMARY_COLUMNS = 'tenant, name, version, bytes, file_count, chunk_count, created_at, task_id';

export function rowToSummary(r: DatasetRow): DatasetSummary {
  return {
    tenant: r.tenant,
    name: r.name,
    version: r.version,
    bytes: r.bytes,
    fileCount: r.file_count,
    chunkCount: r.chunk_count,
    createdAt: r.created_at,
    ...(r.task_id !== null && r.task_id !== undefined ? { taskId: r.task_id } : {}),
  };
}

export function rowToDataset(r: DatasetRow & { manifest: string }): Dataset {
  return { ...rowToSummary(r), manifest: JSON.parse(r.manifest) as Dataset['manifest'] };
}
