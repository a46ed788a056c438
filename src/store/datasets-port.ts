// The datasets part of the store port (issue 16): versions and their manifests, the chunks each
// version names (so removing one knows which chunks nothing else needs), and per-tenant byte
// quotas. Chunk bytes are not here: they live in the server's blob store.
import type { Dataset, DatasetSummary } from '../core/data/dataset.js';

export interface DatasetInsert {
  tenant: string;
  name: string;
  bytes: number;
  fileCount: number;
  createdAt: number;
  manifest: Dataset['manifest'];
  /** The distinct chunk hashes of the manifest. */
  chunks: readonly string[];
  /** The task whose outputs this version is (server/datasets-outputs.ts); absent for a push. */
  taskId?: string;
}

export interface DatasetStore {
  /**
   * Stores a new version of (tenant, name): the next number (1 for a new name), in one
   * transaction with the quota check, so two pushes never get one number nor pass the quota
   * together. Throws RESOURCE_EXHAUSTED (nothing written) when the tenant's dataset bytes plus
   * this version's would exceed its quota.
   */
  insertDataset(d: DatasetInsert): Promise<Dataset>;
  /** One version, or the newest when `version` is undefined; null when none. */
  getDataset(tenant: string, name: string, version?: number): Promise<Dataset | null>;
  /** Every version (no manifests), by tenant, name, version; one tenant's with `tenant`. */
  listDatasets(tenant?: string): Promise<DatasetSummary[]>;
  /**
   * Deletes one version, or every version of the name when `version` is undefined, in one
   * transaction. Returns the versions deleted and the chunk hashes of the tenant that no
   * remaining version names (the caller may delete their bytes); null when nothing matched.
   */
  deleteDataset(tenant: string, name: string, version?: number): Promise<{ versions: number[]; orphanChunks: string[] } | null>;
  /** Whether any version of the tenant names the chunk. */
  chunkReferenced(tenant: string, hash: string): Promise<boolean>;
  /** Bytes of every version of the tenant's datasets. */
  datasetBytes(tenant: string): Promise<number>;
  /** The tenant's dataset byte limit; null: none set. */
  getDatasetQuota(tenant: string): Promise<number | null>;
  /** Sets (or with null, removes) the tenant's limit. */
  setDatasetQuota(tenant: string, maxBytes: number | null): Promise<void>;
}
