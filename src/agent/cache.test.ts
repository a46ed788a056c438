// The node cache over a real folder: stages read-only inputs as hard links, moves no bytes when
// warm, survives a reopen (agent restart), keeps to its cap by LRU, refetches corrupt chunks.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CHUNK_BYTES, type DatasetManifest } from '../core/data/dataset.js';
import { sha256, type ChunkEncoding } from '../util/chunk-codec.js';
import { CacheFullError, NodeCache, type ChunkFetcher } from './cache.js';

const root = mkdtempSync(join(tmpdir(), 'fastgpu-cache-'));
afterAll(() => {
  // Staged inputs are read-only folders: writable again first, so that a non-root run can delete them.
  spawnSync('chmod', ['-R', 'u+w', root]);
  rmSync(root, { recursive: true, force: true });
});
let n = 0;
const fresh = (): string => join(root, `x${++n}`);

/** A "server": chunks by hash, counting what it hands out; `spoil` makes the next answers for a hash wrong. */
function server(files: Record<string, Buffer>) {
  const chunks = new Map<string, Buffer>();
  const manifest: DatasetManifest = { files: [] };
  for (const [path, data] of Object.entries(files)) {
    const refs = [];
    for (let at = 0; at < data.length; at += CHUNK_BYTES) {
      const c = data.subarray(at, at + CHUNK_BYTES);
      chunks.set(sha256(c), c);
      refs.push({ hash: sha256(c), size: c.length });
    }
    manifest.files.push({ path, size: data.length, executable: path.endsWith('.sh'), chunks: refs });
  }
  const s = {
    manifest,
    served: 0,
    spoiled: new Map<string, number>(),
    fetch: (async (hash: string) => {
      s.served++;
      const bad = s.spoiled.get(hash) ?? 0;
      if (bad > 0) {
        s.spoiled.set(hash, bad - 1);
        return { data: Buffer.from('garbage'), encoding: 'identity' as ChunkEncoding };
      }
      const c = chunks.get(hash);
      if (!c) throw new Error(`no chunk ${hash}`);
      return { data: c, encoding: 'identity' as ChunkEncoding };
    }) as ChunkFetcher,
  };
  return s;
}

const dataset = () => ({ 'a/big.bin': randomBytes(2 * CHUNK_BYTES + 10), 'b.txt': Buffer.from('hello\n'), 'empty': Buffer.alloc(0), 'run.sh': Buffer.from('#!/bin/sh\n') });

describe('NodeCache', () => {
  it('stages files read-only, then a second stage (and one after a restart) downloads nothing', async () => {
    const files = dataset();
    const srv = server(files);
    const dir = fresh();
    const cache = await NodeCache.open({ dir, capBytes: 1 << 30, fetch: srv.fetch });
    const progress: number[] = [];
    const t1 = join(fresh(), 'in1');
    const r1 = await cache.stage(srv.manifest, t1, { onProgress: (p) => progress.push(p.done) });
    expect(r1).toEqual({ fetchedChunks: 5, fetchedBytes: 2 * CHUNK_BYTES + 10 + 6 + 10 });
    expect(progress.at(-1)).toBe(r1.fetchedBytes);
    for (const [p, data] of Object.entries(files)) expect(readFileSync(join(t1, p)).equals(data)).toBe(true);
    expect(statSync(join(t1, 'b.txt')).mode & 0o777).toBe(0o444);
    expect(statSync(join(t1, 'run.sh')).mode & 0o777).toBe(0o555);
    expect(statSync(join(t1, 'a')).mode & 0o777).toBe(0o555);
    // A hard link into the cache, not a copy.
    expect(statSync(join(t1, 'a/big.bin')).nlink).toBeGreaterThan(1);
    expect(cache.holds(srv.manifest)).toBe(true);

    const served = srv.served;
    expect(await cache.stage(srv.manifest, join(fresh(), 'in2'))).toEqual({ fetchedChunks: 0, fetchedBytes: 0 });
    const again = await NodeCache.open({ dir, capBytes: 1 << 30, fetch: srv.fetch });
    expect(again.holds(srv.manifest)).toBe(true);
    expect(await again.stage(srv.manifest, join(fresh(), 'in3'))).toEqual({ fetchedChunks: 0, fetchedBytes: 0 });
    expect(srv.served).toBe(served);
    expect(again.snapshot()).toMatchObject({ entries: 3, hits: 5, misses: 0, corrupt: 0 });
  });

  it('refetches a chunk that arrives corrupt, and one corrupted on disk, never linking bad bytes', async () => {
    const files = { 'x.bin': randomBytes(1000), 'y.bin': randomBytes(2 * CHUNK_BYTES) };
    const srv = server(files);
    const dir = fresh();
    const cache = await NodeCache.open({ dir, capBytes: 1 << 30, fetch: srv.fetch });
    const x = srv.manifest.files[0]!.chunks[0]!.hash;
    srv.spoiled.set(x, 2);
    const t = join(fresh(), 'in');
    await cache.stage(srv.manifest, t);
    expect(readFileSync(join(t, 'x.bin')).equals(files['x.bin'])).toBe(true);
    expect(cache.snapshot().corrupt).toBe(2);

    // A bit flipped on disk: the next stage notices, fetches the chunk again, and links good bytes.
    const onDisk = join(dir, 'chunks', x.slice(0, 2), x);
    chmodSync(onDisk, 0o644);
    const spoilt = readFileSync(onDisk);
    spoilt[0]! ^= 1;
    writeFileSync(onDisk, spoilt);
    const t2 = join(fresh(), 'in');
    const r = await cache.stage(srv.manifest, t2);
    expect(r.fetchedChunks).toBe(1);
    expect(readFileSync(join(t2, 'x.bin')).equals(files['x.bin'])).toBe(true);
    expect(cache.snapshot().corrupt).toBe(3);

    // The same for a multi-chunk file (assembled straight from checked chunks): made again whole.
    const ykey = readdirSync(join(dir, 'files'), { recursive: true, withFileTypes: true }).find((e) => e.isFile())!;
    const yPath = join(ykey.parentPath, ykey.name);
    chmodSync(yPath, 0o644);
    const ybad = readFileSync(yPath);
    ybad[CHUNK_BYTES + 7]! ^= 1;
    writeFileSync(yPath, ybad);
    const t4 = join(fresh(), 'in');
    expect(await cache.stage(srv.manifest, t4)).toEqual({ fetchedChunks: 2, fetchedBytes: 2 * CHUNK_BYTES });
    expect(readFileSync(join(t4, 'y.bin')).equals(files['y.bin'])).toBe(true);
    expect(cache.snapshot().corrupt).toBe(4);

    // A chunk that never arrives right fails the stage, and leaves no half-made folder.
    const srv2 = server({ 'z.bin': randomBytes(50) });
    srv2.spoiled.set(srv2.manifest.files[0]!.chunks[0]!.hash, 9);
    const c2 = await NodeCache.open({ dir: fresh(), capBytes: 1 << 30, fetch: srv2.fetch, tries: 3 });
    const t3 = join(fresh(), 'in');
    await expect(c2.stage(srv2.manifest, t3)).rejects.toThrow(/arrived corrupt 3 times/);
    expect(existsSync(t3)).toBe(false);
  });

  it('two stages of the same dataset at once download each chunk once', async () => {
    const files = { 'big.bin': randomBytes(3 * CHUNK_BYTES + 5), 'small.bin': randomBytes(100) };
    const srv = server(files);
    const cache = await NodeCache.open({ dir: fresh(), capBytes: 1 << 30, fetch: srv.fetch, concurrency: 2 });
    const [t1, t2] = [join(fresh(), 'in'), join(fresh(), 'in')];
    await Promise.all([cache.stage(srv.manifest, t1), cache.stage(srv.manifest, t2)]);
    expect(srv.served).toBe(5);
    for (const t of [t1, t2]) for (const [p, data] of Object.entries(files)) expect(readFileSync(join(t, p)).equals(data)).toBe(true);
    expect(cache.snapshot().entries).toBe(2);
  });

  it('keeps under its cap by evicting the least recently used dataset no task uses; one in use stays and a stage that cannot fit fails', async () => {
    const a = server({ 'a.bin': randomBytes(3 * 1024 * 1024) });
    const b = server({ 'b.bin': randomBytes(3 * 1024 * 1024) });
    const big = server({ 'big.bin': randomBytes(6 * 1024 * 1024) });
    const dir = fresh();
    const all = [a, b, big];
    const fetch: ChunkFetcher = async (h, s) => all.find((x) => x.manifest.files[0]!.chunks.some((c) => c.hash === h))!.fetch(h, s);
    const cache = await NodeCache.open({ dir, capBytes: 5 * 1024 * 1024, fetch });
    const ta = join(fresh(), 'a');
    await cache.stage(a.manifest, ta);
    // a's input still exists (its task has not been forgotten): a is in use, b does not fit beside it.
    const tb = join(fresh(), 'b');
    const full = await cache.stage(b.manifest, tb).catch((e: unknown) => e);
    expect(full).toBeInstanceOf(CacheFullError);
    expect((full as Error).message).toMatch(/dataset cache is full: it needs 3145728 more bytes under its cap of 5242880 bytes.*3145728 linked into tasks' inputs.*--cache-size/);
    expect(existsSync(tb)).toBe(false);
    expect(cache.holds(a.manifest)).toBe(true);
    // More than the whole cap: says so.
    await expect(cache.stage(big.manifest, join(fresh(), 'big'))).rejects.toThrow(/need 6291456 bytes .* more than its cap of 5242880 bytes/);

    // The task is gone (the agent removes its folder): a is evicted for b.
    spawnSync('chmod', ['-R', 'u+w', ta]);
    rmSync(ta, { recursive: true });
    await cache.stage(b.manifest, tb);
    expect(cache.snapshot()).toMatchObject({ entries: 1, evicted: 1 });
    expect(cache.holds(a.manifest)).toBe(false);
    expect(cache.holds(b.manifest)).toBe(true);
    expect(cache.snapshot().bytes).toBeLessThanOrEqual(5 * 1024 * 1024);
    expect(readdirSync(join(dir, 'tmp'))).toEqual([]);

    // After a restart the rule holds the same: b is linked into tb, so a stage of a cannot evict it.
    const again = await NodeCache.open({ dir, capBytes: 5 * 1024 * 1024, fetch });
    await expect(again.stage(a.manifest, join(fresh(), 'a2'))).rejects.toBeInstanceOf(CacheFullError);
    expect(again.holds(b.manifest)).toBe(true);
  });
});
