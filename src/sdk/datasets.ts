// Datasets in the TS SDK (issue 16): push a folder as a new version, list, show, remove, quotas.
// A push reads every file once in CHUNK_BYTES chunks, hashing them, asks the server which chunks of
// each batch it lacks, uploads those in parallel from memory (gzip where it pays,
// util/chunk-codec.ts) while the next batch is read, and commits the manifest. Pushing the
// same folder again after a cut (network, Ctrl-C, a crash) uploads only what is still missing.
import { checkDatasetName, parseDatasetRef, type Dataset, type DatasetSummary } from '../core/data/dataset.js';
import { ENCODING_HEADER, verifyChunk } from '../util/chunk-codec.js';
import { uploadTree } from './datasets-push.js';
import { ServerList, splitServerUrls } from '../util/server-list.js';
import { rawRequest, type RawInit, type RawResponse } from '../util/raw-http.js';
import type { FetchFn } from '../util/tls.js';
import { pullInto, type PullOptions, type PullResult } from './datasets-pull.js';
import { errorFromResponse, FastGpuApiError } from './errors.js';
import type { Requester } from './requester.js';

export type { Dataset, DatasetSummary } from '../core/data/dataset.js';
export type { PullOptions, PullResult } from './datasets-pull.js';

export interface PushProgress {
  /** `hash` and `upload` interleave (a batch uploads while the next is read), then `commit`. */
  phase: 'hash' | 'upload' | 'commit';
  /**
   * Bytes done of this phase: hash, bytes read of the folder's total; upload, raw bytes uploaded
   * of those found missing so far (that total grows as batches are read).
   */
  done: number;
  total: number;
}

export interface PushOptions {
  tenant?: string;
  /** Uploads at once (default 8). */
  concurrency?: number;
  onProgress?: (p: PushProgress) => void;
  signal?: AbortSignal;
}

export interface PushResult extends DatasetSummary {
  /** Chunks and raw bytes this push uploaded (the rest the server had). */
  uploadedChunks: number;
  uploadedBytes: number;
  /** Bytes on the wire for them (after compression). */
  sentBytes: number;
}

export interface QuotaView {
  tenant: string;
  usedBytes: number;
  maxBytes: number | null;
}

export class DatasetsApi {
  constructor(
    private readonly client: Requester,
    private readonly conn: { url: string; token: string | undefined; fetch?: FetchFn; servers?: ServerList },
  ) {
    // The client's own list when it hands it over: a server that failed a JSON call is not the
    // first tried for the next chunk, and the other way round.
    this.servers = conn.servers ?? new ServerList(splitServerUrls(conn.url));
  }

  /** Where raw chunk calls go: every server of a comma-separated list, with the client's failover. */
  private readonly servers: ServerList;

  /**
   * Pushes `dir` as the next version of `name`.
   * @example const v = await fg.datasets.push('./data', 'imagenet-mini'); // v.version, v.uploadedBytes
   */
  async push(dir: string, name: string, opts: PushOptions = {}): Promise<PushResult> {
    checkDatasetName(name);
    const tenant = opts.tenant !== undefined ? { tenant: opts.tenant } : {};
    const up = await uploadTree(
      dir,
      {
        missing: async (hashes) => (await this.client.request<{ missing: string[] }>('POST', '/v1/missing-chunks', { body: { ...tenant, hashes } })).missing,
        send: (hash, data, encoding) => this.sendChunk(chunkPath(hash, opts.tenant), data, encoding, opts.signal),
      },
      opts,
    );
    opts.onProgress?.({ phase: 'commit', done: 0, total: 1 });
    const d = await this.client.request<DatasetSummary>('POST', '/v1/datasets', { body: { ...tenant, name, manifest: up.manifest } });
    return { ...d, uploadedChunks: up.uploadedChunks, uploadedBytes: up.uploadedBytes, sentBytes: up.sentBytes };
  }

  /**
   * Writes `NAME` (the newest) or `NAME@VERSION` into `dir`, which must be absent or empty; every
   * chunk checked against its hash, the folder renamed into place only once whole.
   * @example await fg.datasets.pull('checkpoints@3', './ckpt') // {files, bytes, dir, …}
   */
  async pull(ref: string, dir: string, opts: PullOptions = {}): Promise<PullResult> {
    const tenant = opts.tenant !== undefined ? { tenant: opts.tenant } : {};
    return pullInto(await this.get(ref, tenant), dir, (hash) => this.readChunk(hash, tenant), opts);
  }

  /** Every version of the tenant's datasets (admins: all, or `tenant`'s). */
  async list(opts: { tenant?: string } = {}): Promise<DatasetSummary[]> {
    return (await this.client.request<{ datasets: DatasetSummary[] }>('GET', '/v1/datasets', { query: { tenant: opts.tenant } })).datasets;
  }

  /** One version with its manifest: `NAME` (newest) or `NAME@VERSION`. */
  async get(ref: string, opts: { tenant?: string } = {}): Promise<Dataset> {
    const r = parseRef(ref);
    return this.client.request<Dataset>('GET', `/v1/datasets/${encodeURIComponent(r.name)}`, { query: { tenant: opts.tenant, version: r.version } });
  }

  /** Removes `NAME@VERSION`, or every version of `NAME`. */
  async remove(ref: string, opts: { tenant?: string } = {}): Promise<{ tenant: string; name: string; versions: number[]; freedChunks: number }> {
    const r = parseRef(ref);
    return this.client.request('DELETE', `/v1/datasets/${encodeURIComponent(r.name)}`, { query: { tenant: opts.tenant, version: r.version } });
  }

  async quota(tenant: string): Promise<QuotaView> {
    return this.client.request<QuotaView>('GET', `/v1/tenants/${encodeURIComponent(tenant)}/dataset-quota`);
  }

  /** Admins: set the tenant's dataset byte limit (null: none). */
  async setQuota(tenant: string, maxBytes: number | null): Promise<QuotaView> {
    return this.client.request<QuotaView>('POST', `/v1/tenants/${encodeURIComponent(tenant)}/dataset-quota`, { body: { maxBytes } });
  }

  /** One chunk's raw bytes, checked against its hash. */
  async readChunk(hash: string, opts: { tenant?: string } = {}): Promise<Buffer> {
    const res = await this.fetch(chunkPath(hash, opts.tenant), { method: 'GET', headers: {} });
    const enc = res.header(ENCODING_HEADER) === 'gzip' ? 'gzip' : 'identity';
    return verifyChunk(res.body, enc, hash);
  }

  private async sendChunk(path: string, data: Buffer, encoding: string, signal: AbortSignal | undefined): Promise<void> {
    // A dropped connection is tried again a few times: the server keeps a chunk whole or not at all.
    for (let attempt = 1; ; attempt++) {
      try {
        await this.fetch(path, { method: 'POST', body: data, headers: { 'content-type': 'application/octet-stream', [ENCODING_HEADER]: encoding }, ...(signal ? { signal } : {}) });
        return;
      } catch (e) {
        if (!(e instanceof FastGpuApiError) || e.code !== 'NETWORK' || attempt >= 3 || signal?.aborted) throw e;
        await new Promise((r) => setTimeout(r, 200 * attempt));
      }
    }
  }

  /**
   * One raw chunk call, to the servers in turn while one cannot be reached or answers 503, as the
   * client's JSON calls. A chunk upload is safe to send again anywhere: it is named by its hash
   * and kept whole or not at all.
   */
  private async fetch(path: string, init: RawInit): Promise<RawResponse> {
    const headers = { ...init.headers, ...(this.conn.token !== undefined ? { authorization: `Bearer ${this.conn.token}` } : {}) };
    const res = await this.servers.run(
      async (base) => {
        try {
          return await rawRequest(`${base.replace(/\/+$/, '')}${path}`, { ...init, headers }, this.conn.fetch);
        } catch (e) {
          if (init.signal?.aborted) throw e;
          const cause = (e as { cause?: { code?: string; message?: string } }).cause;
          throw new FastGpuApiError('NETWORK', `cannot reach the FastGPU server at ${base} (${cause?.code ?? cause?.message ?? (e as Error).message})`);
        }
      },
      (o) => (o.ok ? o.value.status === 503 : o.error instanceof FastGpuApiError && o.error.code === 'NETWORK'),
    );
    if (!res.ok) {
      const text = res.body.toString('utf8');
      let body: unknown;
      try {
        body = JSON.parse(text) as unknown;
      } catch {
        body = undefined;
      }
      throw errorFromResponse(res.status, body, text);
    }
    return res;
  }
}

/** `/v1/chunks/HASH[?tenant=…]`. */
function chunkPath(hash: string, tenant: string | undefined): string {
  return `/v1/chunks/${hash}${tenant !== undefined ? `?tenant=${encodeURIComponent(tenant)}` : ''}`;
}

function parseRef(ref: string): { name: string; version?: number } {
  try {
    return parseDatasetRef(ref);
  } catch (e) {
    throw new FastGpuApiError('INVALID_ARGUMENT', (e as Error).message);
  }
}
