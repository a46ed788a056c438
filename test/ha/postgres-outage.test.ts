// Issue 10 item 3, the database side: the servers' Postgres goes away under load and comes back,
// once stopped cleanly (every connection cut, the leader's lock session with them) and once killed
// as a crash would (`pg_ctl stop -m immediate`: recovery from the WAL on the next start). Each
// time a leader must lead again with a newer epoch, and across both: no acknowledged submit lost,
// no task run twice, the queue drained. The cluster is this file's own, since it is stopped, and
// durable (fsync and synchronous commit on), as a real deployment's is.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../../src/store/postgres/testing.js';
import { requireBuild, until, World } from '../e2e/harness.js';
import { HaCluster } from './cluster.js';

let cluster: Cluster;
const world = new World();
beforeAll(async () => {
  requireBuild();
  // Durable: with the tests' usual synchronous_commit=off, a crash loses the commits of the last
  // fraction of a second that PostgreSQL had already acknowledged (so would any server's submits).
  cluster = await startCluster({ durable: true });
}, 120_000);
afterAll(async () => {
  await world.cleanup();
  await cluster?.stop();
}, 60_000);

describe("the servers' Postgres stopped and restarted under load", () => {
  it('leads again with a newer epoch each time, loses no acknowledged submit and runs no task twice', async () => {
    const ha = new HaCluster(world, cluster.url, cluster.url, 'public');
    try {
      await ha.startServer();
      await ha.startServer();
      const token = readFileSync(join(world.dataDir, 'admin.token'), 'utf8').trim();
      await ha.startAgent('outage-a', '1xH100', token);
      const fg = ha.client(token);
      const runs = join(world.home, 'runs.log');
      // Each run appends its task id and attempt: a task run twice shows twice.
      const spec = (name: string) => ({ name, command: ['sh', '-c', `echo "$FASTGPU_TASK_ID $FASTGPU_ATTEMPT" >> ${runs}; sleep 1`], resources: { gpu: 0.25 } });
      const acked = new Set<string>();
      for (let i = 0; i < 40; i += 10) {
        for (const t of await Promise.all(Array.from({ length: 10 }, (_, j) => fg.tasks.submit(spec(`load-${i + j}`))))) acked.add(t.id);
      }
      // Submits go on throughout; while the database is down they are refused, and only
      // acknowledged ones count.
      let submitting = true;
      let refused = 0;
      const submitter = (async () => {
        for (let i = 0; submitting; i++) {
          try {
            acked.add((await fg.tasks.submit(spec(`during-${i}`))).id);
          } catch {
            refused++;
            await new Promise((r) => setTimeout(r, 100));
          }
        }
      })();

      const outages: string[] = [];
      for (const mode of ['fast', 'immediate'] as const) {
        const old = await ha.leader();
        const live = await ha.states();
        await cluster.halt(mode);
        const downAt = Date.now();
        // Every server notices: /healthz answers 503 (degraded) rather than claiming to lead.
        for (const url of ha.urls) await until(`${url} to report the database gone`, async () => ((await ha.health(url))?.ok === true ? undefined : true), 60_000, 50);
        const noticedMs = Date.now() - downAt;
        await cluster.resume();
        const upAt = Date.now();
        // (A leader not found yet throws, and `until` asks again.)
        const next = await until('a leader with a newer epoch', async () => {
          const l = await ha.leader(2_000);
          return l.epoch > old.epoch ? l : undefined;
        }, 120_000, 50);
        const placedAt = await until('a placement after the restart', () => ha.firstPlacementSince(upAt).then((x) => x ?? undefined), 120_000, 50);
        outages.push(
          `${mode}: ${(live.PENDING ?? 0) + (live.SCHEDULED ?? 0) + (live.RUNNING ?? 0)} live at the stop, noticed by every server in ${noticedMs} ms; ` +
            `after the start, epoch ${old.epoch} → ${next.epoch}, first placement ${placedAt - upAt} ms`,
        );
      }
      submitting = false;
      await submitter;
      // A bigger node joins so that the drain takes seconds, not a minute.
      await ha.startAgent('outage-b', '4xH100', token);

      await until('the queue to drain', async () => {
        const s = await ha.states();
        return (s.PENDING ?? 0) + (s.SCHEDULED ?? 0) + (s.RUNNING ?? 0) === 0 ? s : undefined;
      }, 240_000, 250);
      const { lost, notSucceeded, twice, unknown } = await ha.audit(acked, runs);
      console.log(`Postgres outages: acked ${acked.size} submits (${refused} refused while it was down); ${outages.join('; ')}`);
      const bad = [...new Set([...lost, ...twice, ...notSucceeded])];
      if (bad.length > 0) {
        const logs = mkdtempSync(join(tmpdir(), 'fastgpu-ha-outage-'));
        ha.saveLogs(logs);
        console.log(`Postgres outages: ${bad.length} task(s) broke a check; processes' output in ${logs}; the first 20:\n${await ha.story(bad.slice(0, 20))}`);
      }
      expect(lost).toEqual([]);
      expect(twice).toEqual([]);
      expect(notSucceeded).toEqual([]);
      expect(unknown).toEqual([]);
      // Submits were acknowledged after each outage, not only before the first.
      expect(acked.size).toBeGreaterThan(40);
    } finally {
      await ha.close();
    }
  }, 600_000);
});
