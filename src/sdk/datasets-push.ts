// The upload half of a dataset push (issue 16), shared by `fastgpu data push` (datasets.ts) and an
// agent uploading a task's outputs (agent/outputs.ts): read a folder (or one file) once in
// CHUNK_BYTES chunks, hashing them, ask which chunks of each batch the server lacks, upload those
// in parallel from memory (gzip where it pays, util/chunk-codec.ts) while the next batch is read,
// and answer the manifest to commit. Where the questions go is the caller's (`PushIo`).
import { open, readdir, stat } from 'node:fs/promises';
import { basename, join, relative, sep } from 'node:path';
import { CHUNK_BYTES, type DatasetManifest, type ManifestFile } from '../core/data/dataset.js';
import { encodeChunk, sha256 } from '../util/chunk-codec.js';
import { inParallel } from '../util/parallel.js';
import { FastGpuApiError } from './errors.js';

/** Where a push's two questions go: the user's routes, or the agent's for a task's outputs. */
export interface PushIo {
  /** Which of these chunks the server lacks. */
  missing(hashes: string[]): Promise<string[]>;
  /** Upload one chunk, encoded as `encoding` says. */
  send(hash: string, data: Buffer, encoding: string): Promise<void>;
}

export interface UploadProgress {
  phase: 'hash' | 'upload';
  done: number;
  total: number;
}

export interface UploadOptions {
  /** Uploads at once (default 8). */
  concurrency?: number;
  onProgress?: (p: UploadProgress) => void;
  signal?: AbortSignal;
  /** A regular file at `root` is pushed as a dataset of that one file (default: only folders). */
  allowFile?: boolean;
}

export interface UploadResult {
  manifest: DatasetManifest;
  /** Raw bytes of every file. */
  total: number;
  /** Chunks and raw bytes uploaded (the rest the server had). */
  uploadedChunks: number;
  uploadedBytes: number;
  /** Bytes on the wire for them (after compression). */
  sentBytes: number;
}

/**
 * Regular files under `dir`, `/`-separated relative paths, sorted. Symlinked folders and special
 * files are refused. With `allowFile`, a regular file at `dir` is the one file, named by its base name.
 */
export async function walk(dir: string, allowFile = false): Promise<{ abs: string; rel: string; size: number; executable: boolean }[]> {
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
  if (allowFile && st?.isFile()) return [{ abs: dir, rel: basename(dir), size: st.size, executable: (st.mode & 0o100) !== 0 }];
  if (!st?.isDirectory()) throw new FastGpuApiError('INVALID_ARGUMENT', allowFile ? `${dir}: ${st ? 'not a folder nor a regular file' : 'no such file or folder'}` : `${dir}: not a folder`);
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

/**
 * Uploads what the server lacks of the folder (or file) at `root` and answers its manifest; the
 * caller commits it.
 * @example const up = await uploadTree('./out', io, {}); // then commit up.manifest
 */
export async function uploadTree(root: string, io: PushIo, opts: UploadOptions = {}): Promise<UploadResult> {
  const files = await walk(root, opts.allowFile === true);
  const total = files.reduce((a, f) => a + f.size, 0);
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
    const lacking = new Set(await io.missing(chunks.map((c) => c.hash)));
    const send = chunks.filter((c) => lacking.has(c.hash));
    for (const c of chunks) if (!lacking.has(c.hash)) release(c.data);
    missingBytes += send.reduce((a, c) => a + c.data.length, 0);
    await inParallel(send, concurrency, async (c) => {
      const { data, encoding } = await encodeChunk(c.data);
      // The answer comes after the server has read the whole body: the buffer is free again.
      await io.send(c.hash, data, encoding);
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
  return { manifest: { files: manifestFiles }, total, uploadedChunks, uploadedBytes, sentBytes };
}
