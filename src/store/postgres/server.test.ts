// The whole server on Postgres: a real server process part (startServer) over a real
// PostgreSQL, a real agent running real child processes on simulated GPUs; and the CLI's
// `admin migrate` moving a one-box pool there.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startAgent } from '../../agent/main.js';
import { cliHarness } from '../../cli/testing.js';
import { FastGPU } from '../../sdk/client.js';
import { startServer } from '../../server/main.js';
import { PgStore } from './store.js';
import { usePgSuite } from './suite-testing.js';

const suite = usePgSuite('fastgpu-pgserver-');
const { dir } = suite;

const quiet = (): void => {};
const withSchema = (url: string, schema: string): string => {
  const u = new URL(url);
  u.searchParams.set('schema', schema);
  return u.toString();
};

describe('fastgpu server --store postgres://…', () => {
  it('runs tasks end to end with everything stored in Postgres', async () => {
    const schema = suite.pg.freshSchema();
    const server = await startServer({ dataDir: join(dir, 'a'), port: 0, tickMs: 50, log: quiet, store: { kind: 'postgres', url: suite.pg.url, schema } });
    const agent = await startAgent({ serverUrl: server.url, token: server.adminToken, name: 'pg-node', stateDir: join(dir, 'agent'), gpus: '1xH100', cpuMilli: 8000, memoryMiB: 16_384, log: quiet });
    try {
      const fg = new FastGPU({ url: server.url, token: server.adminToken, env: {} });
      const t = await fg.tasks.submit({ name: 'on-pg', command: ['sh', '-c', 'echo hello from postgres; echo oops >&2'], resources: { gpu: 0.5 } });
      expect((await fg.tasks.wait(t.id, { timeoutMs: 60_000 })).state).toBe('SUCCEEDED');
      const logs: string[] = [];
      for await (const c of fg.tasks.history(t.id)) logs.push(c.data);
      expect(logs.join('')).toContain('hello from postgres');
      // The rows are in Postgres, read by a store of its own.
      const direct = new PgStore({ url: suite.pg.url, schema });
      await direct.init();
      expect((await direct.getTask(t.id))?.state).toBe('SUCCEEDED');
      expect((await direct.listTaskEvents(t.id)).map((e) => e.type)).toContain('task.finished');
      expect((await direct.listNodes()).map((n) => n.name)).toEqual(['pg-node']);
      await direct.close();
    } finally {
      await agent.stop();
      await server.close();
      await suite.pg.dropSchema(schema);
    }
  });

  it('several servers per database: the first leads, a second follows and forwards, and takes over when the first stops', async () => {
    const schema = suite.pg.freshSchema();
    const store = { kind: 'postgres' as const, url: suite.pg.url, schema };
    const first = await startServer({ dataDir: join(dir, 'one'), port: 0, log: quiet, store });
    const second = await startServer({ dataDir: join(dir, 'two'), port: 0, log: quiet, store });
    const health = async (url: string): Promise<unknown> => (await fetch(`${url}/healthz`)).json();
    expect(await health(first.url)).toMatchObject({ ok: true, role: 'leader', epoch: 1 });
    expect(await health(second.url)).toMatchObject({ ok: true, role: 'follower', epoch: 1, leader: first.url });
    // The follower answers the API (forwarded to the leader), with its own data dir's admin token.
    const viaSecond = new FastGPU({ url: second.url, token: second.adminToken, env: {} });
    const t = await viaSecond.tasks.submit({ name: 'through-the-follower', command: ['true'] });
    expect((await new FastGPU({ url: first.url, token: first.adminToken, env: {} }).tasks.get(t.id)).name).toBe('through-the-follower');
    // `fastgpu status` through either server: both servers, which leads, the epoch, the store.
    const status = await cliHarness({ FASTGPU_HOME: join(dir, 'home') }).run(['status', '--server', second.url, '--token', second.adminToken]);
    expect(status.stderr).toBe('');
    expect(status.stdout).toContain(`leader  ${first.url} (epoch 1`);
    expect(status.stdout).toContain(`store   PostgreSQL ${suite.pg.url} (schema ${schema})`);
    expect(status.stdout).toMatch(new RegExp(`${first.url.replace(/[.]/g, '\\.')}\\s+LEADER`));
    expect(status.stdout).toMatch(new RegExp(`\\*\\s+${second.url.replace(/[.]/g, '\\.')}\\s+FOLLOWER`));
    await first.close();
    // The follower takes over: the lock is free the moment the first server's session ends.
    for (;;) {
      const h = (await health(second.url)) as { role?: string };
      if (h.role === 'leader') break;
      await new Promise((r) => setImmediate(r));
    }
    expect(await health(second.url)).toMatchObject({ role: 'leader', epoch: 2 });
    const after = await viaSecond.request<{ leader: { url: string; epoch: number }; servers: { url: string; role: string }[] }>('GET', '/v1/cluster');
    expect(after.leader).toMatchObject({ url: second.url, epoch: 2 });
    expect((await viaSecond.tasks.get(t.id)).state).toBe('PENDING');
    await second.close();
    // `exclusive` still means one server alone.
    const only = await startServer({ dataDir: join(dir, 'one'), port: 0, log: quiet, store: { ...store, exclusive: true } });
    await expect(startServer({ dataDir: join(dir, 'two'), port: 0, log: quiet, store: { ...store, exclusive: true } })).rejects.toThrow(`another FastGPU server already uses ${suite.pg.url} (schema ${schema})`);
    await only.close();
    await suite.pg.dropSchema(schema);
  });

  it('refuses a store it cannot use with a usage error naming the flag or variable', async () => {
    const cli = cliHarness({ FASTGPU_HOME: join(dir, 'home') });
    const bad = await cli.run(['server', '--store', 'mysql://x/y', '--port', '0']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--store: "mysql://x/y" is not a store: use postgres://USER@HOST[:PORT]/DATABASE or sqlite:PATH');
    const noDb = await cliHarness({ FASTGPU_HOME: join(dir, 'home'), FASTGPU_STORE: 'postgres://u:pw@db' }).run(['server', '--port', '0']);
    expect(noDb.code).toBe(2);
    expect(noDb.stderr).toContain('FASTGPU_STORE: a postgres:// URL needs a database name');
    expect(noDb.stderr).not.toContain('pw');
  });
});

describe('fastgpu admin migrate', () => {
  it('moves a one-box pool into Postgres; a server started on it serves the same tasks, logs and token', async () => {
    const dataDir = join(dir, 'box');
    const box = await startServer({ dataDir, port: 0, tickMs: 50, log: quiet });
    const agent = await startAgent({ serverUrl: box.url, token: box.adminToken, name: 'box-node', stateDir: join(dir, 'agent'), gpus: '1xH100', cpuMilli: 8000, memoryMiB: 16_384, log: quiet });
    const fg = new FastGPU({ url: box.url, token: box.adminToken, env: {} });
    const done = await fg.tasks.submit({ name: 'before-the-move', command: ['sh', '-c', 'echo moved with me'] });
    expect((await fg.tasks.wait(done.id, { timeoutMs: 60_000 })).state).toBe('SUCCEEDED');
    const cancelled = await fg.tasks.submit({ name: 'cancelled', command: ['sleep', '60'], resources: { gpu: 1 } });
    await fg.tasks.cancel(cancelled.id);
    expect((await fg.tasks.wait(cancelled.id, { timeoutMs: 60_000 })).state).toBe('CANCELLED');
    const tasksBefore = await fg.tasks.list({ all: true });
    const eventsBefore = await fg.tasks.events(done.id);
    await agent.stop();
    await box.close();

    const schema = suite.pg.freshSchema();
    const to = withSchema(suite.pg.url, schema);
    const cli = cliHarness({}, dir);
    const wrongWay = await cli.run(['admin', 'migrate', '--from', to, '--to', `sqlite:${join(dataDir, 'fastgpu.db')}`]);
    expect(wrongWay.code).toBe(2);
    expect(wrongWay.stderr).toContain('--from: must be sqlite:PATH');
    const moved = await cli.run(['admin', 'migrate', '--from', 'sqlite:box/fastgpu.db', '--to', to]);
    expect(moved.stderr).toBe('');
    expect(moved.code).toBe(0);
    expect(moved.stdout).toMatch(/tasks\s+2\n/);
    expect(moved.stdout).toMatch(/copied \d+ rows; start servers with: fastgpu server --store/);
    // Twice is refused: the target is no longer empty.
    const again = await cli.run(['admin', 'migrate', '--from', 'sqlite:box/fastgpu.db', '--to', to]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already holds FastGPU data');

    // Same data dir (its admin token), now over Postgres.
    const server = await startServer({ dataDir, port: 0, tickMs: 50, log: quiet, store: { kind: 'postgres', url: suite.pg.url, schema } });
    try {
      const pgfg = new FastGPU({ url: server.url, token: server.adminToken, env: {} });
      expect(server.adminToken).toBe(box.adminToken);
      expect(await pgfg.tasks.list({ all: true })).toEqual(tasksBefore);
      expect(await pgfg.tasks.events(done.id)).toEqual(eventsBefore);
      const logs: string[] = [];
      for await (const c of pgfg.tasks.history(done.id)) logs.push(c.data);
      expect(logs.join('')).toBe('moved with me\n');
      expect((await pgfg.tasks.get(cancelled.id)).id).toBe(cancelled.id);
    } finally {
      await server.close();
      await suite.pg.dropSchema(schema);
    }
  });
});
