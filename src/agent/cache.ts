// The node's data cache (issue 16 item 3): dataset chunks and the files assembled from them, on
// the agent's disk under a size cap, least recently used evicted first. Everything it knows is in
// its folder (a file's mtime is its last use), so it survives an agent restart as it is.
//
//   <dir>/chunks/<hh>/<sha256>        one chunk's raw bytes, checked against its name on download
//   <dir>/files/<hh>/<sha256-of-list>  a multi-chunk file, assembled (named by its chunk list)
//   <dir>/tmp/                        downloads and assemblies in progress (emptied at open)
//
// A staged input is a folder of hard links to these files, made read-only: a warm stage moves no
// bytes and copies none. Eviction only unlinks the cache's own name, so an input that a running
// task still reads keeps its data until the task's folder goes.
import { createHash, randomBytes } from 'node:crypto';
import { chmod, link, mkdir, open, readdir, readFile, rename, rm, stat, utimes, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CHUNK_BYTES, checkRelativePath, type ChunkRef, type DatasetManifest } from '../core/data/dataset.js';
import { BadChunkError, sha256, verifyChunk, type ChunkEncoding } from '../util/chunk-codec.js';
import { inParallel } from '../util/parallel.js';

/** Fetches one chunk as stored on the server (the cache decodes and checks it). */
export type ChunkFetcher = (hash: string, signal?: AbortSignal) => Promise<{ data: Buffer; encoding: ChunkEncoding }>;

export interface CacheOptions {
  dir: string;
  /** Bytes the cache may hold; older entries go first when a stage needs room. */
  capBytes: number;
  /** How chunks are fetched, unless a stage brings its own (a tenant's route). */
  fetch: ChunkFetcher;
  /** Downloads at once (default 8). */
  concurrency?: number;
  /** Tries of one chunk whose bytes do not match its hash (default 3). */
  tries?: number;
  log?: (line: string) => void;
}

/** What the cache did, for /metrics and the task's staging progress. */
export interface CacheStats {
  /** Entries and bytes held now. */
  entries: number;
  bytes: number;
  capBytes: number;
  /** Chunks found in the cache / downloaded, since the agent started. */
  hits: number;
  misses: number;
  /** Raw bytes downloaded since start. */
  bytesFetched: number;
  /** Bytes stages needed that the cache held already (assembled files, or chunks). */
  hitBytes: number;
  /** Chunks that arrived or were found corrupt and were fetched again. */
  corrupt: number;
  evicted: number;
}

export interface StageProgress {
  done: number;
  total: number;
}

interface Entry {
  path: string;
  size: number;
  used: number;
  /**
   * The file's mtime when its bytes were last checked (or written) by this process. A write to the
   * file changes its mtime, so an entry whose mtime still equals this is used without hashing it
   * again; any other (a write, a fresh agent start) is hashed before use.
   */
  checkedMtime?: number;
}

/** The name of a multi-chunk file in the cache: the hash of its chunk list. */
const fileKey = (chunks: readonly ChunkRef[]): string => createHash('sha256').update(chunks.map((c) => `${c.hash}:${c.size}`).join(',')).digest('hex');

export class NodeCache {
  private readonly entries = new Map<string, Entry>();
  private total = 0;
  private readonly stats = { hits: 0, misses: 0, bytesFetched: 0, hitBytes: 0, corrupt: 0, evicted: 0 };
  /** Keys in use by a stage now: never evicted under it. */
  private readonly pinned = new Map<string, number>();
  /** One download per chunk at a time, however many stages want it. */
  private readonly inflight = new Map<string, Promise<void>>();
  /** One assembly per multi-chunk file at a time (its `FileBuild.done`). */
  private readonly inflightFiles = new Map<string, Promise<void>>();

  private constructor(private readonly opts: CacheOptions) {}

  /** Opens (or creates) the cache in `opts.dir`, indexing what an earlier run left there. */
  static async open(opts: CacheOptions): Promise<NodeCache> {
    const c = new NodeCache(opts);
    await rm(join(opts.dir, 'tmp'), { recursive: true, force: true });
    await mkdir(join(opts.dir, 'tmp'), { recursive: true });
    for (const kind of ['chunks', 'files']) {
      const root = join(opts.dir, kind);
      await mkdir(root, { recursive: true });
      for (const sub of await readdir(root)) {
        for (const name of await readdir(join(root, sub))) {
          const path = join(root, sub, name);
          const st = await stat(path);
          c.entries.set(`${kind}/${name}`, { path, size: st.size, used: st.mtimeMs });
          c.total += st.size;
        }
      }
    }
    return c;
  }

  snapshot(): CacheStats {
    return { entries: this.entries.size, bytes: this.total, capBytes: this.opts.capBytes, ...this.stats };
  }

  /** Whether every chunk of the manifest is held (a warm stage). */
  holds(manifest: DatasetManifest): boolean {
    return manifest.files.every((f) => (f.chunks.length > 1 && this.entries.has(`files/${fileKey(f.chunks)}`)) || f.chunks.every((c) => this.entries.has(`chunks/${c.hash}`)));
  }

  /**
   * Makes `target` a read-only folder holding the manifest's files, as hard links into the cache,
   * downloading (in parallel, each chunk checked) only what the cache lacks. `target` must not
   * exist; it is built beside itself and renamed into place, so it is never seen half made.
   */
  async stage(
    manifest: DatasetManifest,
    target: string,
    opts: { signal?: AbortSignal; onProgress?: (p: StageProgress) => void; fetch?: ChunkFetcher } = {},
  ): Promise<{ fetchedBytes: number; fetchedChunks: number }> {
    const fetch = opts.fetch ?? this.opts.fetch;
    const keys: string[] = [];
    const pin = (k: string): void => {
      this.pinned.set(k, (this.pinned.get(k) ?? 0) + 1);
      keys.push(k);
    };
    const before = { bytes: this.stats.bytesFetched, chunks: this.stats.misses };
    try {
      // What the cache lacks: single-chunk files as chunks (each once), multi-chunk files whole.
      const singles = new Map<string, number>();
      const builds = new Map<string, readonly ChunkRef[]>();
      for (const f of manifest.files) {
        checkRelativePath(f.path, 'manifest.files.path');
        if (f.chunks.length === 1) {
          singles.set(f.chunks[0]!.hash, f.size);
          continue;
        }
        if (f.chunks.length === 0) continue;
        const key = fileKey(f.chunks);
        pin(`files/${key}`);
        if (this.entries.has(`files/${key}`)) {
          // Its chunks count as found: the hit ratio is over chunks a stage needed.
          this.stats.hits += f.chunks.length;
          this.stats.hitBytes += f.size;
        } else builds.set(key, f.chunks);
      }
      for (const h of singles.keys()) pin(`chunks/${h}`);
      for (const [h, n] of singles) if (this.entries.has(`chunks/${h}`)) this.stats.hitBytes += n;
      const absent = [...singles].filter(([h]) => !this.entries.has(`chunks/${h}`));
      const buildBytes = [...builds.values()].reduce((a, cs) => a + cs.reduce((b, c) => b + c.size, 0), 0);
      const total = [...singles.values()].reduce((a, b) => a + b, 0) + buildBytes;
      let done = 0;
      const progress = (n: number): void => {
        done += n;
        opts.onProgress?.({ done, total });
      };
      await this.makeRoom(absent.reduce((a, [, n]) => a + n, 0) + buildBytes);
      await this.fill([...singles.keys()], builds, fetch, opts.signal, progress, singles);
      const tmp = join(dirname(target), `.staging-${randomBytes(6).toString('hex')}`);
      await mkdir(tmp, { recursive: true });
      try {
        for (const f of manifest.files) {
          const dest = join(tmp, f.path);
          await mkdir(dirname(dest), { recursive: true });
          if (f.chunks.length === 0) {
            await (await open(dest, 'wx', 0o444)).close();
          } else if (f.chunks.length === 1) {
            await link(await this.usable(f.chunks[0]!.hash, fetch, opts.signal), dest);
          } else {
            await link(await this.assembled(f.chunks, fetch, opts.signal), dest);
          }
          if (f.executable) await chmod(dest, 0o555);
        }
        await readOnly(tmp);
        await rename(tmp, target);
      } catch (e) {
        await rm(tmp, { recursive: true, force: true });
        throw e;
      }
      return { fetchedBytes: this.stats.bytesFetched - before.bytes, fetchedChunks: this.stats.misses - before.chunks };
    } finally {
      for (const k of keys) {
        const n = (this.pinned.get(k) ?? 1) - 1;
        if (n <= 0) this.pinned.delete(k);
        else this.pinned.set(k, n);
      }
    }
  }

  /**
   * Downloads `singles` (kept as chunk entries) and assembles `builds` (multi-chunk files, each
   * chunk fetched and checked, then written straight at its offset in the file: the bytes are
   * written once, not as chunks and again as the file). One pool of `concurrency` transfers for
   * all; a file another stage is making now is waited for, not made twice.
   */
  private async fill(
    singles: readonly string[],
    builds: ReadonlyMap<string, readonly ChunkRef[]>,
    fetch: ChunkFetcher,
    signal: AbortSignal | undefined,
    progress: (bytes: number) => void,
    sizes: ReadonlyMap<string, number>,
  ): Promise<void> {
    type Unit = { single: string } | { file: FileBuild; index: number };
    const units: Unit[] = singles.map((single) => ({ single }));
    const waits: Promise<void>[] = [];
    const mine: FileBuild[] = [];
    for (const [key, chunks] of builds) {
      const other = this.inflightFiles.get(key);
      if (other) {
        waits.push(other.then(() => progress(chunks.reduce((a, c) => a + c.size, 0))));
        continue;
      }
      const b = new FileBuild(key, chunks, join(this.opts.dir, 'tmp', randomBytes(8).toString('hex')));
      this.inflightFiles.set(key, b.done);
      mine.push(b);
      for (let index = 0; index < chunks.length; index++) units.push({ file: b, index });
    }
    try {
      await inParallel(units, this.opts.concurrency ?? 8, async (u) => {
        if ('single' in u) {
          await this.ensureChunk(u.single, fetch, signal);
          progress(sizes.get(u.single) ?? 0);
          return;
        }
        const c = u.file.chunks[u.index]!;
        // A chunk the cache holds on its own (a one-chunk file of some dataset) is not fetched.
        const data = this.entries.has(`chunks/${c.hash}`) ? await readFile(await this.usable(c.hash, fetch, signal)) : await this.fetchChecked(c.hash, fetch, signal);
        await u.file.write(u.index, data);
        progress(c.size);
      });
      for (const b of mine) {
        const path = join(this.opts.dir, 'files', b.key.slice(0, 2), b.key);
        await mkdir(dirname(path), { recursive: true });
        await b.finish(path);
        await this.index(`files/${b.key}`, path, b.size);
        b.resolve();
      }
    } catch (e) {
      for (const b of mine) await b.abandon(e);
      throw e;
    } finally {
      for (const b of mine) if (this.inflightFiles.get(b.key) === b.done) this.inflightFiles.delete(b.key);
    }
    await Promise.all(waits);
  }

  /**
   * Deletes least recently used entries not in use until `extra` more bytes fit under the cap.
   * In use: pinned by a stage now, or linked into a staged input that still exists (its link
   * count is above one: a task's inputs stay until the agent forgets the attempt, across agent
   * restarts too). Evicting those would free no disk, only the cache's name for them, so they
   * stay; when they alone leave no room the stage fails, saying so, and the cap holds.
   */
  async makeRoom(extra: number): Promise<void> {
    if (this.total + extra <= this.opts.capBytes) return;
    if (extra > this.opts.capBytes) {
      throw new CacheFullError(`the inputs need ${extra} bytes in the node's dataset cache, more than its cap of ${this.opts.capBytes} bytes: a larger --cache-size makes room`);
    }
    const order = [...this.entries].filter(([k]) => !this.pinned.has(k)).sort((a, b) => a[1].used - b[1].used);
    let inUse = 0;
    for (const [k, e] of order) {
      if (this.total + extra <= this.opts.capBytes) return;
      const st = await stat(e.path).catch(() => null); // gone: only its index entry is left
      if (st && st.nlink > 1) {
        inUse += e.size;
        continue;
      }
      await rm(e.path, { force: true });
      this.entries.delete(k);
      this.total -= e.size;
      this.stats.evicted++;
    }
    if (this.total + extra <= this.opts.capBytes) return;
    const pinnedBytes = [...this.pinned.keys()].reduce((a, k) => a + (this.entries.get(k)?.size ?? 0), 0);
    throw new CacheFullError(
      `the node's dataset cache is full: it needs ${extra} more bytes under its cap of ${this.opts.capBytes} bytes, and the ${this.total} bytes it holds are in use ` +
        `(${inUse} linked into tasks' inputs, ${pinnedBytes} by stages now); a larger --cache-size, or fewer inputs on this node at once, makes room`,
    );
  }

  private forget(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.total -= e.size;
    this.entries.delete(key);
  }

  private chunkPath(hash: string): string {
    return join(this.opts.dir, 'chunks', hash.slice(0, 2), hash);
  }

  private async touch(key: string): Promise<void> {
    const e = this.entries.get(key);
    if (!e) return;
    const now = Date.now();
    e.used = now;
    // The mtime is the last use, read back at the next open (LRU across restarts).
    const wasChecked = e.checkedMtime !== undefined && (await this.unchanged(e));
    await utimes(e.path, now / 1000, now / 1000).catch(() => undefined); // only the LRU order is lost
    if (wasChecked) await this.markChecked(e);
  }

  /** Whether the entry's file is as this process last checked it (same size and mtime). */
  private async unchanged(e: Entry): Promise<boolean> {
    const st = await stat(e.path).catch(() => null); // gone: not unchanged
    return st !== null && st.size === e.size && e.checkedMtime !== undefined && st.mtimeMs === e.checkedMtime;
  }

  private async markChecked(e: Entry): Promise<void> {
    const st = await stat(e.path).catch(() => null); // gone: checked again next time
    if (st) e.checkedMtime = st.mtimeMs;
  }

  private async ensureChunk(hash: string, fetch: ChunkFetcher, signal?: AbortSignal): Promise<void> {
    if (this.entries.has(`chunks/${hash}`)) {
      this.stats.hits++;
      await this.touch(`chunks/${hash}`);
      return;
    }
    let p = this.inflight.get(hash);
    if (!p) {
      p = this.download(hash, fetch, signal).finally(() => this.inflight.delete(hash));
      this.inflight.set(hash, p);
    }
    await p;
  }

  /** One chunk fetched and checked against its hash (tried again when it arrives corrupt); counted as downloaded. */
  private async fetchChecked(hash: string, fetch: ChunkFetcher, signal?: AbortSignal): Promise<Buffer> {
    const tries = this.opts.tries ?? 3;
    for (let n = 1; ; n++) {
      signal?.throwIfAborted();
      const got = await fetch(hash, signal);
      try {
        const raw = await verifyChunk(got.data, got.encoding, hash);
        this.stats.misses++;
        this.stats.bytesFetched += raw.length;
        return raw;
      } catch (e) {
        if (!(e instanceof BadChunkError)) throw e;
        this.stats.corrupt++;
        this.opts.log?.(`cache: chunk ${hash} arrived corrupt (${e.message}); try ${n} of ${tries}`);
        if (n >= tries) throw new Error(`chunk ${hash} arrived corrupt ${tries} times: ${e.message}`);
      }
    }
  }

  private async download(hash: string, fetch: ChunkFetcher, signal?: AbortSignal): Promise<void> {
    await this.keep(`chunks/${hash}`, this.chunkPath(hash), await this.fetchChecked(hash, fetch, signal));
  }

  /** Writes `data` to `path` through tmp and a rename, read-only, and indexes it. */
  private async keep(key: string, path: string, data: Buffer): Promise<void> {
    const tmp = join(this.opts.dir, 'tmp', randomBytes(8).toString('hex'));
    const fh = await open(tmp, 'wx', 0o444);
    try {
      await fh.writeFile(data);
    } finally {
      await fh.close();
    }
    await mkdir(dirname(path), { recursive: true });
    await rename(tmp, path);
    await this.index(key, path, data.length);
  }

  /** Indexes a file just written (its bytes checked): used now, trusted while its mtime stays. */
  private async index(key: string, path: string, size: number): Promise<void> {
    const old = this.entries.get(key);
    if (old) this.total -= old.size;
    const e: Entry = { path, size, used: Date.now() };
    await this.markChecked(e);
    this.entries.set(key, e);
    this.total += size;
  }

  /**
   * The path of a cached chunk whose bytes are checked now: one found corrupt on disk (a bad
   * sector, a stray write) is dropped and fetched again, never linked into a task's input.
   */
  private async usable(hash: string, fetch: ChunkFetcher, signal?: AbortSignal): Promise<string> {
    const path = this.chunkPath(hash);
    const e = this.entries.get(`chunks/${hash}`);
    if (e && (await this.unchanged(e))) return path;
    const data = await readFile(path).catch(() => null); // unreadable: fetched again below
    if (e && data && sha256(data) === hash) {
      await this.markChecked(e);
      return path;
    }
    this.stats.corrupt++;
    this.opts.log?.(`cache: cached chunk ${hash} is ${data ? 'corrupt' : 'gone'}; fetching it again`);
    this.forget(`chunks/${hash}`);
    await rm(path, { force: true });
    await this.download(hash, fetch, signal);
    return path;
  }

  /** The path of a multi-chunk file whose bytes are checked now; one found corrupt or gone is made again. */
  private async assembled(chunks: readonly ChunkRef[], fetch: ChunkFetcher, signal: AbortSignal | undefined): Promise<string> {
    const key = fileKey(chunks);
    const path = join(this.opts.dir, 'files', key.slice(0, 2), key);
    const e = this.entries.get(`files/${key}`);
    if (e) {
      if (await this.unchanged(e)) {
        await this.touch(`files/${key}`);
        return path;
      }
      const data = await readFile(path).catch(() => null); // unreadable: made again below
      if (data && data.length === e.size && chunks.every((c, i) => sha256(data.subarray(i * CHUNK_BYTES, i * CHUNK_BYTES + c.size)) === c.hash)) {
        await this.markChecked(e);
        await this.touch(`files/${key}`);
        return path;
      }
      this.stats.corrupt++;
      this.opts.log?.(`cache: assembled file ${key} is ${data ? 'corrupt' : 'gone'}; making it again`);
      this.forget(`files/${key}`);
      await rm(path, { force: true });
    }
    await this.fill([], new Map([[key, chunks]]), fetch, signal, () => undefined, new Map());
    return path;
  }
}

/** A stage that does not fit under the cap beside the data tasks use now. */
export class CacheFullError extends Error {
  override name = 'CacheFullError';
}

/** A multi-chunk file being written into the cache's tmp folder, chunk by chunk at its offsets. */
class FileBuild {
  readonly size: number;
  readonly done: Promise<void>;
  resolve!: () => void;
  private reject!: (e: unknown) => void;
  private fh: Promise<FileHandle> | null = null;

  constructor(
    readonly key: string,
    readonly chunks: readonly ChunkRef[],
    private readonly tmp: string,
  ) {
    this.size = chunks.reduce((a, c) => a + c.size, 0);
    this.done = new Promise<void>((res, rej) => {
      this.resolve = res;
      this.reject = rej;
    });
    this.done.catch(() => undefined); // a waiter sees it; nobody waiting is fine
  }

  async write(index: number, data: Buffer): Promise<void> {
    this.fh ??= open(this.tmp, 'wx', 0o444);
    const fh = await this.fh;
    const { bytesWritten } = await fh.write(data, 0, data.length, index * CHUNK_BYTES);
    if (bytesWritten !== data.length) throw new Error(`cache: short write to ${this.tmp} (${bytesWritten} of ${data.length} bytes)`);
  }

  /** Closes the file and renames it to `path`. */
  async finish(path: string): Promise<void> {
    this.fh ??= open(this.tmp, 'wx', 0o444);
    await (await this.fh).close();
    await rename(this.tmp, path);
  }

  async abandon(e: unknown): Promise<void> {
    if (this.fh) await (await this.fh.catch(() => null))?.close().catch(() => undefined); // closed already by finish
    await rm(this.tmp, { force: true });
    this.reject(e);
  }
}

/** Files 0444 (0555 when executable), folders 0555, bottom up. */
async function readOnly(dir: string): Promise<void> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.isDirectory()) await readOnly(join(dir, e.name));
  }
  await chmod(dir, 0o555);
}
