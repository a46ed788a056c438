import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEntry } from '../../core/pricing/ledger.js';
import type { PricedUsage } from '../../core/pricing/types.js';
import { fixtureBook, fixturePromo } from '../conformance-billing.js';
import { fixtureNode, fixtureTask } from '../conformance.js';
import { H0, twoDays } from '../conformance-samples.js';
import type { SampleSeries, Store } from '../port.js';
import { HOUR_MS } from '../sample-tiers.js';
import { SqliteStore } from '../sqlite/store.js';
import { copySqliteToPostgres, TABLE_COPIES } from './import-sqlite.js';
import { PgStore } from './store.js';
import { useTestPostgres, type TestPostgres } from './testing.js';

let pgt: TestPostgres;
const dir = mkdtempSync(join(tmpdir(), 'fastgpu-copy-'));
beforeAll(async () => {
  pgt = await useTestPostgres();
}, 120_000);
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await pgt?.stop();
}, 60_000);

const T0 = Date.UTC(2025, 2, 1);
let files = 0;

/** A one-box pool with something in every table the port writes. */
async function fillPool(s: Store): Promise<void> {
  await s.setMeta('cluster', 'c-✓');
  const dsChunk = { hash: 'c'.repeat(64), size: 3 };
  const ds = { tenant: 'acme', name: 'imgs', bytes: 3, fileCount: 1, createdAt: T0, manifest: { files: [{ path: 'a/b.bin', size: 3, executable: true, chunks: [dsChunk] }] }, chunks: [dsChunk.hash] };
  await s.insertDataset(ds);
  await s.insertDataset(ds);
  await s.deleteDataset('acme', 'imgs', 1);
  await s.setDatasetQuota('acme', 2 ** 40);
  await s.upsertNode(fixtureNode('n1'));
  await s.upsertNode({ ...fixtureNode('n2', 'node-two', T0 + 5), state: 'DRAINING' });
  const done = { ...fixtureTask('done', { nodeId: 'n1', state: 'SUCCEEDED', createdAt: T0 }), finishedAt: T0 + 10 };
  const old = { ...fixtureTask('old', { nodeId: 'n1', state: 'FAILED', createdAt: T0 - 5 }), finishedAt: T0 - 1 };
  await s.insertTasks([
    done,
    old,
    fixtureTask('run', { nodeId: 'n2', state: 'RUNNING', createdAt: T0 + 1, gangId: 'g', vgpuId: 'vg1', tenant: 'acme' }),
    fixtureTask('wait', { createdAt: T0 + 2, tenant: 'acme', name: '100%_done' }),
  ]);
  for (const id of ['done', 'old', 'run']) {
    await s.upsertAttempt({ taskId: id, attempt: 1, nodeId: 'n1', placement: fixtureTask(id, { nodeId: 'n1' }).placement!, scheduledAt: T0, startedAt: T0 + 1, endedAt: null, outcome: null, exitCode: null });
  }
  const chunk = (taskId: string, seq: number, data: string) => ({ taskId, attempt: 1, stream: seq % 2 ? ('stderr' as const) : ('stdout' as const), seq, at: T0 + seq, data });
  await s.appendLogs([chunk('old', 0, 'gone soon'), chunk('done', 0, 'héllo\n'), chunk('done', 1, 'a\u0000b'), chunk('run', 0, 'x'.repeat(70_000))]);
  // Retention deletes old's logs: positions and the pruned mark must carry over as they are.
  expect((await s.pruneLogs(T0, T0 + 99)).tasks).toBe(1);
  await s.appendLogs([chunk('run', 1, 'after the gap')]);
  await s.commitBatch({
    events: [
      { at: T0, type: 'task.submitted', taskId: 'run', data: { by: 'me' } },
      { at: T0 + 1, type: 'node.registered', nodeId: 'n1', data: {} },
      { at: T0 + 2, type: 'vgpu.created', vgpuId: 'vg1', data: { n: [1, 'two'] } },
    ],
  });
  await s.commitBatch({
    newTasks: [fixtureTask('keyed', { createdAt: T0 + 3 })],
    idempotencyKeys: [{ scope: 'k1', key: 'retry-✓', requestHash: 'f'.repeat(64), taskIds: ['keyed'], createdAt: T0, expiresAt: T0 + 86_400_000 }],
  });
  const lostTask = { ...fixtureTask('lost-one', { nodeId: 'n1' }), state: 'PENDING' as const, reason: 'NodeLost' as const, reasonMessage: 'its node ✓ was lost' };
  await s.commitBatch({ lostAttempts: { put: [{ taskId: 'lost-one', attempt: 2, nodeId: 'n1', at: T0, task: lostTask, holdUntil: T0 + 8000, awaited: true }] } });
  await s.insertReservation({
    id: 'vg1',
    name: 'vg-one',
    tenant: 'acme',
    request: { count: 1, share: { kind: 'tflops', tflops: 20 } },
    state: 'ACTIVE',
    reason: null,
    reasonMessage: null,
    placement: null,
    createdAt: T0,
    version: 3,
  } as never);
  await s.insertToken({ id: 'k1', hash: 'h1', tenant: 'acme', role: 'member', name: 'ci', createdAt: T0, revokedAt: null });
  await s.insertToken({ id: 'k2', hash: 'h2', tenant: 'default', role: 'metrics', name: 'prom', createdAt: T0 + 1, revokedAt: T0 + 9 });
  await s.upsertTenant({ name: 'acme', guaranteeMilli: 1500, limitMilli: 4000, weight: 2.5, budget: 2n ** 62n + 3n, createdAt: T0, defaultTimeLimitMs: 5_400_000 });
  await s.upsertTenant({ name: 'free', guaranteeMilli: 0, limitMilli: null, weight: 1, budget: null, createdAt: T0 + 1 });
  await s.setPriceBook(fixtureBook());
  await s.insertPromotion(fixturePromo());
  await s.insertPromotion(fixturePromo({ name: 'later', from: '2025-04-01T00:00Z', to: '2025-05-01T00:00Z' }));
  const entry = openEntry({ tenant: 'acme', taskId: 'run', attempt: 1, gpuModel: 'H100-80GB', gpuMilli: 500, gpuCount: 1, cpuMilli: 1000, memoryMiB: 1024 }, T0);
  const charged = 2n ** 60n;
  const settled = { ...entry, settledTo: T0 + 1000, chargedAmount: charged, listAmount: charged + 5n, discountAmount: 5n };
  const usage: PricedUsage = {
    segment: { tenant: 'acme', taskId: 'run', attempt: 1, gpuModel: 'H100-80GB', gpuMilli: 500, gpuCount: 1, from: T0, to: T0 + 1000, anchor: T0 },
    gpuModel: 'H100-80GB',
    unitPrice: 1n,
    lines: [{ from: T0, to: T0 + 1000, seconds: 1, listAmount: charged + 5n, discountAmount: 5n, chargedAmount: charged, promotion: 'night' }],
    listAmount: charged + 5n,
    discountAmount: 5n,
    chargedAmount: charged,
    promoSpent: new Map([['night', 5n]]),
  };
  expect(await s.settleLedger({ writes: [{ entry: settled, expectedSettledTo: null }], priced: [usage], promoSpent: new Map([['night', 5n]]) })).toEqual([]);
  await s.openLedgerEntry(openEntry({ tenant: 'free', taskId: 'done', attempt: 1, gpuModel: null, gpuMilli: 0, gpuCount: 0, cpuMilli: 1, memoryMiB: 1 }, T0));
  // A day of samples, compacted into minutes and hours, the oldest raw ones pruned.
  await s.appendSamples(twoDays().filter((x) => x.at < H0 + 6 * HOUR_MS));
  while ((await s.compactSamples(H0 + 5 * HOUR_MS, { maxMinutes: 600, maxHours: 10 })).more);
  expect(await s.pruneSamples('raw', H0 + HOUR_MS)).toBeGreaterThan(0);
  const sw = s.sweeps();
  await sw.insertSweep({ id: 'sw1', tenant: 'acme', name: 'lr', state: 'RUNNING', createdAt: T0, finishedAt: null, input: { command: 'x', trials: 1, metric: 'loss' }, nextTrial: 1, message: null, version: 2 });
  await sw.putTrials([{ sweepId: 'sw1', index: 0, taskId: 'run', params: { lr: 0.5 }, state: 'RUNNING', createdAt: T0, finishedAt: null, message: null }]);
  await sw.appendMetrics([{ taskId: 'run', seq: 0, at: T0, step: 1.5, values: { loss: 0.25 } }], 100);
  await s.insertJoinToken({ id: 'jt_1', hash: 'a'.repeat(64), labels: { rack: 'r1' }, maxUses: 2, uses: 1, createdAt: T0, expiresAt: T0 + HOUR_MS, revokedAt: null });
  await s.insertNodeCredential({ id: 'nc_1', hash: 'b'.repeat(64), node: 'box', joinTokenId: 'jt_1', createdAt: T0, expiresAt: T0 + HOUR_MS, revokedAt: null });
  await s.saveLentNode({ provider: 'slurm', providerId: '4242', nodeName: 'lent-✓', shape: '4xA100-80GB', hourlyMicros: 12_340_000n, requestedAt: T0, joinedAt: T0 + 5000, drainingAt: T0 + HOUR_MS, releasedAt: T0 + HOUR_MS + 60_000, releaseReason: 'idle: drained and empty' });
}

const r9 = (x: number): number => Math.round(x * 1e9) / 1e9;
const rounded = (x: SampleSeries) => ({
  ...x,
  points: x.points.map((p) => ({ ...p, utilPercent: r9(p.utilPercent), allocatedMilli: r9(p.allocatedMilli) })),
  buckets: x.buckets?.map((b) => ({ ...b, utilPercent: r9(b.utilPercent) })),
});

/** Everything the port can read back. */
async function snapshot(s: Store) {
  const tasks = await s.listTasks({ limit: 10_000 });
  const perTask = await Promise.all(
    tasks.map(async (t) => ({ id: t.id, attempts: await s.listAttempts(t.id), logs: await s.readLogs(t.id), pruned: await s.logsPrunedAt(t.id), events: await s.listTaskEvents(t.id) })),
  );
  return {
    meta: await s.getMeta('cluster'),
    idempotencyKey: await s.getIdempotencyKey('k1', 'retry-✓', T0 + 1),
    lostAttempts: await s.listLostAttempts(),
    nodes: await s.listNodes(),
    byName: await s.getNodeByName('node-two'),
    tasks,
    live: await s.listLiveTasks(),
    counts: [await s.countTasks(), await s.countTasks({ states: ['RUNNING'], tenant: 'acme' })],
    filtered: await s.listTasks({ name: '%', tenant: 'acme' }),
    perTask,
    highWater: await s.logHighWater('run', 1),
    events: await s.listEvents(0),
    reservations: await s.listReservations({ includeReleased: true }),
    tokens: await s.listTokens(),
    byHash: await s.findTokenByHash('h2'),
    tenants: await s.listTenants(),
    book: await s.getPriceBook(),
    promotions: await s.listPromotions(),
    ledger: await s.listLedgerEntries(),
    lines: await s.listPricedUsage(),
    spend: await s.spendByTenant(),
    spendSince: await s.spendByTenantSince(T0 + 500),
    promoSpent: await s.getPromoSpent(),
    datasets: await s.listDatasets(),
    dataset: await s.getDataset('acme', 'imgs'),
    datasetQuota: await s.getDatasetQuota('acme'),
    raw: await s.listSamples(0, H0 + 99 * HOUR_MS),
    minutes: await s.listSampleRollups('minute', 0, H0 + 99 * HOUR_MS),
    hours: await s.listSampleRollups('hour', 0, H0 + 99 * HOUR_MS),
    // Reads that sum in the database: equal up to the order of floating-point additions.
    series: rounded(await s.readSampleSeries({ from: H0 - HOUR_MS, to: H0 + 6 * HOUR_MS, bucketMs: 15 * 60_000 })),
    pool: rounded(await s.readSampleSeries({ from: H0, to: H0 + 6 * HOUR_MS, bucketMs: HOUR_MS, detail: 'pool' })),
    sweeps: await s.sweeps().listSweeps(),
    trials: await s.sweeps().listTrials('sw1'),
    metrics: await s.sweeps().listMetrics(['run']),
    joinTokens: await s.listJoinTokens(),
    credential: await s.findNodeCredentialByHash('b'.repeat(64)),
    lent: await s.listLentNodes(),
  };
}

async function sqlitePool(): Promise<{ path: string; store: SqliteStore }> {
  const path = join(dir, `pool${files++}.db`);
  const store = new SqliteStore({ path });
  await store.init();
  await fillPool(store);
  return { path, store };
}

describe('fastgpu admin migrate: SQLite to Postgres', () => {
  it('copies every table with nothing lost, and numbers continue where SQLite stopped', async () => {
    const { path, store: src } = await sqlitePool();
    const before = await snapshot(src);
    await src.close();
    const schema = pgt.freshSchema();
    const report = await copySqliteToPostgres({ from: { path }, to: { url: pgt.url, schema } });
    expect(report.tables.map((t) => t.table)).toEqual(TABLE_COPIES.map((t) => t.table));
    expect(report.tables.filter((t) => t.rows === 0).map((t) => t.table)).toEqual([]);

    const dst = new PgStore({ url: pgt.url, schema });
    await dst.init();
    expect(await snapshot(dst)).toEqual(before);
    // Event seqs and log positions go on from SQLite's, never reusing one.
    const lastSeq = before.events[before.events.length - 1]!.seq;
    const [next] = await dst.appendEvents([{ at: T0 + 50, type: 'task.started', taskId: 'run', data: {} }]);
    expect(next!.seq).toBe(lastSeq + 1);
    const maxPos = Math.max(...before.perTask.flatMap((t) => t.logs.chunks.map((c) => c.pos)));
    await dst.appendLogs([{ taskId: 'wait', attempt: 1, stream: 'stdout', seq: 0, at: T0, data: 'new' }]);
    expect((await dst.readLogs('wait')).chunks[0]!.pos).toBe(maxPos + 1);
    // Dataset versions go on from SQLite's too (version 1 was removed there, 2 is the last).
    expect((await dst.insertDataset({ ...before.dataset!, chunks: [] })).version).toBe(3);
    await dst.close();
    await pgt.dropSchema(schema);
  });

  it('refuses a Postgres database that already holds data, and writes nothing', async () => {
    const { path, store: src } = await sqlitePool();
    await src.close();
    const schema = pgt.freshSchema();
    const dst = new PgStore({ url: pgt.url, schema });
    await dst.init();
    await dst.insertTasks([fixtureTask('mine')]);
    await expect(copySqliteToPostgres({ from: { path }, to: { url: pgt.url, schema } })).rejects.toThrow(
      'the Postgres database already holds FastGPU data (tasks); copy into an empty one',
    );
    expect((await dst.listTasks()).map((t) => t.id)).toEqual(['mine']);
    expect(await dst.listNodes()).toEqual([]);
    await dst.close();
    await pgt.dropSchema(schema);
  });

  it('refuses a SQLite database holding a table or column it does not know, naming them', async () => {
    const { path, store: src } = await sqlitePool();
    await src.close();
    const raw = new Database(path);
    raw.exec('CREATE TABLE leases (node_id TEXT); ALTER TABLE tasks ADD COLUMN fencing_token INTEGER');
    raw.close();
    const schema = pgt.freshSchema();
    await expect(copySqliteToPostgres({ from: { path }, to: { url: pgt.url, schema } })).rejects.toThrow(
      'the SQLite database holds data this copy does not know, which would be lost: table leases, column tasks.fencing_token',
    );
    await pgt.dropSchema(schema);
  });
});
