// While a pool fails over, its servers (or a load balancer in front) answer 503, 502 or 504 for
// a few seconds. The client asks again within its budget where that cannot do a thing twice:
// any 503 (FastGPU's means nothing was done), and a 502/504 for reads and keyed submits. A real
// HTTP server here answers what each case needs, and counts what it was asked.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { FastGPU } from './client.js';

/** Answers queued per request: [status, Retry-After or null]; then 200/201 with a body. */
let script: [number, string | null][] = [];
const seen: { method: string; url: string; key: string | undefined }[] = [];
let server: http.Server;
let url: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', key: req.headers['idempotency-key'] as string | undefined });
    req.resume();
    req.on('end', () => {
      const next = script.shift();
      if (next) {
        const [status, after] = next;
        res.writeHead(status, { 'content-type': 'application/json', ...(after !== null ? { 'retry-after': after } : {}) });
        return res.end(JSON.stringify({ error: { code: status === 503 ? 'UNAVAILABLE' : 'INTERNAL', message: `scripted ${status}` } }));
      }
      res.writeHead(req.method === 'POST' ? 201 : 200, { 'content-type': 'application/json' });
      if (req.url?.startsWith('/v1/tasks')) return res.end(JSON.stringify({ tasks: [{ id: 't_1' }] }));
      if (req.url?.includes('/drain')) return res.end(JSON.stringify({ node: { id: 'n' }, evicted: 0 }));
      res.end(JSON.stringify({ nodes: [] }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
beforeEach(() => {
  script = [];
  seen.length = 0;
});

const client = (failoverWaitMs?: number): FastGPU => new FastGPU({ url, token: 't', env: {}, ...(failoverWaitMs !== undefined ? { failoverWaitMs } : {}) });

it('asks again after a 503, following Retry-After, until the pool answers', async () => {
  script = [
    [503, '0'],
    [503, '0'],
  ];
  await expect(client().nodes()).resolves.toEqual([]);
  expect(seen.map((s) => s.url)).toEqual(['/v1/nodes', '/v1/nodes', '/v1/nodes']);
});

it("sends a keyed submit again after a proxy's 502 or 504, with the same key", async () => {
  script = [
    [502, null],
    [504, '0'],
  ];
  await expect(client().tasks.submit({ command: 'x' })).resolves.toMatchObject({ id: 't_1' });
  expect(seen).toHaveLength(3);
  expect(new Set(seen.map((s) => s.key)).size).toBe(1);
  expect(seen[0]!.key).toMatch(/[0-9a-f-]{36}/);
});

it('does not send an unkeyed write again after a 502: it may have been done', async () => {
  script = [[502, '0']];
  await expect(client().drainNode('n')).rejects.toMatchObject({ status: 502 });
  expect(seen).toHaveLength(1);
});

it('answers the first 503 with failoverWaitMs 0, and the last one once the budget is spent', async () => {
  script = [[503, '0']];
  await expect(client(0).nodes()).rejects.toMatchObject({ code: 'UNAVAILABLE', status: 503 });
  expect(seen).toHaveLength(1);
  seen.length = 0;
  // Retry-After 1 s against a 100 ms budget: nothing is waited for that cannot fit in it.
  script = [
    [503, '1'],
    [503, '1'],
  ];
  await expect(client(100).nodes()).rejects.toMatchObject({ code: 'UNAVAILABLE', message: 'scripted 503' });
  expect(seen).toHaveLength(1);
});
