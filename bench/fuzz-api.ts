// The API fuzz over a real socket (issue 9 §4): starts a server on a temp data dir, sends N
// generated requests (default 10,000; every route, every content type, deep nesting, alias
// bombs, huge amounts) with a few connections at once, and prints a table of statuses. Exits 1
// on any 5xx or failed request. Usage: node --import tsx bench/fuzz-api.ts [N] [seed]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FuzzGen, isStream, routesOf } from '../src/server/fuzz.js';
import { startServer } from '../src/server/main.js';

const total = Number(process.argv[2] ?? 10_000);
const seed = Number(process.argv[3] ?? 1);
const dir = mkdtempSync(join(tmpdir(), 'fastgpu-fuzz-'));
const server = await startServer({ dataDir: dir, port: 0, log: () => {} });
const auth = { authorization: `Bearer ${server.adminToken}` };
const call = async (method: string, path: string, body?: unknown): Promise<any> => {
  const res = await fetch(server.url + path, { method, headers: { ...auth, 'content-type': 'application/json' }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  return res.json();
};
const task = await call('POST', '/v1/tasks', { command: ['true'] });
const member = await call('POST', '/v1/admin/tokens', { tenant: 'default', role: 'member' });
const openapi = await call('GET', '/v1/openapi.json');
const gen = new FuzzGen({ routes: routesOf(openapi), adminToken: server.adminToken, otherTokens: [member.token], ids: [task.tasks[0].id, 'default', 'H100'] }, seed);

const byStatus = new Map<number, number>();
const byType = new Map<string, number>();
const fiveXX: string[] = [];
let failed = 0;
let sent = 0;
const started = performance.now();
const rss0 = process.memoryUsage().rss;
async function worker(): Promise<void> {
  while (sent < total) {
    const r = gen.next();
    if (isStream(r)) continue;
    sent++;
    try {
      const res = await fetch(server.url + r.url, { method: r.method, headers: r.headers, signal: AbortSignal.timeout(30_000), ...(r.body !== undefined ? { body: r.body } : {}) });
      await res.arrayBuffer();
      byStatus.set(res.status, (byStatus.get(res.status) ?? 0) + 1);
      byType.set(r.headers['content-type'] ?? 'none', (byType.get(r.headers['content-type'] ?? 'none') ?? 0) + 1);
      if (res.status >= 500) fiveXX.push(`${res.status} ${r.method} ${r.url} ${String(r.body).slice(0, 100)}`);
    } catch (e) {
      failed++;
      fiveXX.push(`failed ${r.method} ${r.url}: ${String(e)}`);
    }
  }
}
await Promise.all(Array.from({ length: 8 }, () => worker()));
const secs = (performance.now() - started) / 1000;
const health = await fetch(`${server.url}/healthz`);
console.log(`API fuzz: ${sent} requests, seed ${seed}, ${secs.toFixed(1)} s (${(sent / secs).toFixed(0)}/s), server RSS ${(rss0 / 2 ** 20).toFixed(0)} → ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`);
console.log('| status | count |\n| --- | --- |');
for (const [s, n] of [...byStatus].sort((a, b) => a[0] - b[0])) console.log(`| ${s} | ${n} |`);
console.log('| content type | count |\n| --- | --- |');
for (const [t, n] of [...byType].sort()) console.log(`| ${t} | ${n} |`);
const five = [...byStatus].filter(([s]) => s >= 500).reduce((a, [, n]) => a + n, 0);
console.log(`5xx: ${five}; failed requests: ${failed}; /healthz after: ${health.status}`);
for (const l of fiveXX.slice(0, 20)) console.log(l);
await server.close();
rmSync(dir, { recursive: true, force: true });
process.exit(five === 0 && failed === 0 && health.status === 200 ? 0 : 1);
