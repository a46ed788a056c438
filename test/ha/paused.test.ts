// Issue 10 item 3: a leader that is paused (SIGSTOP: a long GC, a frozen VM) loses the lock to
// Postgres's idle timeout, another server takes over, and when the old one resumes it notices
// and stops acting: it becomes a follower, and whatever it had under way is refused by the
// database (its store is fenced with the old epoch). Tasks run once.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FastGPU } from '../../src/sdk/index.js';
import { useTestPostgres, type TestPostgres } from '../../src/store/postgres/testing.js';
import { requireBuild, until, World } from '../e2e/harness.js';
import { HaCluster } from './cluster.js';

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

describe('a paused leader', () => {
  it('is replaced while paused, and on resuming becomes a follower without acting again', async () => {
    const schema = pgt.freshSchema();
    const ha = new HaCluster(world, `${pgt.url}?schema=${schema}`, pgt.url, schema);
    try {
      await ha.startServer();
      await ha.startServer();
      const token = readFileSync(join(world.dataDir, 'admin.token'), 'utf8').trim();
      await ha.startAgent('paused-a', '1xH100', token);
      const fg = ha.client(token);
      const runs = join(world.home, 'runs.log');
      const spec = (name: string) => ({ name, command: ['sh', '-c', `echo "$FASTGPU_TASK_ID" >> ${runs}; sleep 0.5`], resources: { gpu: 0.25 } });
      const ids = new Set<string>();
      for (let i = 0; i < 40; i++) ids.add((await fg.tasks.submit(spec(`p-${i}`))).id);
      const old = await ha.leader();
      const d = ha.servers.get(old.port)!;
      const stoppedAt = Date.now();
      d.child.kill('SIGSTOP');
      // The other server takes over once Postgres ends the silent leader's session (4 s idle timeout).
      const next = await until('a new leader', async () => {
        const other = [...ha.servers.keys()].find((p) => p !== old.port)!;
        const h = await ha.health(`http://127.0.0.1:${other}`);
        return h?.role === 'leader' && (h.epoch ?? 0) > old.epoch ? h : undefined;
      }, 60_000, 50);
      const tookOverMs = Date.now() - stoppedAt;
      // Meanwhile, through the server that answers (a paused one accepts connections and says
      // nothing: a client's write times out there rather than risk being done twice).
      const other = new FastGPU({ url: ha.urls.find((u) => u !== old.url)!, token, env: {} });
      for (let i = 0; i < 20; i++) ids.add((await other.tasks.submit(spec(`q-${i}`))).id);
      d.child.kill('SIGCONT');
      // Resumed, the old leader learns it lost and follows the new one.
      const resumed = await until('the old leader to follow', async () => {
        const h = await ha.health(old.url);
        return h?.role === 'follower' && h.epoch === next.epoch ? h : undefined;
      }, 60_000, 50).catch((e: unknown) => {
        throw new Error(`${String(e)}; its output:\n${d.output}`);
      });
      expect(resumed.epoch).toBe(next.epoch);
      await until('every task to finish', async () => {
        const s = await ha.states();
        return (s.PENDING ?? 0) + (s.SCHEDULED ?? 0) + (s.RUNNING ?? 0) === 0 ? s : undefined;
      }, 120_000, 200);
      const all = await fg.tasks.list({ all: true });
      expect(all.filter((t) => ids.has(t.id)).map((t) => t.state)).toEqual([...ids].map(() => 'SUCCEEDED'));
      const lines = readFileSync(runs, 'utf8').split('\n').filter(Boolean);
      expect(lines.length).toBe(new Set(lines).size);
      expect(new Set(lines)).toEqual(ids);
      console.log(`paused leader: replaced ${tookOverMs} ms after SIGSTOP (idle timeout 4 s); resumed as a follower of epoch ${resumed.epoch}`);
      expect(d.output).toContain('leadership lost');
    } finally {
      await ha.close();
    }
  }, 300_000);
});
