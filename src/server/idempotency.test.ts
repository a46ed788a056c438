// Idempotent submit (issue 9 §5): a retried submit with the same Idempotency-Key makes no new
// task and answers the first one's; another body with the same key is a 409; keys are per token
// and last 24 h; the SDK sends one with every submit.
import http from 'node:http';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { FastGPU } from '../sdk/index.js';
import { IDEMPOTENCY_TTL_MS } from './idempotency.js';
import { makeHarness, type Harness } from './testing.js';

let h: Harness;
beforeEach(async () => {
  h = await makeHarness();
});
afterEach(async () => {
  await h.close();
});

const spec = { command: ['true'], resources: { gpu: 0 }, gang: 2 };

it('the same key and body make the tasks once; another body is a 409; another token has its own keys', async () => {
  const key = { 'idempotency-key': 'retry-me-1' };
  const first = await h.req('POST', '/v1/tasks', spec, key);
  expect(first.status).toBe(201);
  const again = await h.req('POST', '/v1/tasks', spec, key);
  expect(again.status).toBe(201);
  expect(again.headers['idempotent-replayed']).toBe('true');
  expect(again.body.tasks.map((t: { id: string }) => t.id)).toEqual(first.body.tasks.map((t: { id: string }) => t.id));
  expect(await h.store.countTasks()).toBe(2);

  const other = await h.req('POST', '/v1/tasks', { ...spec, name: 'different' }, key);
  expect(other.status).toBe(409);
  expect(other.body.error.message).toMatch(/idempotency-key "retry-me-1" was used with a different request/);

  const member = (await h.req('POST', '/v1/admin/tokens', { tenant: 'default', role: 'member' })).body.token as string;
  expect((await h.req('POST', '/v1/tasks', spec, { ...key, authorization: `Bearer ${member}` })).status).toBe(201);
  expect(await h.store.countTasks()).toBe(4);

  expect((await h.req('POST', '/v1/tasks', spec, { 'idempotency-key': '' })).status).toBe(400);
  // After 24 h the key is forgotten.
  h.clock.advance(IDEMPOTENCY_TTL_MS + 1);
  expect((await h.req('POST', '/v1/tasks', spec, key)).body.tasks[0].id).not.toBe(first.body.tasks[0].id);
  const doc = (await h.req('GET', '/v1/openapi.json')).body;
  expect(JSON.stringify(doc.paths['/v1/tasks'].post.parameters)).toMatch(/Idempotency-Key/);
});

it('the SDK sends a key, and its retry after a dropped answer creates the task once', async () => {
  await h.server.app.listen({ host: '127.0.0.1', port: 0 });
  const addr = h.server.app.server.address();
  const target = typeof addr === 'object' && addr ? addr.port : 0;
  // A proxy that forwards the first submit and drops its answer (the connection is cut).
  let submits = 0;
  const keys: string[] = [];
  const proxy = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'POST') {
        submits++;
        keys.push(String(req.headers['idempotency-key']));
      }
      const up = http.request({ host: '127.0.0.1', port: target, path: req.url, method: req.method, headers: req.headers }, (ur) => {
        if (req.method === 'POST' && submits === 1) {
          ur.resume();
          ur.on('end', () => req.socket.destroy());
          return;
        }
        res.writeHead(ur.statusCode ?? 500, ur.headers);
        ur.pipe(res);
      });
      up.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const pa = proxy.address();
  try {
    const fg = new FastGPU({ url: `http://127.0.0.1:${typeof pa === 'object' && pa ? pa.port : 0}`, token: h.token });
    const t = await fg.tasks.submit({ command: ['true'] });
    expect(submits).toBe(2);
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(keys[1]).toBe(keys[0]);
    expect(await h.store.countTasks()).toBe(1);
    expect((await h.store.listTasks({ limit: 10 }))[0]!.id).toBe(t.id);
  } finally {
    proxy.closeAllConnections();
    await new Promise<void>((r) => proxy.close(() => r()));
  }
});

it('keys are kept in the store: after a server restart the same key answers the first tasks and makes none', async () => {
  const key = { 'idempotency-key': 'across-a-restart' };
  const first = await h.req('POST', '/v1/tasks', spec, key);
  expect(first.status).toBe(201);
  await h.restart();
  const again = await h.req('POST', '/v1/tasks', spec, key);
  expect(again.status).toBe(201);
  expect(again.headers['idempotent-replayed']).toBe('true');
  expect(again.body.tasks.map((t: { id: string }) => t.id)).toEqual(first.body.tasks.map((t: { id: string }) => t.id));
  expect(await h.store.countTasks()).toBe(2);
  expect((await h.req('POST', '/v1/tasks', { ...spec, gang: 3 }, key)).status).toBe(409);
  // Stored under the token's id, with the tasks the first request made.
  const scopes = (await h.store.listTokens()).map((t) => t.id);
  const stored = await Promise.all(scopes.map((id) => h.store.getIdempotencyKey(id, 'across-a-restart', h.clock.now())));
  expect(stored.filter((r) => r !== null).map((r) => r!.taskIds)).toEqual([first.body.tasks.map((t: { id: string }) => t.id)]);
});

it('the same key sent twice at once makes the tasks once', async () => {
  const key = { 'idempotency-key': 'twice-at-once' };
  const [a, b] = await Promise.all([h.req('POST', '/v1/tasks', spec, key), h.req('POST', '/v1/tasks', spec, key)]);
  expect([a.status, b.status]).toEqual([201, 201]);
  expect(a.body.tasks.map((t: { id: string }) => t.id)).toEqual(b.body.tasks.map((t: { id: string }) => t.id));
  expect(await h.store.countTasks()).toBe(2);
});

it('a submit the store could not take stores no key: the retry with the same key makes the tasks', async () => {
  const key = { 'idempotency-key': 'refused-first' };
  const commit = h.store.commitBatch.bind(h.store);
  // The write of its group fails (a group of one is not written again: its own retry would be the same).
  let fail = 1;
  h.store.commitBatch = async (b) => {
    if (fail > 0 && (b.newTasks?.length ?? 0) > 0) {
      fail--;
      throw new Error('disk I/O error');
    }
    return commit(b);
  };
  const bad = await h.req('POST', '/v1/tasks', spec, key);
  expect(bad.status).toBe(503);
  expect(await h.store.countTasks()).toBe(0);
  const good = await h.req('POST', '/v1/tasks', spec, key);
  expect(good.status).toBe(201);
  expect(good.headers['idempotent-replayed']).toBeUndefined();
  expect(await h.store.countTasks()).toBe(2);
});

it('a small submit writes its key without reading it first; a large one reads first, so its replay writes nothing', async () => {
  const reads: string[] = [];
  const writes: number[] = [];
  const get = h.store.getIdempotencyKey.bind(h.store);
  const commit = h.store.commitBatch.bind(h.store);
  h.store.getIdempotencyKey = async (scope, key, now) => (reads.push(key), get(scope, key, now));
  h.store.commitBatch = async (b) => {
    if ((b.idempotencyKeys?.length ?? 0) > 0) writes.push(b.newTasks?.length ?? 0);
    return commit(b);
  };
  // Small: one write, no read; its replay fails the write (CONFLICT, nothing stored) and is then answered from the store.
  const small = { 'idempotency-key': 'small-one' };
  const first = await h.req('POST', '/v1/tasks', spec, small);
  expect(reads).toEqual([]);
  expect(writes).toEqual([2]);
  const again = await h.req('POST', '/v1/tasks', spec, small);
  expect(again.headers['idempotent-replayed']).toBe('true');
  expect(again.body.tasks.map((t: { id: string }) => t.id)).toEqual(first.body.tasks.map((t: { id: string }) => t.id));
  expect(reads).toEqual(['small-one']);
  expect(await h.store.countTasks()).toBe(2);
  // Large (an array of 100): read first; the replay is answered by that read and writes nothing.
  reads.length = 0;
  writes.length = 0;
  const large = { 'idempotency-key': 'large-one' };
  const array = { command: ['true'], resources: { gpu: 0 }, array: '0-99' };
  const a1 = await h.req('POST', '/v1/tasks', array, large);
  expect(a1.status).toBe(201);
  const a2 = await h.req('POST', '/v1/tasks', array, large);
  expect(a2.status).toBe(201);
  expect(a2.headers['idempotent-replayed']).toBe('true');
  expect(reads).toEqual(['large-one', 'large-one']);
  expect(writes.reduce((n, x) => n + x, 0)).toBe(100);
  expect(await h.store.countTasks()).toBe(102);
});
