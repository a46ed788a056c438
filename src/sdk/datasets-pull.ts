// Fetching a dataset version into a folder (issue 16: getting a dataset, or a task's outputs,
// back). Every chunk is checked against its hash as it arrives and written at its offset; the
// folder is built beside its destination and renamed into place at the end, so a cut or failed
// pull never leaves a half-written folder where the user asked for one.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readdir, rename, rm, rmdir, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { checkRelativePath, type Dataset } from '../core/data/dataset.js';
import { inParallel } from '../util/parallel.js';
import { FastGpuApiError } from './errors.js';

export interface PullOptions {
  tenant?: string;
  /** Downloads at once (default 8). */
  concurrency?: number;
  onProgress?: (p: { done: number; total: number }) => void;
  signal?: AbortSignal;
}

export interface PullResult {
  name: string;
  version: number;
  /** The folder written (absolute). */
  dir: string;
  files: number;
  bytes: number;
}

/** A file being written: opened at its first chunk, closed after its last. */
interface Open {
  path: string;
  left: number;
  fh: Promise<FileHandle> | null;
}

/** Throws unless `dir` is absent or an empty folder (what a pull may fill). */
async function checkDestination(dir: string): Promise<boolean> {
  const st = await stat(dir).catch((e: unknown) => {
    // Absent: the pull makes it. Anything else (no permission, an I/O error) is the caller's to see.
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  });
  if (!st) return false;
  if (!st.isDirectory()) throw new FastGpuApiError('INVALID_ARGUMENT', `${dir}: exists and is not a folder; give a new folder to pull into`);
  if ((await readdir(dir)).length > 0) throw new FastGpuApiError('INVALID_ARGUMENT', `${dir}: exists and is not empty; give a new (or empty) folder to pull into`);
  return true;
}

/**
 * Writes version `d` into `dir` (absent or empty), reading each chunk through `readChunk`
 * (which checks its hash).
 * @example await pullInto(await fg.datasets.get('out@3'), './out', (h) => fg.datasets.readChunk(h))
 */
export async function pullInto(d: Dataset, dir: string, readChunk: (hash: string) => Promise<Buffer>, opts: PullOptions = {}): Promise<PullResult> {
  const dest = resolve(dir);
  const existed = await checkDestination(dest);
  // Paths come from the server: checked again here, so no answer can write outside the folder.
  for (const [i, f] of d.manifest.files.entries()) {
    try {
      checkRelativePath(f.path, `manifest.files.${i}.path`);
    } catch (e) {
      throw new FastGpuApiError('INVALID_ARGUMENT', `the server sent an unsafe path: ${(e as Error).message}`);
    }
  }
  await mkdir(dirname(dest), { recursive: true });
  const tmp = join(dirname(dest), `.${basename(dest)}.pull-${randomBytes(6).toString('hex')}`);
  await mkdir(tmp, { mode: 0o755 });
  const total = d.manifest.files.reduce((a, f) => a + f.size, 0);
  let done = 0;
  const opened: Promise<FileHandle>[] = [];
  try {
    const units: { file: Open; hash: string; size: number; offset: number }[] = [];
    for (const f of d.manifest.files) {
      const path = join(tmp, ...f.path.split('/'));
      await mkdir(dirname(path), { recursive: true });
      const file: Open = { path, left: f.chunks.length, fh: null };
      if (f.chunks.length === 0) await (await open(path, 'wx', 0o644)).close();
      let offset = 0;
      for (const c of f.chunks) {
        units.push({ file, hash: c.hash, size: c.size, offset });
        offset += c.size;
      }
    }
    // Units in file order: at most about `concurrency` files are open at once.
    await inParallel(units, Math.max(1, opts.concurrency ?? 8), async (u) => {
      opts.signal?.throwIfAborted();
      const data = await readChunk(u.hash);
      if (data.length !== u.size) throw new FastGpuApiError('INTERNAL', `chunk ${u.hash} has ${data.length} bytes, the manifest says ${u.size}`);
      if (!u.file.fh) opened.push((u.file.fh = open(u.file.path, 'wx', 0o644)));
      const fh = await u.file.fh;
      const { bytesWritten } = await fh.write(data, 0, data.length, u.offset);
      if (bytesWritten !== data.length) throw new Error(`${u.file.path}: short write (${bytesWritten} of ${data.length} bytes)`);
      if (--u.file.left === 0) await fh.close();
      done += data.length;
      opts.onProgress?.({ done, total });
    });
    for (const f of d.manifest.files) if (f.executable) await chmod(join(tmp, ...f.path.split('/')), 0o755);
    if (existed) await rmdir(dest); // empty, checked above
    await rename(tmp, dest);
  } catch (e) {
    for (const p of opened) await (await p.catch(() => null))?.close().catch(() => undefined); // closed already after its last chunk
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  return { name: d.name, version: d.version, dir: dest, files: d.manifest.files.length, bytes: total };
}
