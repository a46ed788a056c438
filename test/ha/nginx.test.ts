// Issue 10: a real load balancer in front of several servers. nginx (from Debian) runs the
// documented config, deploy/nginx/fastgpu.conf, with only its addresses replaced, in front of two
// servers over one Postgres. The agent, the SDK client and a log follow know nginx's address
// alone. A follow streams through it (nothing is buffered until the task ends), and after the
// leader is killed -9 submits through nginx go on and every task runs once.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FastGPU } from '../../src/sdk/index.js';
import { freePort, useTestPostgres, type TestPostgres } from '../../src/store/postgres/testing.js';
import { Daemon, requireBuild, until, World } from '../e2e/harness.js';
import { HaCluster } from './cluster.js';

const CONF = fileURLToPath(new URL('../../deploy/nginx/fastgpu.conf', import.meta.url));

/** nginx's binary: Debian puts it in /usr/sbin, which a user's PATH may lack. */
function nginxBinary(): string {
  for (const p of ['/usr/sbin/nginx', '/usr/local/sbin/nginx']) if (existsSync(p)) return p;
  const which = spawnSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' });
  const found = which.stdout.trim();
  if (which.status === 0 && found !== '') return found;
  throw new Error('The load-balancer test runs nginx: install it (Debian/Ubuntu: apt-get install nginx), as scripts/test-deps.sh does.');
}

/**
 * The documented site config with its example addresses replaced by `servers` and `listen`,
 * inside a minimal main config whose files all live in `dir`. Fails when the documented file no
 * longer has the lines it replaces, so the test cannot drift from the docs.
 */
function nginxConfig(doc: string, dir: string, servers: readonly string[], listen: string): string {
  const upstream = /^( *)server 10\.0\.0\.\d+:7070( [^;]*);\n/gm;
  const lines = [...doc.matchAll(upstream)];
  if (lines.length === 0 || !/^ *listen 7070;$/m.test(doc)) throw new Error(`${CONF}: the example upstream servers or "listen 7070;" are gone; update this test with it`);
  const [indent, params] = [lines[0]![1]!, lines[0]![2]!];
  let site = doc.replace(upstream, '');
  site = site.replace(/^( *)upstream fastgpu \{\n/m, (m) => m + servers.map((s) => `${indent}server ${s}${params};\n`).join(''));
  site = site.replace(/^( *)listen 7070;$/m, `$1listen ${listen};`);
  writeFileSync(join(dir, 'fastgpu.conf'), site);
  const tmp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${join(dir, t)};`).join('\n');
  return [
    // As root the workers would drop to `nobody`, who cannot enter the test's private folders.
    ...(process.getuid?.() === 0 ? ['user root;'] : []),
    'worker_processes 1;',
    `error_log ${join(dir, 'error.log')} warn;`,
    `pid ${join(dir, 'nginx.pid')};`,
    'events { worker_connections 1024; }',
    'http {',
    '  access_log off;',
    tmp,
    `  include ${join(dir, 'fastgpu.conf')};`,
    '}',
    '',
  ].join('\n');
}

let pgt: TestPostgres;
const world = new World();
beforeAll(async () => {
  requireBuild();
  pgt = await useTestPostgres();
}, 120_000);
afterAll(async () => {
  await world.cleanup();
  await pgt?.stop();
}, 60_000);

describe('nginx in front of two servers, with the documented config', () => {
  it('streams a log follow, and carries submits and an agent through a leader killed -9', async () => {
    const bin = nginxBinary();
    const schema = pgt.freshSchema();
    const ha = new HaCluster(world, `${pgt.url}?schema=${schema}`, pgt.url, schema);
    let nginx: Daemon | null = null;
    try {
      await ha.startServer();
      await ha.startServer();
      const dir = join(world.home, 'nginx');
      mkdirSync(dir);
      const port = await freePort();
      writeFileSync(join(dir, 'nginx.conf'), nginxConfig(readFileSync(CONF, 'utf8'), dir, ha.urls.map((u) => new URL(u).host), `127.0.0.1:${port}`));
      const check = spawnSync(bin, ['-t', '-p', dir, '-c', join(dir, 'nginx.conf')], { encoding: 'utf8' });
      expect(check.status, check.stderr).toBe(0);
      nginx = new Daemon(spawn(bin, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'pipe', 'pipe'] }));
      const lb = `http://127.0.0.1:${port}`;
      await until('nginx to answer', async () => ((await ha.health(lb))?.ok === true ? true : undefined), 30_000, 50);

      const token = readFileSync(join(world.dataDir, 'admin.token'), 'utf8').trim();
      const agent = world.start(['agent', '--server', lb, '--token', token, '--name', 'lb-a', '--gpus', '1xH100', '--cpus', '16', '--memory', '16GiB', '--state-dir', join(world.home, 'lb-a')]);
      await agent.waitFor(/FastGPU agent joined/, 60_000);
      const fg = new FastGPU({ url: lb, token, env: {}, requestTimeoutMs: 10_000 });

      // A follow through nginx gets the first line while the task still runs: the task waits for
      // a file that the test writes only once that line has come through.
      const go = join(world.home, 'go');
      const waiter = await fg.tasks.submit({ name: 'streamed', command: ['sh', '-c', `echo first; while [ ! -f ${go} ]; do sleep 0.05; done; echo second`], resources: { gpu: 0.25 } });
      let text = '';
      for await (const chunk of fg.tasks.logs(waiter.id, { follow: true })) {
        text += chunk;
        if (text.includes('first') && !existsSync(go)) writeFileSync(go, '');
      }
      expect(text).toBe('first\nsecond\n');

      const runs = join(world.home, 'runs.log');
      const spec = (name: string) => ({ name, command: ['sh', '-c', `echo "$FASTGPU_TASK_ID $FASTGPU_ATTEMPT" >> ${runs}; sleep 0.3`], resources: { gpu: 0.25 } });
      const acked = new Set<string>();
      for (let i = 0; i < 12; i++) acked.add((await fg.tasks.submit(spec(`before-${i}`))).id);
      const old = await ha.leader();
      await ha.servers.get(old.port)!.kill9();
      // Through nginx alone: the first submits may find the dead server, and go on to the other.
      for (let i = 0; i < 12; i++) acked.add((await fg.tasks.submit(spec(`after-${i}`))).id);
      const next = await ha.leader(60_000);
      expect(next.epoch).toBeGreaterThan(old.epoch);
      await until('every task to succeed', async () => {
        const s = await ha.taskStates();
        return [...acked].every((id) => s.get(id) === 'SUCCEEDED') ? s : undefined;
      }, 120_000, 100);
      const ran = readFileSync(runs, 'utf8').split('\n').filter(Boolean).map((l) => l.split(' ')[0]!);
      expect(ran.length).toBe(new Set(ran).size);
      expect(new Set(ran)).toEqual(acked);
    } finally {
      // SIGTERM: nginx's master stops its workers and exits after them (a SIGKILL would leave
      // the workers running, and listening).
      if (nginx?.alive) {
        nginx.child.kill('SIGTERM');
        await nginx.exited;
      }
      await ha.close();
    }
  }, 300_000);
});
