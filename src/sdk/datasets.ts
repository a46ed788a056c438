// Datasets in the TS SDK (issue 16): push a folder as a new version, list, show, remove, quotas.
// A push reads every file once in CHUNK_BYTES chunks, hashing them, asks the server which chunks of
// each batch it lacks, uploads those in parallel from memory (gzip where it pays,
// util/chunk-codec.ts) while the next batch is read, and commits the manifest. Pushing the
// same folder again after a cut (network, Ctrl-C, a crash) uploads only what is still missing.
import { open, readdir, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { CHUNK_BYTES, checkDatasetName, parseDatasetRef, type Dataset, type DatasetManifest, type DatasetSummary, type ManifestFile } from '../core/data/dataset.js';
import { ENCODING_HEADER, encodeChunk, sha256, verifyChunk } from '../util/chunk-codec.js';
import { inParallel } from '../util/parallel.js';
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

/** One chunk read from a file: its bytes stay in memory until the upload decision is made. */
interface ReadChunk {
  hash: string;
  data: Buffer;
}

/**
 * Reads a file once, chunk by chunk (positional reads of CHUNK_BYTES), hashing each chunk as it
 * arrives and handing it to `onChunk`, which may hold it (to upload it) before the next is read.
 */
async function readChunks(abs: string, size: number, onChunk: (c: ReadChunk) => Promise<void>, alloc: (n: number) => Buffer, signal?: AbortSignal): Promise<{ hash: string; size: number }[]> {
  const out: { hash: string; size: number }[] = [];
  if (size === 0) return out;
  const fh = await open(abs, 'r');
  try {
    for (let offset = 0; offset < size; offset += CHUNK_BYTES) {
      signal?.throwIfAborted();
      const n = Math.min(CHUNK_BYTES, size - offset);
      const data = alloc(n);
      const { bytesRead } = await fh.read(data, 0, n, offset);
      if (bytesRead !== n) throw new FastGpuApiError('CONFLICT', `${abs} changed while it was read (${size} bytes, then ${offset + bytesRead}); push again`);
      const hash = sha256(data);
      out.push({ hash, size: n });
      await onChunk({ hash, data });
    }
    // Grown since the walk: the manifest would miss its tail.
    if ((await fh.stat()).size !== size) throw new FastGpuApiError('CONFLICT', `${abs} changed while it was read; push again`);
  } finally {
    await fh.close();
  }
  return out;
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
    const files = await walk(dir);
    const total = files.reduce((a, f) => a + f.size, 0);
    const tenant = opts.tenant !== undefined ? { tenant: opts.tenant } : {};
    const concurrency = Math.max(1, opts.concurrency ?? 8);
    // One pass over the bytes: chunks are read and hashed in batches; the server is asked which
    // of a batch it lacks (one round trip per batch) and those are uploaded from memory while the
    // next batch is read. At most two batches are held. A chunk seen earlier in this push (the
    // same bytes twice) is neither asked about nor sent again.
    const batchChunks = Math.max(8, 2 * concurrency);
    const seen = new Set<string>();
    let batch: ReadChunk[] = [];
    let uploading: Promise<void> = Promise.resolve();
    let uploadedChunks = 0;
    let uploadedBytes = 0;
    let sentBytes = 0;
    let missingBytes = 0;
    // Full-size chunk buffers are used again once their chunk is sent or found not missing: a
    // fresh 4 MiB buffer per chunk is memory outside the heap that only a GC gives back, and the
    // collections it forces cost more than the reads.
    const spare: Buffer[] = [];
    const alloc = (n: number): Buffer => (n === CHUNK_BYTES ? spare.pop() : undefined) ?? Buffer.allocUnsafe(n);
    const release = (b: Buffer): void => {
      if (b.length === CHUNK_BYTES) spare.push(b);
    };
    const upload = async (chunks: ReadChunk[]): Promise<void> => {
      const { missing } = await this.client.request<{ missing: string[] }>('POST', '/v1/missing-chunks', { body: { ...tenant, hashes: chunks.map((c) => c.hash) } });
      const lacking = new Set(missing);
      const send = chunks.filter((c) => lacking.has(c.hash));
      for (const c of chunks) if (!lacking.has(c.hash)) release(c.data);
      missingBytes += send.reduce((a, c) => a + c.data.length, 0);
      await inParallel(send, concurrency, async (c) => {
        const { data, encoding } = await encodeChunk(c.data);
        // The answer comes after the server has read the whole body: the buffer is free again.
        await this.sendChunk(c.hash, data, encoding, opts);
        release(c.data);
        uploadedChunks++;
        uploadedBytes += c.data.length;
        sentBytes += data.length;
        opts.onProgress?.({ phase: 'upload', done: uploadedBytes, total: missingBytes });
      });
    };
    const flush = async (): Promise<void> => {
      const ready = batch;
      batch = [];
      await uploading; // the batch before: its error stops the push here
      uploading = upload(ready);
      uploading.catch(() => undefined); // observed at the next flush or at the end
    };
    const manifestFiles: ManifestFile[] = [];
    let hashed = 0;
    for (const f of files) {
      const chunks = await readChunks(
        f.abs,
        f.size,
        async (c) => {
          hashed += c.data.length;
          opts.onProgress?.({ phase: 'hash', done: hashed, total });
          if (seen.has(c.hash)) return release(c.data);
          seen.add(c.hash);
          batch.push(c);
          if (batch.length >= batchChunks) await flush();
        },
        alloc,
        opts.signal,
      );
      manifestFiles.push({ path: f.rel, size: f.size, executable: f.executable, chunks });
    }
    await flush();
    await uploading;
    opts.onProgress?.({ phase: 'commit', done: 0, total: 1 });
    const manifest: DatasetManifest = { files: manifestFiles };
    const d = await this.client.request<DatasetSummary>('POST', '/v1/datasets', { body: { ...tenant, name, manifest } });
    return { ...d, uploadedChunks, uploadedBytes, sentBytes };
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

  private async sendChunk(hash: string, data: Buffer, encoding: string, opts: PushOptions): Promise<void> {
    const path = chunkPath(hash, opts.tenant);
    // A dropped connection is tried again a few times: the server keeps a chunk whole or not at all.
    for (let attempt = 1; ; attempt++) {
      try {
        await this.fetch(path, { method: 'POST', body: data, headers: { 'content-type': 'application/octet-stream', [ENCODING_HEADER]: encoding }, ...(opts.signal ? { signal: opts.signal } : {}) });
        return;
      } catch (e) {
        if (!(e instanceof FastGpuApiError) || e.code !== 'NETWORK' || attempt >= 3 || opts.signal?.aborted) throw e;
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
