// The server's chunk store: one file per chunk under `<dataDir>/blobs/<tenant>/<hh>/<hash>.<enc>`,
// holding the bytes as the client sent them (gzip or identity). Chunks are per tenant so that
// knowing a hash never lets one tenant read, or learn of, another's data. A chunk is checked
// before it is kept (decoded, sha256 compared, size bounded) and written to a temporary file and
// renamed into place, so a crash or a cut upload never leaves a half-written or wrong chunk.
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { FastGpuError, invalid } from '../core/errors.js';
import { BadChunkError, CHUNK_ENCODINGS, verifyChunk, type ChunkEncoding } from '../util/chunk-codec.js';

const SUFFIX: Record<ChunkEncoding, string> = { gzip: 'gz', identity: 'raw' };

export class BlobStore {
  /** Per-tenant chains: a push's commit and a removal's unlinks of one tenant never interleave. */
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(readonly root: string) {}

  private dir(tenant: string, hash: string): string {
    // Tenant names are checked at creation; encoding keeps any name one folder deep.
    return join(this.root, encodeURIComponent(tenant), hash.slice(0, 2));
  }

  private path(tenant: string, hash: string, enc: ChunkEncoding): string {
    return join(this.dir(tenant, hash), `${hash}.${SUFFIX[enc]}`);
  }

  /** Where the chunk is and how it is encoded; null when absent. */
  async find(tenant: string, hash: string): Promise<{ path: string; encoding: ChunkEncoding; size: number } | null> {
    for (const encoding of CHUNK_ENCODINGS) {
      const path = this.path(tenant, hash, encoding);
      try {
        const st = await stat(path);
        return { path, encoding, size: st.size };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
    return null;
  }

  async has(tenant: string, hash: string): Promise<boolean> {
    return (await this.find(tenant, hash)) !== null;
  }

  /**
   * The stored (encoded) bytes as a stream, with their length: a reply streams them from the file
   * instead of holding 4 MiB per download in memory. Opened before it is returned, so a removal
   * meanwhile does not cut it; null when absent.
   */
  async openRead(tenant: string, hash: string): Promise<{ stream: NodeJS.ReadableStream; encoding: ChunkEncoding; size: number } | null> {
    const at = await this.find(tenant, hash);
    if (!at) return null;
    try {
      const fh = await open(at.path, 'r');
      const size = (await fh.stat()).size;
      return { stream: fh.createReadStream({ highWaterMark: 1024 * 1024 }), encoding: at.encoding, size };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null; // removed meanwhile
      throw e;
    }
  }

  /**
   * Checks and keeps one chunk. Refuses (INVALID_ARGUMENT, nothing written) bytes whose sha256 is
   * not `hash` or that decode to more than CHUNK_BYTES. Returns whether it was already there.
   */
  async put(tenant: string, hash: string, data: Buffer, encoding: ChunkEncoding): Promise<{ existed: boolean; raw: number }> {
    let raw: Buffer;
    try {
      raw = await verifyChunk(data, encoding, hash);
    } catch (e) {
      if (e instanceof BadChunkError) throw invalid('body', `refused, nothing kept: ${e.message} (corrupted in transit?)`);
      throw e;
    }
    if (await this.has(tenant, hash)) return { existed: true, raw: raw.length };
    const dir = this.dir(tenant, hash);
    await mkdir(dir, { recursive: true });
    const tmp = join(dir, `.tmp-${randomBytes(8).toString('hex')}`);
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } catch (e) {
      await fh.close();
      await rm(tmp, { force: true });
      throw e;
    }
    await fh.close();
    await rename(tmp, this.path(tenant, hash, encoding));
    return { existed: false, raw: raw.length };
  }

  /** Deletes the chunks (every encoding); absent ones are fine. */
  async remove(tenant: string, hashes: readonly string[]): Promise<void> {
    for (const h of hashes) for (const enc of CHUNK_ENCODINGS) await rm(this.path(tenant, h, enc), { force: true });
  }

  /** Runs `fn` after every earlier `exclusive` call of the tenant on this server has finished. */
  async exclusive<R>(tenant: string, fn: () => Promise<R>): Promise<R> {
    const prev = this.locks.get(tenant) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined); // the caller gets run's error; the lock only orders
    this.locks.set(tenant, tail);
    try {
      return await run;
    } finally {
      if (this.locks.get(tenant) === tail) this.locks.delete(tenant);
    }
  }
}

/** The blob store, or UNAVAILABLE when this server was built without a data folder. */
export function needBlobs(b: BlobStore | null): BlobStore {
  if (!b) throw new FastGpuError('UNAVAILABLE', 'this server keeps no dataset chunks (it was started without a data directory)');
  return b;
}
