// The SDK against the real server: `bare` has no agent (its tasks stay PENDING), `pool` has a
// real agent on one simulated H100 (its tasks run as real processes).
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPool, type TestPool } from '../cli/testing.js';
import { FastGPU } from './client.js';
import { readConfig, resolveConnection, writeConfig } from './config.js';
import { FastGpuApiError } from './errors.js';
import { VirtualGPU } from './vgpu.js';

let bare: TestPool;
let pool: TestPool;
let home: string;

beforeAll(async () => {
  [bare, pool] = await Promise.all([startPool(), startPool({ gpus: '1xH100' })]);
  home = mkdtempSync(join(tmpdir(), 'fastgpu-sdk-'));
});

afterAll(async () => {
  await Promise.all([bare?.close(), pool?.close()]);
  rmSync(home, { recursive: true, force: true });
});

/** A client of `p` the way users make one: url and token given, FASTGPU_HOME of their own. */
const clientOf = (p: TestPool, token = p.token): FastGPU => new FastGPU({ url: p.url, token, env: { FASTGPU_HOME: home } });

let n = 0;
const unique = (what: string): string => `${what}-${++n}`;

/** A shell command that waits for `file` (under the pool's dir) before going on. */
const awaitFile = (p: TestPool, file: string): string => `until [ -e ${join(p.dir, file)} ]; do sleep 0.02; done`;
const touch = (p: TestPool, file: string): void => writeFileSync(join(p.dir, file), '');

describe('connection', () => {
  it('prefers explicit options, then env, then the saved config', () => {
    const env = { FASTGPU_HOME: home };
    expect(() => resolveConnection({}, env)).toThrow(/no FastGPU server configured: run `fastgpu up`/);
    const path = writeConfig({ url: 'http://127.0.0.1:7070/', token: 'saved' }, env);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readConfig(env)).toEqual({ url: 'http://127.0.0.1:7070/', token: 'saved' });
    expect(resolveConnection({}, env)).toEqual({ url: 'http://127.0.0.1:7070', token: 'saved' });
    expect(resolveConnection({}, { ...env, FASTGPU_URL: 'h:1', FASTGPU_TOKEN: 'e' })).toEqual({ url: 'http://h:1', token: 'e' });
    expect(resolveConnection({ url: 'http://a:2', token: 'x' }, { ...env, FASTGPU_URL: 'h:1' })).toEqual({ url: 'http://a:2', token: 'x' });
    // The saved token goes only to the saved server.
    expect(resolveConnection({ url: 'http://elsewhere:1' }, env)).toEqual({ url: 'http://elsewhere:1', token: undefined });
    expect(resolveConnection({ url: '127.0.0.1:7070' }, env).token).toBe('saved');
    rmSync(path);
  });

  it('names a malformed server address', () => {
    expect(() => resolveConnection({ url: 'ftp://x', token: 't' }, {})).toThrow(/server: "ftp:\/\/x" must be an http/);
  });
});

describe('FastGPU client', () => {
  it('submits, lists, gets and cancels tasks with the bearer token', async () => {
    const fg = clientOf(bare);
    const name = unique('listed');
    const t = await fg.tasks.submit({ name, command: ['echo', 'hi'], resources: { gpu: 0.5 } });
    expect(t).toMatchObject({ name, state: 'PENDING', attempts: 0, spec: { command: ['echo', 'hi'] } });
    expect((await fg.tasks.list({ state: ['PENDING'], name })).map((x) => x.id)).toEqual([t.id]);
    expect(await fg.tasks.list({ state: ['RUNNING'], name })).toEqual([]);
    const detail = await fg.tasks.get(t.id);
    expect(detail.history).toEqual([]);
    expect(detail.attempts).toBe(0);
    expect((await fg.tasks.cancel(t.id)).state).toBe('CANCELLED');
  });

  it('lists every task of a list longer than a server page: the pages are followed, none twice', async () => {
    const fg = clientOf(bare);
    // 1,005 tasks of one array (one millisecond apart at most), cancelled: the server cuts 1,000 a page.
    const arr = await fg.arrays.submit({ name: unique('paged'), command: 'true', array: 1005 });
    await fg.arrays.cancel(arr.id);
    const mine = (ts: { array?: { id: string } | null }[]) => ts.filter((t) => t.array?.id === arr.id);
    const all = mine(await fg.tasks.list({ state: 'CANCELLED' }));
    expect(all).toHaveLength(1005);
    expect(new Set(all.map((t) => (t as { id: string }).id)).size).toBe(1005);
    // A page with `limit` says that more follow; `list` with a limit stops there.
    const first = await fg.tasks.page({ state: 'CANCELLED', limit: 400 });
    expect(first.tasks).toHaveLength(400);
    expect(first.next).toBe(first.tasks[399]!.id);
    expect(await fg.tasks.list({ state: 'CANCELLED', limit: 400 })).toHaveLength(400);
  });

  it('turns error bodies into FastGpuApiError with code, status and field', async () => {
    const fg = clientOf(bare);
    const err = await fg.tasks.submit({ command: 'x', bogus: 1 } as never).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FastGpuApiError);
    expect(err).toMatchObject({ code: 'INVALID_ARGUMENT', status: 400, field: 'bogus' });
    const t = await fg.tasks.submit({ command: 'x' });
    await fg.tasks.cancel(t.id);
    await expect(fg.tasks.cancel(t.id)).rejects.toMatchObject({ code: 'CONFLICT', status: 409 });
    await expect(fg.tasks.get('nope')).rejects.toMatchObject({ code: 'NOT_FOUND', status: 404 });
    await expect(clientOf(bare, 'wrong').nodes()).rejects.toMatchObject({ code: 'UNAUTHENTICATED', status: 401 });
  });

  it('says when the server cannot be reached', async () => {
    // A port that was free a moment ago: nothing listens there.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as { port: number }).port;
    await new Promise((r) => probe.close(r));
    const dead = new FastGPU({ url: `http://127.0.0.1:${port}`, token: 'tok' });
    await expect(dead.nodes()).rejects.toMatchObject({ code: 'NETWORK', message: expect.stringContaining('cannot reach the FastGPU server') });
  });

  it('times out a wait', async () => {
    const t = await clientOf(bare).tasks.submit({ command: 'x' });
    await expect(clientOf(bare).tasks.wait(t.id, { timeoutMs: 100 })).rejects.toMatchObject({ code: 'TIMEOUT' });
  });

  it('gives up following after the reconnect budget', async () => {
    const fg = clientOf(bare);
    const t = await fg.tasks.submit({ command: 'x' });
    await bare.stopServer();
    try {
      await expect(
        (async () => {
          for await (const _ of fg.tasks.follow(t.id, { reconnectForMs: 300 })) void _;
        })(),
      ).rejects.toMatchObject({ code: 'NETWORK', message: expect.stringMatching(/could not reconnect/) });
    } finally {
      await bare.startServer();
    }
  });

  it('follows logs live until the task ends, and waits for the end', async () => {
    const fg = clientOf(pool);
    const go = unique('go');
    const t = await fg.tasks.submit({ command: `echo one; ${awaitFile(pool, go)}; echo two >&2` });
    const got: string[] = [];
    const following = (async () => {
      for await (const s of fg.tasks.logs(t.id, { follow: true })) got.push(s);
    })();
    const waiting = fg.tasks.wait(t.id);
    await until(() => got.length === 1);
    touch(pool, go);
    await following;
    expect(got).toEqual(['one\n', 'two\n']);
    expect(await waiting).toMatchObject({ state: 'SUCCEEDED', exitCode: 0 });
    const all: string[] = [];
    for await (const c of fg.tasks.history(t.id)) all.push(`${c.stream}:${c.data}`);
    expect(all).toEqual(['stdout:one\n', 'stderr:two\n']);
  });

  it('reads a finished task’s history in pages, and all of it', async () => {
    const fg = clientOf(pool);
    const t = await fg.tasks.submit({ name: unique('history'), command: 'true' });
    expect(await fg.tasks.wait(t.id)).toMatchObject({ state: 'SUCCEEDED' });
    const types = ['task.submitted', 'task.scheduled', 'task.started', 'task.finished'];
    const whole = await fg.tasks.events(t.id);
    expect(whole.events.map((e) => e.type)).toEqual(types);
    expect(whole.next).toBeUndefined();
    expect(whole.events.every((e) => e.taskId === t.id && typeof e.at === 'number')).toBe(true);
    expect(whole.events.at(-1)?.data).toMatchObject({ state: 'SUCCEEDED', exitCode: 0, attempt: 1 });
    const first = await fg.tasks.events(t.id, { limit: 3 });
    expect(first.events).toEqual(whole.events.slice(0, 3));
    expect(first.next).toBe(whole.events[2]!.seq);
    expect(await fg.tasks.events(t.id, { after: first.next! })).toEqual({ events: whole.events.slice(3) });
    // Page by page, one event at a time, gives the same history.
    const all = [];
    for await (const e of fg.tasks.eventHistory(t.id, { pageSize: 1 })) all.push(e);
    expect(all).toEqual(whole.events);
    await expect(fg.tasks.events('t_nosuchtask')).rejects.toMatchObject({ code: 'NOT_FOUND', status: 404, message: 'task t_nosuchtask not found' });
    await expect(fg.tasks.events(t.id, { limit: 5000 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', status: 400, field: 'query.limit' });
  });

  it('keeps following across a server restart, without repeating output', async () => {
    const fg = clientOf(pool);
    const [during, wrote, after] = [unique('during'), unique('wrote'), unique('after')];
    const t = await fg.tasks.submit({ command: `echo before; ${awaitFile(pool, during)}; echo during; touch ${join(pool.dir, wrote)}; ${awaitFile(pool, after)}; echo after` });
    const got: string[] = [];
    const following = (async () => {
      for await (const c of fg.tasks.follow(t.id, { reconnectForMs: 10_000 })) got.push(c.data);
    })();
    await until(() => got.length === 1);
    await pool.stopServer();
    // The task writes while the server is down; the agent ships it once the server is back.
    touch(pool, during);
    await until(() => existsSync(join(pool.dir, wrote)), 30_000);
    await pool.startServer();
    await until(() => got.length === 2, 10_000);
    touch(pool, after);
    await following;
    expect(got).toEqual(['before\n', 'during\n', 'after\n']);
    expect((await fg.tasks.get(t.id)).state).toBe('SUCCEEDED');
  });
});

describe('admin.tenants', () => {
  it('creates a tenant with a default time limit, updates only what it is given, and its tasks get the limit', async () => {
    const fg = clientOf(bare);
    const name = unique('tl');
    expect(await fg.admin.tenants.create({ name, guarantee: 0.5, defaultTimeLimit: '10m' })).toMatchObject({ guaranteeMilli: 500, defaultTimeLimit: '10m', defaultTimeLimitMs: 600_000 });
    expect(await fg.admin.tenants.update(name, { defaultTimeLimit: 5400 })).toMatchObject({ guaranteeMilli: 500, defaultTimeLimit: '1h30m' });
    const member = clientOf(bare, (await fg.admin.tokens.create({ tenant: name, role: 'member' })).token);
    const [t] = await member.tasks.create({ command: 'true' }, { dryRun: true });
    expect(t?.spec?.timeLimitMs).toBe(5_400_000);
    expect(await fg.admin.tenants.update(name, { defaultTimeLimit: null, guarantee: 1 })).toMatchObject({ guaranteeMilli: 1000, defaultTimeLimit: null });
    await expect(fg.admin.tenants.update(name, { defaultTimeLimit: 'soon' })).rejects.toMatchObject({ status: 400, field: 'body.defaultTimeLimit' });
  });
});

describe('VirtualGPU', () => {
  it('creates a slice, submits into it, waits for all its tasks and deletes it', async () => {
    const fg = clientOf(pool);
    const vg = await VirtualGPU.create(20, 'tflops', { client: fg, name: 'mine' });
    expect(vg.view).toMatchObject({ name: 'mine', request: { count: 1, share: { kind: 'tflops', tflops: 20 } } });
    await until(async () => (await vg.refresh()).state === 'ACTIVE');
    expect(vg.view.placement).toMatchObject({ node: pool.node, gpus: [0] });
    const a = await vg.submit('echo a');
    const b = await vg.submit(['sh', '-c', 'exit 1']);
    const c = await vg.submit({ command: 'exit 2', name: 'c' });
    expect([a, b, c].map((t) => t.vgpuId)).toEqual([vg.id, vg.id, vg.id]);
    expect(a.spec.command).toEqual(['sh', '-c', 'echo a']);
    expect(c.name).toBe('c');
    const done = await vg.wait();
    expect(done.map((t) => [t.id, t.state, t.exitCode])).toEqual([
      [a.id, 'SUCCEEDED', 0],
      [b.id, 'FAILED', 1],
      [c.id, 'FAILED', 2],
    ]);
    // They ran inside the slice.
    expect(done.every((t) => t.placement?.vgpuId === vg.id)).toBe(true);
    await vg.delete();
    expect(vg.view.state).toBe('RELEASED');
  });

  it('takes the object form and refuses an empty one', async () => {
    const fg = clientOf(pool);
    const vg = await VirtualGPU.create({ gpu: 0.5, memory: '20GiB', client: fg });
    await until(async () => (await vg.refresh()).state === 'ACTIVE');
    expect(vg.view.placement).toMatchObject({ gpuMilli: 500, memoryMiB: 20 * 1024 });
    await vg.delete();
    await expect(VirtualGPU.create({ client: fg })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});

async function until(cond: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

