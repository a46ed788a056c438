// The fence on every table a leader writes (migrations 007 and 010): a store fenced with a deposed
// epoch has its writes refused by the database, on the tables that came after 007 too (meta,
// tokens, tenants, billing, idempotency keys, datasets, sweeps, join tokens, node credentials),
// and nothing of them lands. A guard on the schema keeps a table added later from slipping out of
// the fence unnoticed.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatasetManifest } from '../../core/data/dataset.js';
import { openEntry } from '../../core/pricing/ledger.js';
import { fixturePromo } from '../conformance-billing.js';
import { fixtureTask } from '../conformance.js';
import type { Store, TenantRecord, TokenRecord } from '../port.js';
import type { SweepRecord, TrialRecord } from '../sweeps.js';
import { PgLeadership } from './leader.js';
import { PgStore } from './store.js';
import { useTestPostgres, type TestPostgres } from './testing.js';

let pgt: TestPostgres;
beforeAll(async () => {
  pgt = await useTestPostgres();
}, 120_000);
afterAll(async () => pgt?.stop(), 60_000);

/**
 * Tables a deposed leader may still write, and why. Every other table must carry a fence
 * trigger: a new table either gets one in its migration or is named here with its reason.
 */
const UNFENCED: Record<string, string> = {
  schema_migrations: 'written under the migration lock by every server, unfenced',
  leadership: 'the election itself: a takeover writes it on the lock connection',
  replicas: 'every server’s heartbeat, follower or leader',
  counters: 'sequence numbers, only ever taken inside fenced writes (events) or for logs',
  log_chunks: 'what a task printed: shipped to any server, never a decision',
  sample_blocks: 'GPU utilisation history, written with fenced batches or compacted (idempotent)',
  sample_marks: 'compaction marks of the utilisation history (idempotent)',
};

const T0 = 1_700_000_000_000;
const h = (c: string): string => c.repeat(64);
const manifest: DatasetManifest = { files: [{ path: 'a.bin', size: 10, executable: false, chunks: [{ hash: h('a'), size: 10 }] }] };
const tenant: TenantRecord = { name: 'research', guaranteeMilli: 0, limitMilli: null, weight: 1, budget: null, createdAt: T0 };
const token: TokenRecord = { id: 'tok1', hash: 'h-tok1', tenant: 'default', role: 'member', name: 'x', createdAt: T0, revokedAt: null };
const sweep: SweepRecord = {
  id: 'sw1',
  tenant: 'default',
  name: 'lr',
  state: 'RUNNING',
  createdAt: T0,
  finishedAt: null,
  input: { command: 'train --lr {lr}', space: { lr: { loguniform: [1e-5, 0.1] } }, trials: 4, metric: 'loss' },
  nextTrial: 0,
  message: null,
  version: 1,
};
const trial: TrialRecord = { sweepId: 'sw1', index: 0, taskId: 't_sw1_0', params: { lr: 0.01 }, state: 'PENDING', createdAt: T0, finishedAt: null, message: null };
const ledgerEntry = openEntry({ tenant: 'default', taskId: 't1', attempt: 1, gpuModel: 'H100-80GB', gpuMilli: 500, gpuCount: 1, cpuMilli: 2000, memoryMiB: 4096 }, T0);

/** One write to each table the fence of 010 covers, through the store port, as a leader makes them. */
function writes(s: Store, tag: string): [string, () => Promise<unknown>][] {
  return [
    ['meta', () => s.setMeta(`node.credential.n-${tag}`, 'hash')],
    ['tokens', () => s.insertToken({ ...token, id: `tok-${tag}`, hash: `h-${tag}` })],
    ['tenants', () => s.upsertTenant({ ...tenant, name: `t-${tag}` })],
    ['promotions', () => s.insertPromotion(fixturePromo({ name: `p-${tag}` }))],
    ['ledger_entries', () => s.openLedgerEntry({ ...ledgerEntry, taskId: `t-${tag}` })],
    [
      'idempotency_keys',
      () => s.commitBatch({ idempotencyKeys: [{ scope: 'default', key: `k-${tag}`, requestHash: 'x', taskIds: [], createdAt: T0, expiresAt: T0 + 1 }] }),
    ],
    ['datasets', () => s.insertDataset({ tenant: 'default', name: `d-${tag}`, bytes: 10, fileCount: 1, createdAt: T0, manifest, chunks: [h('a')] })],
    ['dataset_quotas', () => s.setDatasetQuota(`q-${tag}`, 1000)],
    ['sweeps', () => s.sweeps().insertSweep({ ...sweep, id: `sw-${tag}` })],
    ['sweep_trials', () => s.sweeps().putTrials([{ ...trial, sweepId: `sw-${tag}`, taskId: `trial-${tag}` }])],
    ['task_metrics', () => s.sweeps().appendMetrics([{ taskId: `t-${tag}`, seq: 0, at: T0, step: 1, values: { loss: 1 } }], 100)],
    ['join_tokens', () => s.insertJoinToken({ id: `j-${tag}`, hash: `jh-${tag}`, labels: {}, maxUses: 1, uses: 0, createdAt: T0, expiresAt: T0 + 1000, revokedAt: null })],
    ['node_credentials', () => s.insertNodeCredential({ id: `c-${tag}`, hash: `ch-${tag}`, node: 'n1', joinTokenId: null, createdAt: T0, expiresAt: T0 + 1000, revokedAt: null })],
  ];
}

/** What landed of `writes(…, tag)`, read on an unfenced store. */
async function landed(s: Store, tag: string): Promise<string[]> {
  const out: string[] = [];
  if ((await s.getMeta(`node.credential.n-${tag}`)) !== null) out.push('meta');
  if ((await s.listTokens()).some((t) => t.id === `tok-${tag}`)) out.push('tokens');
  if (await s.getTenant(`t-${tag}`)) out.push('tenants');
  if (await s.getPromotion(`p-${tag}`)) out.push('promotions');
  if ((await s.listLedgerEntries({ taskId: `t-${tag}` })).length > 0) out.push('ledger_entries');
  if (await s.getIdempotencyKey('default', `k-${tag}`, T0)) out.push('idempotency_keys');
  if (await s.getDataset('default', `d-${tag}`)) out.push('datasets');
  if ((await s.getDatasetQuota(`q-${tag}`)) !== null) out.push('dataset_quotas');
  if (await s.sweeps().getSweep(`sw-${tag}`)) out.push('sweeps');
  if ((await s.sweeps().listTrials(`sw-${tag}`)).length > 0) out.push('sweep_trials');
  if ((await s.sweeps().countMetrics(`t-${tag}`)) > 0) out.push('task_metrics');
  if ((await s.listJoinTokens()).some((j) => j.id === `j-${tag}`)) out.push('join_tokens');
  if (await s.findNodeCredentialByHash(`ch-${tag}`)) out.push('node_credentials');
  return out;
}

describe('the fence on the tables after 007', () => {
  it('refuses every write of a deposed leader in the database, and lets the current leader and unfenced stores write', async () => {
    const schema = pgt.freshSchema();
    const plain = new PgStore({ url: pgt.url, schema });
    await plain.init();
    const a = new PgLeadership({ url: pgt.url, schema, id: 'a' });
    const b = new PgLeadership({ url: pgt.url, schema, id: 'b' });
    expect(await a.tryLead(1)).toBe(1);
    const storeA = new PgStore({ url: pgt.url, schema, fenceEpoch: 1 });
    await storeA.init();
    // While A leads, its writes land.
    for (const [, w] of writes(storeA, 'lead')) await w();
    const all = writes(storeA, 'x').map(([t]) => t);
    expect(await landed(plain, 'lead')).toEqual(all);

    await a.resign();
    expect(await b.tryLead(2)).toBe(2);
    // A's store still carries epoch 1: each of these writes is refused, naming the fence.
    for (const [table, w] of writes(storeA, 'late')) {
      await expect(w(), table).rejects.toMatchObject({ message: expect.stringContaining("fenced: epoch 1 is not the leader's (now 2)") as unknown });
    }
    // …and so is a join token's redemption (an UPDATE that counts a use) and a quota's removal.
    await expect(storeA.redeemJoinToken('jh-lead', T0)).rejects.toMatchObject({ message: expect.stringContaining('fenced') as unknown });
    await expect(storeA.setDatasetQuota('q-lead', null)).rejects.toMatchObject({ message: expect.stringContaining('fenced') as unknown });
    expect(await landed(plain, 'late')).toEqual([]);
    expect((await plain.listJoinTokens()).find((j) => j.id === 'j-lead')?.uses).toBe(0);
    expect(await plain.getDatasetQuota('q-lead')).toBe(1000);

    // The new leader's store, and an unfenced one (admin tools), write.
    const storeB = new PgStore({ url: pgt.url, schema, fenceEpoch: 2 });
    await storeB.init();
    for (const [, w] of writes(storeB, 'b')) await w();
    expect(await landed(plain, 'b')).toEqual(all);
    for (const [, w] of writes(plain, 'plain')) await w();
    expect(await landed(plain, 'plain')).toEqual(all);
    await Promise.all([a.close(), b.close(), storeA.close(), storeB.close(), plain.close()]);
    await pgt.dropSchema(schema);
  });

  it('every table of the schema is fenced, but for the few a deposed leader may write for a stated reason', async () => {
    const schema = pgt.freshSchema();
    const plain = new PgStore({ url: pgt.url, schema });
    await plain.init();
    const c = new pg.Client({ connectionString: pgt.url });
    await c.connect();
    const tables = (await c.query<{ name: string }>("SELECT tablename AS name FROM pg_tables WHERE schemaname = $1 ORDER BY 1", [schema])).rows.map((r) => r.name);
    const fenced = new Set(
      (
        await c.query<{ name: string }>(
          `SELECT DISTINCT cl.relname AS name FROM pg_trigger t JOIN pg_class cl ON cl.oid = t.tgrelid JOIN pg_namespace n ON n.oid = cl.relnamespace
           JOIN pg_proc p ON p.oid = t.tgfoid WHERE n.nspname = $1 AND p.proname = 'fastgpu_fence_statement' AND NOT t.tgisinternal`,
          [schema],
        )
      ).rows.map((r) => r.name),
    );
    expect(tables.length).toBeGreaterThan(20);
    const missing = tables.filter((t) => !fenced.has(t) && !(t in UNFENCED));
    // A table here is one a deposed leader can still write: fence it in its migration
    // (… FOR EACH STATEMENT EXECUTE FUNCTION fastgpu_fence_statement()), or name it in UNFENCED.
    expect(missing).toEqual([]);
    // Nothing named as unfenced is fenced after all, or gone.
    expect(Object.keys(UNFENCED).filter((t) => fenced.has(t) || !tables.includes(t))).toEqual([]);
    await c.end();
    await plain.close();
    await pgt.dropSchema(schema);
  });
});
