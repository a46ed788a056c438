// Datasets in the TS SDK (issue 16): push a folder as a new version, list, show, remove, quotas.
// A push hashes every file in CHUNK_BYTES chunks, asks the server which chunks it lacks, uploads
// those in parallel (gzip where it pays, util/chunk-codec.ts) and commits the manifest. Pushing the
// same folder again after a cut (network, Ctrl-C, a crash) uploads only what is still missing.
import { createReadStream } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { CHUNK_BYTES, checkDatasetName, parseDatasetRef, type Dataset, type DatasetManifest, type DatasetSummary, type ManifestFile } from '../core/data/dataset.js';
import { ENCODING_HEADER, encodeChunk, sha256, verifyChunk } from '../util/chunk-codec.js';
import { inParallel } from '../util/parallel.js';
import { errorFromResponse, FastGpuApiError } from './errors.js';
import type { Requester } from './requester.js';

export type { Dataset, DatasetSummary } from '../core/data/dataset.js';

export interface PushProgress {
  phase: 'hash' | 'upload' | 'commit';
  /** Bytes done of this phase (upload: raw bytes of the chunks uploaded). */
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

/** Where one chunk's bytes are, to read them again for the upload. */
interface ChunkSource {
  file: string;
  offset: number;
  size: number;
}

/** Regular files under `dir`, `/`-separated relative paths, sorted. Symlinked folders and special files are refused. */
async function walk(dir: string): Promise<{ abs: string; rel: string; size: number; executable: boolean }[]> {
  const out: { abs: string; rel: string; size: number; executable: boolean }[] = [];
  const visit = async (d: string): Promise<void> => {
    const entries = await readdir(d, { withFileTypes: true });
    for (const e of entries) {
      const abs = join(d, e.name);
      const rel = relative(dir, abs).split(sep).join('/');
      if (e.isDirectory()) await visit(abs);
      else {
        // stat follows a symlink to a file; a link to a folder or a special file is refused.
        const st = await stat(abs);
        if (!st.isFile()) throw new FastGpuApiError('INVALID_ARGUMENT', `${rel}: only regular files and folders can be pushed (this is ${e.isSymbolicLink() ? 'a link to a folder' : 'a special file'})`);
        out.push({ abs, rel, size: st.size, executable: (st.mode & 0o100) !== 0 });
      }
    }
  };
  const st = await stat(dir).catch(() => null); // missing: the error below names it
  if (!st?.isDirectory()) throw new FastGpuApiError('INVALID_ARGUMENT', `${dir}: not a folder`);
  await visit(dir);
  return out.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
}

/** Hashes a file chunk by chunk, reading it once as a stream. */
async function hashFile(abs: string, size: number, signal?: AbortSignal): Promise<{ hash: string; size: number }[]> {
  if (size === 0) return [];
  const chunks: { hash: string; size: number }[] = [];
  const stream = createReadStream(abs, { highWaterMark: CHUNK_BYTES, ...(signal ? { signal } : {}) });
  let pending: Buffer[] = [];
  let have = 0;
  for await (const piece of stream as AsyncIterable<Buffer>) {
    let p = piece;
    while (p.length > 0) {
      const take = Math.min(CHUNK_BYTES - have, p.length);
      pending.push(p.subarray(0, take));
      have += take;
      p = p.subarray(take);
      if (have === CHUNK_BYTES) {
        chunks.push({ hash: sha256(Buffer.concat(pending)), size: have });
        pending = [];
        have = 0;
      }
    }
  }
  if (have > 0) chunks.push({ hash: sha256(Buffer.concat(pending)), size: have });
  const total = chunks.reduce((a, c) => a + c.size, 0);
  if (total !== size) throw new FastGpuApiError('CONFLICT', `${abs} changed while it was read (${size} bytes, then ${total}); push again`);
  return chunks;
}

async function readRange(src: ChunkSource): Promise<Buffer> {
  const fh = await open(src.file, 'r');
  try {
    const buf = Buffer.allocUnsafe(src.size);
    const { bytesRead } = await fh.read(buf, 0, src.size, src.offset);
    if (bytesRead !== src.size) throw new FastGpuApiError('CONFLICT', `${src.file} changed while it was pushed; push again`);
    return buf;
  } finally {
    await fh.close();
  }
}

export class DatasetsApi {
  constructor(
    private readonly client: Requester,
    private readonly conn: { url: string; token: string | undefined },
  ) {}

  /**
   * Pushes `dir` as the next version of `name`.
   * @example const v = await fg.datasets.push('./data', 'imagenet-mini'); // v.version, v.uploadedBytes
   */
  async push(dir: string, name: string, opts: PushOptions = {}): Promise<PushResult> {
    checkDatasetName(name);
    const files = await walk(dir);
    const total = files.reduce((a, f) => a + f.size, 0);
    const sources = new Map<string, ChunkSource>();
    const manifestFiles: ManifestFile[] = [];
    let hashed = 0;
    for (const f of files) {
      const chunks = await hashFile(f.abs, f.size, opts.signal);
      let offset = 0;
      for (const c of chunks) {
        if (!sources.has(c.hash)) sources.set(c.hash, { file: f.abs, offset, size: c.size });
        offset += c.size;
      }
      manifestFiles.push({ path: f.rel, size: f.size, executable: f.executable, chunks });
      hashed += f.size;
      opts.onProgress?.({ phase: 'hash', done: hashed, total });
    }
    const tenant = opts.tenant !== undefined ? { tenant: opts.tenant } : {};
    const hashes = [...sources.keys()];
    const missing: string[] = [];
    for (let i = 0; i < hashes.length; i += 50_000) {
      missing.push(...(await this.client.request<{ missing: string[] }>('POST', '/v1/missing-chunks', { body: { ...tenant, hashes: hashes.slice(i, i + 50_000) } })).missing);
    }
    const upTotal = missing.reduce((a, h) => a + sources.get(h)!.size, 0);
    let uploadedBytes = 0;
    let sentBytes = 0;
    opts.onProgress?.({ phase: 'upload', done: 0, total: upTotal });
    await inParallel(missing, opts.concurrency ?? 8, async (h) => {
      const src = sources.get(h)!;
      const raw = await readRange(src);
      if (sha256(raw) !== h) throw new FastGpuApiError('CONFLICT', `${src.file} changed while it was pushed; push again`);
      const { data, encoding } = await encodeChunk(raw);
      await this.sendChunk(h, data, encoding, opts);
      uploadedBytes += raw.length;
      sentBytes += data.length;
      opts.onProgress?.({ phase: 'upload', done: uploadedBytes, total: upTotal });
    });
    opts.onProgress?.({ phase: 'commit', done: 0, total: 1 });
    const manifest: DatasetManifest = { files: manifestFiles };
    const d = await this.client.request<DatasetSummary>('POST', '/v1/datasets', { body: { ...tenant, name, manifest } });
    return { ...d, uploadedChunks: missing.length, uploadedBytes, sentBytes };
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
    const url = new URL(`${this.conn.url}/v1/chunks/${hash}`);
    if (opts.tenant !== undefined) url.searchParams.set('tenant', opts.tenant);
    const res = await this.fetch(url, { method: 'GET' });
    const enc = res.headers.get(ENCODING_HEADER) === 'gzip' ? 'gzip' : 'identity';
    return verifyChunk(Buffer.from(await res.arrayBuffer()), enc, hash);
  }

  private async sendChunk(hash: string, data: Buffer, encoding: string, opts: PushOptions): Promise<void> {
    const url = new URL(`${this.conn.url}/v1/chunks/${hash}`);
    if (opts.tenant !== undefined) url.searchParams.set('tenant', opts.tenant);
    // A dropped connection is tried again a few times: the server keeps a chunk whole or not at all.
    for (let attempt = 1; ; attempt++) {
      try {
        await this.fetch(url, { method: 'POST', body: data, headers: { 'content-type': 'application/octet-stream', [ENCODING_HEADER]: encoding }, ...(opts.signal ? { signal: opts.signal } : {}) });
        return;
      } catch (e) {
        if (!(e instanceof FastGpuApiError) || e.code !== 'NETWORK' || attempt >= 3 || opts.signal?.aborted) throw e;
        await new Promise((r) => setTimeout(r, 200 * attempt));
      }
    }
  }

  private async fetch(url: URL, init: RequestInit): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.conn.token !== undefined) headers.set('authorization', `Bearer ${this.conn.token}`);
    let res: Response;
    try {
      res = await fetch(url, { ...init, headers });
    } catch (e) {
      if (init.signal?.aborted) throw e;
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new FastGpuApiError('NETWORK', `cannot reach the FastGPU server at ${this.conn.url} (${cause?.code ?? cause?.message ?? (e as Error).message})`);
    }
    if (!res.ok) {
      const text = await res.text();
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

function parseRef(ref: string): { name: string; version?: number } {
  try {
    return parseDatasetRef(ref);
  } catch (e) {
    throw new FastGpuApiError('INVALID_ARGUMENT', (e as Error).message);
  }
}
