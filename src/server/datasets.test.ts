// Datasets end to end over a real socket: the TS SDK pushes folders to a server over a real SQLite
// store and blob folder, reads the chunks back, resumes a cut push, and meets the quota and bad
// input with clear errors.
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHUNK_BYTES } from '../core/data/dataset.js';
import { FastGPU } from '../sdk/client.js';
import { FastGpuApiError } from '../sdk/errors.js';
import { sha256 } from '../util/chunk-codec.js';
import { makeHarness, type Harness } from './testing.js';

let h: Harness;
let fg: FastGPU;
let url: string;
const work = mkdtempSync(join(tmpdir(), 'fastgpu-data-'));
const blobDir = join(work, 'blobs');

beforeAll(async () => {
  h = await makeHarness({ blobDir });
  await h.server.app.listen({ host: '127.0.0.1', port: 0 });
  const addr = h.server.app.server.address();
  url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  fg = new FastGPU({ url, token: h.token, env: {} });
});
afterAll(async () => {
  await h.close();
  rmSync(work, { recursive: true, force: true });
});

/** A folder of typical training files: a big random shard (3 chunks), text, an empty file, a script. */
function makeFolder(name: string): string {
  const dir = join(work, name);
  mkdirSync(join(dir, 'shards'), { recursive: true });
  writeFileSync(join(dir, 'shards', 'train-0.bin'), randomBytes(2 * CHUNK_BYTES + 12345));
  writeFileSync(join(dir, 'labels.csv'), 'id,label\n'.repeat(50_000));
  writeFileSync(join(dir, 'empty.txt'), '');
  writeFileSync(join(dir, 'run.sh'), '#!/bin/sh\necho hi\n');
  chmodSync(join(dir, 'run.sh'), 0o755);
  return dir;
}

async function member(tenant: string): Promise<FastGPU> {
  await h.req('POST', '/v1/admin/tenants', { name: tenant });
  const t = await h.req('POST', '/v1/admin/tokens', { tenant, role: 'member' });
  return new FastGPU({ url, token: t.body.token as string, env: {} });
}

/** The hash of the version's largest file's last chunk (a chunk no other test's folder shares). */
const d0Chunk = (d: { manifest: { files: { size: number; chunks: { hash: string }[] }[] } }): string => [...d.manifest.files].sort((a, b) => b.size - a.size)[0]!.chunks.at(-1)!.hash;

/** Every file of a version, rebuilt from the chunks the server hands out. */
async function rebuild(client: FastGPU, ref: string): Promise<Map<string, Buffer>> {
  const d = await client.datasets.get(ref);
  const out = new Map<string, Buffer>();
  for (const f of d.manifest.files) out.set(f.path, Buffer.concat(await Promise.all(f.chunks.map((c) => client.datasets.readChunk(c.hash)))));
  return out;
}

const blobFiles = (tenant: string): string[] =>
  readdirSync(join(blobDir, tenant), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => e.name);

describe('datasets', () => {
  it('pushes a folder as version 1 and gives every byte back; a second push of the same folder uploads nothing', async () => {
    const dir = makeFolder('one');
    const phases = new Set<string>();
    const v1 = await fg.datasets.push(dir, 'imgs', { onProgress: (p) => phases.add(p.phase) });
    expect(v1).toMatchObject({ tenant: 'default', name: 'imgs', version: 1, fileCount: 4, chunkCount: 5 });
    expect(v1.bytes).toBe(2 * CHUNK_BYTES + 12345 + 9 * 50_000 + 18);
    expect(v1.uploadedChunks).toBe(5);
    expect(v1.uploadedBytes).toBe(v1.bytes);
    // The text compresses, the random shard is sent as is.
    expect(v1.sentBytes).toBeLessThan(v1.bytes - 9 * 50_000 + 50_000);
    expect([...phases]).toEqual(['hash', 'upload', 'commit']);

    const files = await rebuild(fg, 'imgs@1');
    expect([...files.keys()]).toEqual(['empty.txt', 'labels.csv', 'run.sh', 'shards/train-0.bin']);
    for (const [p, b] of files) expect(sha256(b)).toBe(sha256(readFileSync(join(dir, p))));
    expect((await fg.datasets.get('imgs')).manifest.files.find((f) => f.path === 'run.sh')?.executable).toBe(true);

    const v2 = await fg.datasets.push(dir, 'imgs');
    expect(v2).toMatchObject({ version: 2, uploadedChunks: 0, uploadedBytes: 0 });
    // One changed file: only its chunk moves.
    writeFileSync(join(dir, 'labels.csv'), 'id,label\n'.repeat(40_000));
    const v3 = await fg.datasets.push(dir, 'imgs');
    expect(v3).toMatchObject({ version: 3, uploadedChunks: 1, uploadedBytes: 9 * 40_000 });
    expect((await fg.datasets.list()).filter((d) => d.name === 'imgs').map((d) => d.version)).toEqual([1, 2, 3]);
  });

  it('pushes through a client given a list of servers (FASTGPU_URL=a,b)', async () => {
    const dir = join(work, 'listed');
    mkdirSync(dir);
    writeFileSync(join(dir, 'a.bin'), randomBytes(1000));
    const listed = new FastGPU({ url: `${url},http://127.0.0.1:9`, token: h.token, env: {} });
    expect(await listed.datasets.push(dir, 'listed')).toMatchObject({ version: 1, uploadedChunks: 1, uploadedBytes: 1000 });
    expect((await listed.datasets.readChunk(sha256(readFileSync(join(dir, 'a.bin'))))).length).toBe(1000);
  });

  it('pulls a version into a new folder, byte for byte with its executable bits; refuses a folder in use and leaves nothing of a failed pull', async () => {
    const src = makeFolder('to-pull');
    const v = await fg.datasets.push(src, 'pulled');
    const dest = join(work, 'pulled-here', 'out');
    const seen: number[] = [];
    const got = await fg.datasets.pull(`pulled@${v.version}`, dest, { concurrency: 3, onProgress: (p) => seen.push(p.done) });
    expect(got).toEqual({ name: 'pulled', version: v.version, dir: dest, files: 4, bytes: v.bytes });
    expect(seen.at(-1)).toBe(v.bytes);
    for (const rel of ['shards/train-0.bin', 'labels.csv', 'empty.txt', 'run.sh']) expect(sha256(readFileSync(join(dest, rel))), rel).toBe(sha256(readFileSync(join(src, rel))));
    expect(statSync(join(dest, 'run.sh')).mode & 0o777).toBe(0o755);
    expect(statSync(join(dest, 'labels.csv')).mode & 0o777).toBe(0o644);
    // An empty folder is filled; a folder with something in it, or a file, is refused untouched.
    const empty = join(work, 'pull-empty');
    mkdirSync(empty);
    expect((await fg.datasets.pull('pulled', empty)).files).toBe(4);
    await expect(fg.datasets.pull('pulled', dest)).rejects.toThrow(/out: exists and is not empty; give a new \(or empty\) folder/);
    await expect(fg.datasets.pull('pulled', join(src, 'labels.csv'))).rejects.toThrow(/labels\.csv: exists and is not a folder/);
    await expect(fg.datasets.pull('pulled@99', join(work, 'never'))).rejects.toThrow(/dataset pulled has no version 99/);
    // A chunk that is gone from the server mid-pull: the pull fails and leaves no folder behind.
    const gone = d0Chunk(await fg.datasets.get('pulled'));
    for (const ext of ['raw', 'gz']) rmSync(join(blobDir, 'default', gone.slice(0, 2), `${gone}.${ext}`), { force: true });
    await expect(fg.datasets.pull('pulled', join(work, 'half'), { concurrency: 1 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(readdirSync(work).filter((n) => n.startsWith('half') || n.startsWith('.half'))).toEqual([]);
  });

  it('pushes many full-size chunks over several batches with its read buffers reused, every byte intact', async () => {
    // concurrency 1: batches of 8 chunks, so buffers freed by one batch are read into by the next;
    // b.bin repeats a.bin (chunks seen earlier in the push, freed at once).
    const dir = join(work, 'batches');
    mkdirSync(dir);
    const a = randomBytes(9 * CHUNK_BYTES);
    writeFileSync(join(dir, 'a.bin'), a);
    writeFileSync(join(dir, 'b.bin'), a);
    writeFileSync(join(dir, 'c.bin'), randomBytes(9 * CHUNK_BYTES - 1));
    const v = await fg.datasets.push(dir, 'batches', { concurrency: 1 });
    expect(v).toMatchObject({ uploadedChunks: 18, chunkCount: 18, bytes: 27 * CHUNK_BYTES - 1 });
    const out = join(work, 'batches-back');
    await fg.datasets.pull('batches', out);
    for (const f of ['a.bin', 'b.bin', 'c.bin']) expect(sha256(readFileSync(join(out, f))), f).toBe(sha256(readFileSync(join(dir, f))));
    await fg.datasets.remove('batches');
  });

  it('sends chunk calls to the next server of the list when the first is down or answers 503, as JSON calls do', async () => {
    // A server that is stopping: every call answers 503 (it counts the chunk calls it got).
    let refused = 0;
    const stopping = createServer((req, res) => {
      if (req.url?.startsWith('/v1/chunks/')) refused++;
      req.resume();
      res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'UNAVAILABLE', message: 'stopping' } }));
    });
    stopping.listen(0, '127.0.0.1');
    await once(stopping, 'listening');
    const port = (stopping.address() as AddressInfo).port;
    try {
      const dir = join(work, 'failover');
      mkdirSync(dir);
      writeFileSync(join(dir, 'a.bin'), randomBytes(3000));
      for (const list of [`http://127.0.0.1:9,${url}`, `http://127.0.0.1:${port},${url}`]) {
        const before = refused;
        const c = new FastGPU({ url: list, token: h.token, env: {} });
        writeFileSync(join(dir, 'b.bin'), randomBytes(2000)); // a new chunk each time: one upload
        const v = await c.datasets.push(dir, 'failover');
        expect(v.uploadedChunks).toBeGreaterThanOrEqual(1);
        expect((await c.datasets.readChunk(sha256(readFileSync(join(dir, 'b.bin'))))).length).toBe(2000);
        // The 503 server was asked first only while it was the preferred one (the JSON calls before
        // the chunk calls moved the preference to the live server).
        expect(refused - before).toBe(0);
      }
      // A client whose first chunk call meets the 503 server: its own list, the chunk call first.
      const c = new FastGPU({ url: `http://127.0.0.1:${port},${url}`, token: h.token, env: {} });
      const hash = sha256(readFileSync(join(dir, 'b.bin')));
      expect((await c.datasets.readChunk(hash)).length).toBe(2000);
      expect(refused).toBe(1);
      // Every server down or stopping: the error names the last one tried.
      const none = new FastGPU({ url: `http://127.0.0.1:${port},http://127.0.0.1:9`, token: h.token, env: {} });
      await expect(none.datasets.readChunk(hash)).rejects.toMatchObject({ code: 'NETWORK', message: expect.stringContaining('http://127.0.0.1:9') });
    } finally {
      stopping.close();
    }
  });

  it('resumes a cut push: the chunks already kept are not sent again, and no version is made until the end', async () => {
    const dir = join(work, 'big');
    mkdirSync(dir);
    for (let i = 0; i < 6; i++) writeFileSync(join(dir, `part-${i}.bin`), randomBytes(CHUNK_BYTES));
    const ac = new AbortController();
    let uploads = 0;
    await expect(
      fg.datasets.push(dir, 'cut', {
        concurrency: 1,
        signal: ac.signal,
        onProgress: (p) => {
          if (p.phase === 'upload' && p.done > 0 && ++uploads === 2) ac.abort();
        },
      }),
    ).rejects.toThrow();
    await expect(fg.datasets.get('cut')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const again = await fg.datasets.push(dir, 'cut');
    expect(again).toMatchObject({ version: 1, uploadedChunks: 4, uploadedBytes: 4 * CHUNK_BYTES, bytes: 6 * CHUNK_BYTES });
  });

  it('enforces the tenant quota: a push over it is refused, names the numbers and writes no version', async () => {
    const alice = await member('quota-a');
    const dir = makeFolder('quota');
    await expect(alice.datasets.setQuota('quota-a', 1000)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(await fg.datasets.setQuota('quota-a', 3 * CHUNK_BYTES)).toEqual({ tenant: 'quota-a', usedBytes: 0, maxBytes: 3 * CHUNK_BYTES });
    const first = await alice.datasets.push(dir, 'd');
    const err = await alice.datasets.push(dir, 'd').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FastGpuApiError);
    expect(err).toMatchObject({ code: 'RESOURCE_EXHAUSTED', status: 429 });
    expect((err as Error).message).toContain(`dataset quota of tenant quota-a exceeded: ${first.bytes} bytes stored + ${first.bytes} new > limit ${3 * CHUNK_BYTES} bytes`);
    expect((await alice.datasets.list()).map((d) => d.version)).toEqual([1]);
    expect(await alice.datasets.quota('quota-a')).toEqual({ tenant: 'quota-a', usedBytes: first.bytes, maxBytes: 3 * CHUNK_BYTES });
    // Removing the version frees the room and the chunks.
    expect(await alice.datasets.remove('d')).toEqual({ tenant: 'quota-a', name: 'd', versions: [1], freedChunks: 5 });
    expect(blobFiles('quota-a')).toEqual([]);
    expect((await alice.datasets.push(dir, 'd')).version).toBe(2);
  });

  it("keeps tenants apart: another tenant's dataset and chunks are not found", async () => {
    const bob = await member('iso-b');
    const d = await fg.datasets.get('imgs@1');
    await expect(bob.datasets.get('imgs')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(bob.datasets.get('imgs', { tenant: 'default' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(bob.datasets.readChunk(d.manifest.files[0]!.chunks[0]?.hash ?? d.manifest.files[1]!.chunks[0]!.hash)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await bob.datasets.list()).toEqual([]);
  });

  it('refuses bad input with errors that name the problem, keeping nothing', async () => {
    await expect(fg.datasets.get('nope')).rejects.toThrow(/dataset nope \(tenant default\) not found/);
    await expect(fg.datasets.get('imgs@9')).rejects.toThrow(/dataset imgs has no version 9/);
    await expect(fg.datasets.get('imgs@x')).rejects.toThrow(/version "x" is not a version number/);
    await expect(fg.datasets.push(work, 'Bad Name')).rejects.toThrow(/not a dataset name/);
    await expect(fg.datasets.push(join(work, 'absent'), 'x')).rejects.toThrow(/not a folder/);

    // A chunk whose bytes are not its hash is refused and not kept.
    const good = Buffer.from('hello');
    const hash = sha256(good);
    const bad = await h.req('POST', `/v1/chunks/${hash}`, Buffer.from('hellO'), { 'content-type': 'application/octet-stream' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/refused, nothing kept: its sha256 is [0-9a-f]{64}, not/);
    expect((await h.req('POST', '/v1/missing-chunks', { hashes: [hash] })).body).toEqual({ missing: [hash] });
    const bomb = await h.req('POST', `/v1/chunks/${hash}`, Buffer.from('not gzip'), { 'content-type': 'application/octet-stream', 'x-fastgpu-encoding': 'gzip' });
    expect(bomb.body.error.message).toMatch(/not a gzip stream/);
    const enc = await h.req('POST', `/v1/chunks/${hash}`, good, { 'content-type': 'application/octet-stream', 'x-fastgpu-encoding': 'zstd' });
    expect(enc.body.error.message).toMatch(/x-fastgpu-encoding: "zstd" is not one of gzip, identity/);

    // A manifest naming a chunk never uploaded is not committed.
    const manifest = { files: [{ path: 'a.txt', size: 5, chunks: [{ hash, size: 5 }] }] };
    const commit = await h.req('POST', '/v1/datasets', { name: 'orphan', manifest });
    expect(commit.status).toBe(409);
    expect(commit.body.error.message).toMatch(/1 chunk\(s\) of the manifest are not uploaded/);
    for (const [m, msg] of [
      [{ files: [{ path: '../x', size: 5, chunks: [{ hash, size: 5 }] }] }, /body.manifest.files.0.path: .*'\.\.' segment/],
      [{ files: [{ path: 'a', size: 6, chunks: [{ hash, size: 5 }] }] }, /chunk sizes add up to 5, not the file's size 6/],
      [{ files: [{ path: 'a', size: 5, chunks: [{ hash: 'x', size: 5 }] }] }, /body.manifest.files.0.chunks.0.hash/],
      [{ files: [{ path: 'a', size: 0, chunks: [] }, { path: 'a/b', size: 0, chunks: [] }] }, /"a" is both a file and a folder/],
    ] as const) {
      const r = await h.req('POST', '/v1/datasets', { name: 'bad', manifest: m });
      expect(r.status).toBe(400);
      expect(r.body.error.message).toMatch(msg);
    }
    expect((await fg.datasets.list()).map((d) => d.name)).not.toContain('bad');
    expect((await h.req('POST', '/v1/datasets', { name: 'x', tenant: 'ghost', manifest: { files: [] } })).status).toBe(404);
  });

  it('lets agents read any tenant chunk through the agent protocol, and members not through it', async () => {
    const d = await fg.datasets.get('imgs@1');
    const hash = d.manifest.files.find((f) => f.path === 'labels.csv')!.chunks[0]!.hash;
    const agent = await h.req('POST', '/v1/admin/tokens', { tenant: 'default', role: 'agent' });
    const r = await h.req('GET', `/v1/agent/chunks/default/${hash}`, undefined, { authorization: `Bearer ${agent.body.token as string}` });
    expect(r.status).toBe(200);
    expect(r.headers['x-fastgpu-encoding']).toBe('gzip');
    const m = await h.req('GET', `/v1/agent/datasets/default/imgs?version=1`, undefined, { authorization: `Bearer ${agent.body.token as string}` });
    expect(m.body.manifest).toEqual(d.manifest);
    const alice = (await h.req('POST', '/v1/admin/tokens', { tenant: 'default', role: 'member' })).body.token as string;
    expect((await h.req('GET', `/v1/agent/chunks/default/${hash}`, undefined, { authorization: `Bearer ${alice}` })).status).toBe(403);
  });
});
