import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FastGPU } from './client.js';
import { readConfig, resolveConnection, writeConfig } from './config.js';
import { FastGpuApiError } from './errors.js';
import { FakeApi } from './fake.js';
import { VirtualGPU } from './vgpu.js';

let api: FakeApi;
let fg: FastGPU;
let home: string;

beforeEach(async () => {
  api = new FakeApi('tok');
  await api.listen();
  home = mkdtempSync(join(tmpdir(), 'fastgpu-sdk-'));
  fg = new FastGPU({ url: api.url, token: 'tok', env: { FASTGPU_HOME: home } });
});

afterEach(async () => {
  await api.close();
  rmSync(home, { recursive: true, force: true });
});

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
  });

  it('names a malformed server address', () => {
    expect(() => resolveConnection({ url: 'ftp://x', token: 't' }, {})).toThrow(/server: "ftp:\/\/x" must be an http/);
  });
});

describe('FastGPU client', () => {
  it('submits, lists, gets and cancels tasks with the bearer token', async () => {
    const t = await fg.tasks.submit({ command: ['echo', 'hi'], resources: { gpu: 0.5 } });
    expect(t.state).toBe('PENDING');
    expect(api.requests.at(-1)?.authorization).toBe('Bearer tok');
    expect((await fg.tasks.list({ state: ['PENDING'] })).map((x) => x.id)).toEqual([t.id]);
    const detail = await fg.tasks.get(t.id);
    expect(detail.history).toEqual([]);
    expect(detail.attempts).toBe(0);
    expect((await fg.tasks.cancel(t.id)).state).toBe('CANCELLED');
  });

  it('turns error bodies into FastGpuApiError with code, status and field', async () => {
    const err = await fg.tasks.submit({ command: 'x', bogus: 1 } as never).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FastGpuApiError);
    expect(err).toMatchObject({ code: 'INVALID_ARGUMENT', status: 400, field: 'bogus' });
    const t = await fg.tasks.submit({ command: 'x' });
    api.setState(t.id, 'SUCCEEDED', 0);
    await expect(fg.tasks.cancel(t.id)).rejects.toMatchObject({ code: 'CONFLICT', status: 409 });
    await expect(fg.tasks.get('nope')).rejects.toMatchObject({ code: 'NOT_FOUND', status: 404 });
    const bad = new FastGPU({ url: api.url, token: 'wrong' });
    await expect(bad.nodes()).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('says when the server cannot be reached', async () => {
    const url = api.url;
    await api.close();
    const dead = new FastGPU({ url, token: 'tok' });
    await expect(dead.nodes()).rejects.toMatchObject({ code: 'NETWORK', message: expect.stringContaining('cannot reach the FastGPU server') });
  });

  it('follows logs live until the task ends, and waits for the end', async () => {
    const t = await fg.tasks.submit({ command: 'x' });
    api.log(t.id, 'one\n');
    const got: string[] = [];
    const following = (async () => {
      for await (const s of fg.tasks.logs(t.id, { follow: true })) got.push(s);
    })();
    const waiting = fg.tasks.wait(t.id);
    await new Promise((r) => setTimeout(r, 50));
    api.log(t.id, 'two\n', 'stderr');
    api.setState(t.id, 'SUCCEEDED', 0);
    await following;
    expect(got).toEqual(['one\n', 'two\n']);
    expect((await waiting).exitCode).toBe(0);
    const all: string[] = [];
    for await (const c of fg.tasks.history(t.id)) all.push(`${c.stream}:${c.data}`);
    expect(all).toEqual(['stdout:one\n', 'stderr:two\n']);
  });

  it('keeps following across a server restart, without repeating output', async () => {
    const t = await fg.tasks.submit({ command: 'x' });
    api.log(t.id, 'before\n');
    const got: string[] = [];
    const following = (async () => {
      for await (const c of fg.tasks.follow(t.id, { reconnectForMs: 5_000 })) got.push(c.data);
    })();
    await until(() => got.length === 1);
    const port = Number(new URL(api.url).port);
    await api.close();
    api.log(t.id, 'during\n');
    await new Promise((r) => setTimeout(r, 400));
    await api.listen(port);
    api.log(t.id, 'after\n');
    api.setState(t.id, 'SUCCEEDED', 0);
    await following;
    expect(got).toEqual(['before\n', 'during\n', 'after\n']);
    expect(api.requests.filter((r) => r.path.endsWith('/logs')).at(-1)?.query.get('after')).toBe('1');
  });

  it('gives up following after the reconnect budget', async () => {
    const t = await fg.tasks.submit({ command: 'x' });
    await api.close();
    await expect(
      (async () => {
        for await (const _ of fg.tasks.follow(t.id, { reconnectForMs: 300 })) void _;
      })(),
    ).rejects.toMatchObject({ code: 'NETWORK', message: expect.stringMatching(/could not reconnect/) });
  });

  it('times out a wait', async () => {
    const t = await fg.tasks.submit({ command: 'x' });
    await expect(fg.tasks.wait(t.id, { timeoutMs: 100 })).rejects.toMatchObject({ code: 'TIMEOUT' });
  });
});

describe('VirtualGPU', () => {
  it('creates a slice, submits into it, waits for all its tasks and deletes it', async () => {
    const vg = await VirtualGPU.create(20, 'tflops', { client: fg, name: 'mine' });
    expect(api.requests.at(-1)?.body).toEqual({ tflops: 20, name: 'mine' });
    const a = await vg.submit('echo a');
    const b = await vg.submit(['echo', 'b']);
    const c = await vg.submit({ command: 'echo c', name: 'c' });
    expect([a, b, c].map((t) => t.vgpuId)).toEqual([vg.id, vg.id, vg.id]);
    expect(a.spec.command).toBe('echo a');
    const waiting = vg.wait();
    for (const [i, t] of [a, b, c].entries()) api.setState(t.id, 'SUCCEEDED', i);
    expect((await waiting).map((t) => t.exitCode)).toEqual([0, 1, 2]);
    await vg.delete();
    expect(vg.view.state).toBe('RELEASED');
  });

  it('takes the object form and refuses an empty one', async () => {
    await VirtualGPU.create({ gpu: 0.5, memory: '20GiB', client: fg });
    expect(api.requests.at(-1)?.body).toEqual({ gpu: 0.5, memory: '20GiB' });
    await expect(VirtualGPU.create({ client: fg })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
