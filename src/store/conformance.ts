// The Store conformance suite: what every adapter must do, written once against the port.
// An adapter's test file calls `storeConformance('sqlite', make)`; the Postgres adapter will
// call the same function, so behaviour the server relies on cannot drift between the two.
//
// Contract points the port's types do not spell out, and that this suite pins down:
// - A duplicate id (task, vGPU, token id or hash) rejects with FastGpuError CONFLICT.
// - Attempts and log chunks belong to an existing task: otherwise NOT_FOUND, nothing written.
// - `listTasks`: newest first by (createdAt, id); `before` is a keyset cursor on that pair, an
//   unknown cursor gives []; an empty `states` list means "any state"; `name` is a literal,
//   case-sensitive substring.
// - `readLogs`, `listEvents` and `listTaskEvents`: `after` defaults to 0, `limit` to 1000 and is
//   capped at 10,000. `listTaskEvents` matches the task id exactly; an unknown task gives [].
// - `listSamples(from, to)` includes both ends.
// - `setNodeState` on an unknown node does nothing; revoking twice keeps the first time.
// - Tenants, prices, promotions and the ledger: see conformance-billing.ts.
// - Sample tiers (compaction, pruning, bucketed reads): see conformance-samples.ts.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type {
  Attempt,
  LogChunk,
  NodeRecord,
  PoolEvent,
  Task,
  TaskState,
  VgpuReservation,
} from '../core/types.js';
import { arrayConformance } from './conformance-arrays.js';
import { billingConformance } from './conformance-billing.js';
import { idempotencyConformance } from './conformance-idempotency.js';
import { lostAttemptConformance } from './conformance-lost.js';
import { datasetConformance } from './conformance-datasets.js';
import { sweepConformance } from './conformance-sweeps.js';
import { groupConformance } from './conformance-groups.js';
import { joinConformance } from './conformance-join.js';
import { lentConformance } from './conformance-lent.js';
import { sampleTierConformance } from './conformance-samples.js';
import type { Store, TokenRecord, UtilisationSample } from './port.js';

const T0 = 1_700_000_000_000;

export interface TaskFixture {
  state?: TaskState;
  createdAt?: number;
  name?: string;
  tenant?: string;
  nodeId?: string;
  vgpuId?: string;
  gangId?: string;
  priority?: number;
  version?: number;
}

/** A complete, realistic task for tests: every optional field of the domain type present. */
export function fixtureTask(id: string, o: TaskFixture = {}): Task {
  const state = o.state ?? 'PENDING';
  const placed = o.nodeId !== undefined;
  return {
    id,
    spec: {
      name: o.name ?? `task-${id}`,
      command: ['python', 'train.py', '--lr', '0.001'],
      env: { WANDB_MODE: 'offline', GREETING: 'héllo wörld' },
      workdir: '/srv/work',
      resources: { gpu: { count: 1, share: { kind: 'milli', milli: 500 }, memoryMiB: 20_480, model: 'H100-80GB' }, cpuMilli: 2000, memoryMiB: 4096 },
      priority: o.priority ?? 50,
      timeLimitMs: 7_200_000,
      retries: 1,
      preemptible: false,
      gang: 1,
      ...(o.vgpuId !== undefined ? { vgpuId: o.vgpuId } : {}),
      tenant: o.tenant ?? 'default',
    },
    state,
    reason: state === 'PENDING' ? 'Resources' : null,
    reasonMessage: state === 'PENDING' ? 'no GPU has 500 milli free' : null,
    attempts: placed ? 1 : 0,
    exitCode: state === 'SUCCEEDED' ? 0 : null,
    createdAt: o.createdAt ?? T0,
    scheduledAt: placed ? (o.createdAt ?? T0) + 5 : null,
    startedAt: null,
    finishedAt: null,
    placement: placed
      ? {
          nodeId: o.nodeId ?? 'n1',
          node: `node-${o.nodeId}`,
          gpus: [0],
          gpuUuids: ['GPU-0000'],
          gpuMilli: 500,
          memoryMiB: 20_480,
          cpuMilli: 2000,
          hostMemoryMiB: 4096,
          sharing: 'mps',
          ...(o.vgpuId !== undefined ? { vgpuId: o.vgpuId } : {}),
        }
      : null,
    gangId: o.gangId ?? null,
    gangIndex: 0,
    version: o.version ?? 1,
  };
}

export function fixtureNode(id: string, name = `node-${id}`, registeredAt = T0): NodeRecord {
  return {
    id,
    name,
    cpuMilli: 16_000,
    memoryMiB: 65_536,
    labels: { zone: 'eu-1', 'fastgpu.io/pool': 'a' },
    gpus: [
      { index: 0, uuid: `GPU-${id}-0`, model: 'H100-80GB', memoryMiB: 81_559, tflops: 989, sharing: 'mps' },
      { index: 1, uuid: `GPU-${id}-1`, model: 'H100-80GB', memoryMiB: 81_559, tflops: 989, sharing: 'mps' },
    ],
    state: 'READY',
    simulated: true,
    agentVersion: '0.1.0',
    registeredAt,
    lastHeartbeatAt: registeredAt,
  };
}

function reservation(id: string, o: Partial<VgpuReservation> = {}): VgpuReservation {
  return {
    id,
    name: `vg-${id}`,
    tenant: 'default',
    request: { count: 1, share: { kind: 'tflops', tflops: 20 } },
    state: 'PENDING',
    reason: 'Resources',
    placement: null,
    createdAt: T0,
    releasedAt: null,
    version: 1,
    ...o,
  };
}

function token(id: string, o: Partial<TokenRecord> = {}): TokenRecord {
  return { id, hash: `hash-${id}`, tenant: 'default', role: 'member', name: `token ${id}`, createdAt: T0, revokedAt: null, ...o };
}

function chunk(taskId: string, seq: number, o: Partial<LogChunk> = {}): LogChunk {
  return { taskId, attempt: 1, stream: 'stdout', seq, at: T0 + seq, data: `line ${seq}\n`, ...o };
}

function attempt(taskId: string, n: number, o: Partial<Attempt> = {}): Attempt {
  return {
    taskId,
    attempt: n,
    nodeId: 'n1',
    placement: fixtureTask(taskId, { nodeId: 'n1' }).placement!,
    scheduledAt: T0 + n,
    startedAt: null,
    endedAt: null,
    outcome: null,
    exitCode: null,
    ...o,
  };
}

const ids = (tasks: readonly { id: string }[]): string[] => tasks.map((t) => t.id);

/**
 * Registers the conformance tests for one adapter. `make` returns a store on an empty
 * database (initialised or not: the suite calls `init()`); after each test the suite closes
 * the store and then calls `cleanup`, if given, to drop what `make` created.
 * @example storeConformance('sqlite', async () => openStore({ kind: 'sqlite', path: tmpFile() }))
 */
export function storeConformance(name: string, make: () => Promise<Store>, cleanup?: (s: Store) => Promise<void>): void {
  describe(`Store conformance: ${name}`, () => {
    let s: Store;

    beforeEach(async () => {
      s = await make();
      await s.init();
    });

    afterEach(async () => {
      await s.close();
      await cleanup?.(s);
    });

    describe('lifecycle and meta', () => {
      it('init is idempotent and keeps data', async () => {
        await s.setMeta('cluster', 'c1');
        await s.init();
        expect(await s.getMeta('cluster')).toBe('c1');
      });

      it('stores, overwrites and misses meta keys', async () => {
        expect(await s.getMeta('nope')).toBeNull();
        await s.setMeta('k', 'v1');
        await s.setMeta('k', 'v2 ✓ 日本');
        expect(await s.getMeta('k')).toBe('v2 ✓ 日本');
      });

      it('close twice is harmless', async () => {
        await s.close();
        await s.close();
        await s.init(); // afterEach closes it again
      });
    });

    describe('nodes', () => {
      it('round-trips a node and misses unknown ids and names', async () => {
        const n = fixtureNode('n1');
        await s.upsertNode(n);
        expect(await s.getNode('n1')).toEqual(n);
        expect(await s.getNodeByName('node-n1')).toEqual(n);
        expect(await s.getNode('zz')).toBeNull();
        expect(await s.getNodeByName('zz')).toBeNull();
      });

      it('upsert replaces the whole record', async () => {
        await s.upsertNode(fixtureNode('n1'));
        const changed: NodeRecord = { ...fixtureNode('n1', 'renamed'), gpus: [], labels: {}, state: 'DRAINING', agentVersion: '0.2.0' };
        await s.upsertNode(changed);
        expect(await s.getNode('n1')).toEqual(changed);
        expect(await s.getNodeByName('node-n1')).toBeNull();
        expect(await s.listNodes()).toHaveLength(1);
      });

      it('by name, the latest registration wins', async () => {
        await s.upsertNode(fixtureNode('old', 'gpu-box', T0));
        await s.upsertNode(fixtureNode('new', 'gpu-box', T0 + 1000));
        expect((await s.getNodeByName('gpu-box'))?.id).toBe('new');
      });

      it('lists nodes by name', async () => {
        await s.upsertNode(fixtureNode('a', 'zeta'));
        await s.upsertNode(fixtureNode('b', 'alpha'));
        await s.upsertNode(fixtureNode('c', 'mid'));
        expect((await s.listNodes()).map((n) => n.name)).toEqual(['alpha', 'mid', 'zeta']);
      });

      it('setNodeState changes state, and the heartbeat only when given', async () => {
        await s.upsertNode(fixtureNode('n1'));
        await s.setNodeState('n1', 'LOST');
        expect(await s.getNode('n1')).toMatchObject({ state: 'LOST', lastHeartbeatAt: T0 });
        await s.setNodeState('n1', 'READY', T0 + 500);
        expect(await s.getNode('n1')).toMatchObject({ state: 'READY', lastHeartbeatAt: T0 + 500, gpus: fixtureNode('n1').gpus });
        await expect(s.setNodeState('ghost', 'LOST')).resolves.toBeUndefined();
        expect(await s.getNode('ghost')).toBeNull();
      });
    });

    describe('tasks', () => {
      it('round-trips a full task', async () => {
        const t = fixtureTask('t1', { nodeId: 'n1', vgpuId: 'vg1', gangId: 'g1', state: 'RUNNING' });
        await s.insertTasks([t]);
        expect(await s.getTask('t1')).toEqual(t);
        expect(await s.getTask('nope')).toBeNull();
      });

      it('insertTasks is all or nothing, and names the duplicate', async () => {
        await s.insertTasks([fixtureTask('first')]);
        await expect(s.insertTasks([fixtureTask('b'), fixtureTask('first')])).rejects.toMatchObject({
          code: 'CONFLICT',
          message: expect.stringContaining('first') as unknown,
        });
        expect(await s.getTask('b')).toBeNull();
        await expect(s.insertTasks([fixtureTask('c'), fixtureTask('c')])).rejects.toMatchObject({ code: 'CONFLICT' });
        expect(await s.getTask('c')).toBeNull();
        await s.insertTasks([]);
        expect(await s.countTasks()).toBe(1);
      });

      it('lists newest first, 1000 by default, and honours limit', async () => {
        await s.insertTasks(Array.from({ length: 1005 }, (_, i) => fixtureTask(`t${String(i).padStart(4, '0')}`, { createdAt: T0 + i })));
        const all = await s.listTasks();
        expect(all).toHaveLength(1000);
        expect(all[0]?.id).toBe('t1004');
        expect(all[999]?.id).toBe('t0005');
        expect(ids(await s.listTasks({ limit: 3 }))).toEqual(['t1004', 't1003', 't1002']);
        expect(await s.listTasks({ limit: 0 })).toEqual([]);
      });

      it('filters by each field and by all of them combined', async () => {
        await s.insertTasks([
          fixtureTask('a', { createdAt: T0 + 1, name: 'train-llama', tenant: 'acme', state: 'RUNNING', nodeId: 'n1', vgpuId: 'vg1', gangId: 'g1' }),
          fixtureTask('b', { createdAt: T0 + 2, name: 'train-bert', tenant: 'acme', state: 'PENDING' }),
          fixtureTask('c', { createdAt: T0 + 3, name: 'eval-llama', tenant: 'other', state: 'RUNNING', nodeId: 'n2', gangId: 'g1' }),
          fixtureTask('d', { createdAt: T0 + 4, name: 'train-llama', tenant: 'acme', state: 'SUCCEEDED', nodeId: 'n1' }),
          fixtureTask('e', { createdAt: T0 + 5, name: '100%_done', tenant: 'acme', state: 'FAILED', nodeId: 'n1', vgpuId: 'vg1' }),
        ]);
        expect(ids(await s.listTasks({ states: ['RUNNING'] }))).toEqual(['c', 'a']);
        expect(ids(await s.listTasks({ states: ['RUNNING', 'PENDING'] }))).toEqual(['c', 'b', 'a']);
        expect(ids(await s.listTasks({ states: [] }))).toEqual(['e', 'd', 'c', 'b', 'a']);
        expect(ids(await s.listTasks({ name: 'llama' }))).toEqual(['d', 'c', 'a']);
        expect(ids(await s.listTasks({ name: 'LLAMA' }))).toEqual([]);
        expect(ids(await s.listTasks({ name: '%' }))).toEqual(['e']);
        expect(ids(await s.listTasks({ name: '_' }))).toEqual(['e']);
        expect(ids(await s.listTasks({ nodeId: 'n1' }))).toEqual(['e', 'd', 'a']);
        expect(ids(await s.listTasks({ tenant: 'other' }))).toEqual(['c']);
        expect(ids(await s.listTasks({ vgpuId: 'vg1' }))).toEqual(['e', 'a']);
        expect(ids(await s.listTasks({ gangId: 'g1' }))).toEqual(['c', 'a']);
        expect(
          ids(await s.listTasks({ states: ['RUNNING', 'SUCCEEDED'], name: 'train', nodeId: 'n1', tenant: 'acme', limit: 10 })),
        ).toEqual(['d', 'a']);
        expect(ids(await s.listTasks({ states: ['RUNNING'], name: 'train', nodeId: 'n1', tenant: 'acme', vgpuId: 'vg1', gangId: 'g1' }))).toEqual(['a']);
        expect(ids(await s.listTasks({ tenant: 'other', nodeId: 'n1' }))).toEqual([]);
      });

      it('pages with `before` without skipping or repeating tasks created in the same millisecond', async () => {
        // Five tasks per millisecond, inserted out of order.
        const tasks = Array.from({ length: 25 }, (_, i) => fixtureTask(`t${String(i).padStart(2, '0')}`, { createdAt: T0 + Math.floor(i / 5) }));
        await s.insertTasks([...tasks].reverse());
        const seen: string[] = [];
        let before: string | undefined;
        for (;;) {
          const page = await s.listTasks({ limit: 7, ...(before !== undefined ? { before } : {}) });
          if (page.length === 0) break;
          seen.push(...ids(page));
          before = page[page.length - 1]?.id;
        }
        expect(seen).toEqual(ids(tasks).reverse());
        expect(ids(await s.listTasks({ before: 't07', states: ['PENDING'], limit: 3 }))).toEqual(['t06', 't05', 't04']);
        expect(await s.listTasks({ before: 'unknown' })).toEqual([]);
      });

      it('counts by states and tenant', async () => {
        await s.insertTasks([
          fixtureTask('a', { tenant: 'acme', state: 'RUNNING' }),
          fixtureTask('b', { tenant: 'acme', state: 'PENDING' }),
          fixtureTask('c', { tenant: 'other', state: 'RUNNING' }),
          fixtureTask('d', { tenant: 'acme', state: 'SUCCEEDED' }),
        ]);
        expect(await s.countTasks()).toBe(4);
        expect(await s.countTasks({ states: ['RUNNING'] })).toBe(2);
        expect(await s.countTasks({ states: ['RUNNING', 'PENDING'], tenant: 'acme' })).toBe(2);
        expect(await s.countTasks({ tenant: 'other' })).toBe(1);
        expect(await s.countTasks({ tenant: 'nobody' })).toBe(0);
      });

      it('lists live tasks oldest first, following state changes', async () => {
        const states: TaskState[] = ['PENDING', 'SCHEDULED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'PREEMPTED', 'LOST'];
        // Created newest-first so that insertion order cannot pass for age order.
        await s.insertTasks(states.map((state, i) => fixtureTask(state.toLowerCase(), { state, createdAt: T0 + 100 - i })));
        expect(ids(await s.listLiveTasks())).toEqual(['lost', 'preempted', 'running', 'scheduled', 'pending']);

        const running = (await s.getTask('running'))!;
        const failed = (await s.getTask('failed'))!;
        expect(
          await s.writeTasks([
            { task: { ...running, state: 'SUCCEEDED', exitCode: 0, finishedAt: T0 + 200, version: 2 }, expectedVersion: 1 },
            // A terminal task is never live again in practice, but the store must follow the row.
            { task: { ...failed, state: 'PENDING', version: 2 }, expectedVersion: 1 },
          ]),
        ).toEqual([]);
        expect(ids(await s.listLiveTasks())).toEqual(['lost', 'preempted', 'failed', 'scheduled', 'pending']);
      });

      it('writeTasks applies matching versions and returns the others', async () => {
        await s.insertTasks([fixtureTask('a'), fixtureTask('b'), fixtureTask('c', { version: 5 })]);
        const a = (await s.getTask('a'))!;
        const b = (await s.getTask('b'))!;
        const c = (await s.getTask('c'))!;
        const aNext: Task = { ...a, state: 'SCHEDULED', reason: null, reasonMessage: null, placement: fixtureTask('a', { nodeId: 'n9' }).placement, attempts: 1, version: 2 };
        const missed = await s.writeTasks([
          { task: aNext, expectedVersion: 1 },
          { task: { ...b, state: 'CANCELLED', version: 9 }, expectedVersion: 3 }, // stale
          { task: { ...c, state: 'RUNNING', version: 6 }, expectedVersion: 5 },
          { task: fixtureTask('ghost', { version: 2 }), expectedVersion: 1 }, // never inserted
        ]);
        expect(missed.sort()).toEqual(['b', 'ghost']);
        expect(await s.getTask('a')).toEqual(aNext);
        expect(await s.getTask('b')).toEqual(b);
        expect(await s.getTask('c')).toMatchObject({ state: 'RUNNING', version: 6 });
        expect(await s.getTask('ghost')).toBeNull();
        // The columns behind the filters follow the write.
        expect(ids(await s.listTasks({ nodeId: 'n9' }))).toEqual(['a']);
        expect(ids(await s.listTasks({ states: ['SCHEDULED'] }))).toEqual(['a']);
        expect(await s.writeTasks([])).toEqual([]);
      });

      it('a second write of the same task in one batch sees the first', async () => {
        await s.insertTasks([fixtureTask('a')]);
        const a = (await s.getTask('a'))!;
        const missed = await s.writeTasks([
          { task: { ...a, state: 'SCHEDULED', version: 2 }, expectedVersion: 1 },
          { task: { ...a, state: 'CANCELLED', version: 2 }, expectedVersion: 1 },
          { task: { ...a, state: 'RUNNING', version: 3 }, expectedVersion: 2 },
        ]);
        expect(missed).toEqual(['a']);
        expect(await s.getTask('a')).toMatchObject({ state: 'RUNNING', version: 3 });
      });
    });

    describe('attempts', () => {
      it('upserts and lists attempts in order', async () => {
        await s.insertTasks([fixtureTask('t1'), fixtureTask('t2')]);
        await s.upsertAttempt(attempt('t1', 2));
        await s.upsertAttempt(attempt('t1', 1));
        await s.upsertAttempt(attempt('t2', 1));
        const done = attempt('t1', 1, { startedAt: T0 + 10, endedAt: T0 + 20, outcome: 'LOST', exitCode: null, nodeId: 'n2' });
        await s.upsertAttempt(done);
        expect(await s.listAttempts('t1')).toEqual([done, attempt('t1', 2)]);
        expect(await s.listAttempts('t2')).toHaveLength(1);
        expect(await s.listAttempts('nope')).toEqual([]);
      });

      it('refuses an attempt of an unknown task', async () => {
        await expect(s.upsertAttempt(attempt('ghost', 1))).rejects.toMatchObject({ code: 'NOT_FOUND' });
      });
    });

    describe('state batches', () => {
      it('writes tasks, attempts, reservations, nodes and events together; stale versions are reported, not thrown', async () => {
        await s.insertTasks([fixtureTask('t1'), fixtureTask('t2')]);
        await s.upsertNode(fixtureNode('n1'));
        await s.insertReservation(reservation('r1'));
        const t1 = { ...fixtureTask('t1', { state: 'SCHEDULED', nodeId: 'n1' }), version: 2 };
        const stale = { ...fixtureTask('t2', { state: 'SCHEDULED' }), version: 9 };
        const r = await s.commitBatch({
          tasks: [
            { task: t1, expectedVersion: 1 },
            { task: stale, expectedVersion: 8 },
          ],
          attempts: [attempt('t1', 1)],
          reservations: [
            { reservation: { ...reservation('r1'), state: 'ACTIVE', version: 2 }, expectedVersion: 1 },
            { reservation: { ...reservation('r1'), name: 'late', version: 3 }, expectedVersion: 7 },
          ],
          nodes: [{ ...fixtureNode('n1'), state: 'DRAINING' }],
          nodeStates: [{ id: 'n1', state: 'DRAINING', heartbeatAt: T0 + 5 }],
          events: [
            { at: T0, type: 'task.scheduled', taskId: 't1', nodeId: 'n1', data: { attempt: 1 } },
            { at: T0, type: 'node.drained', nodeId: 'n1', data: {} },
          ],
        });
        expect(r.lostTasks).toEqual(['t2']);
        expect(r.lostReservations).toEqual(['r1']);
        expect(r.events.map((e) => [e.type, e.seq > 0])).toEqual([
          ['task.scheduled', true],
          ['node.drained', true],
        ]);
        expect(await s.getTask('t1')).toEqual(t1);
        expect((await s.getTask('t2'))?.version).toBe(1);
        expect(await s.listAttempts('t1')).toEqual([attempt('t1', 1)]);
        expect(await s.getReservation('r1')).toMatchObject({ state: 'ACTIVE', version: 2, name: reservation('r1').name });
        expect(await s.getNode('n1')).toMatchObject({ state: 'DRAINING', lastHeartbeatAt: T0 + 5 });
        expect(await s.listEvents(0)).toEqual(r.events);
        expect(await s.commitBatch({})).toEqual({ lostTasks: [], lostReservations: [], events: [] });
      });

      it('is all or nothing: a part that fails rolls back every other part', async () => {
        await s.insertTasks([fixtureTask('t1')]);
        const t1 = { ...fixtureTask('t1', { state: 'SCHEDULED' }), version: 2 };
        await expect(
          s.commitBatch({
            tasks: [{ task: t1, expectedVersion: 1 }],
            attempts: [attempt('t1', 1), attempt('ghost', 1)],
            events: [{ at: T0, type: 'task.scheduled', taskId: 't1', data: {} }],
          }),
        ).rejects.toMatchObject({ code: 'NOT_FOUND' });
        expect(await s.getTask('t1')).toEqual(fixtureTask('t1'));
        expect(await s.listAttempts('t1')).toEqual([]);
        expect(await s.listEvents(0)).toEqual([]);
        // The store is usable after the rollback.
        expect((await s.commitBatch({ tasks: [{ task: t1, expectedVersion: 1 }] })).lostTasks).toEqual([]);
        expect((await s.getTask('t1'))?.version).toBe(2);
      });

      it('stores new tasks with their events; a duplicate id fails the batch with CONFLICT and stores neither', async () => {
        const submitted = (id: string) => ({ at: T0, type: 'task.submitted' as const, taskId: id, data: {} });
        const r = await s.commitBatch({ newTasks: [fixtureTask('a'), fixtureTask('b')], events: [submitted('a'), submitted('b')] });
        expect(r.events.map((e) => e.taskId)).toEqual(['a', 'b']);
        expect(await s.countTasks()).toBe(2);
        await expect(s.commitBatch({ newTasks: [fixtureTask('c'), fixtureTask('a')], events: [submitted('c')] })).rejects.toMatchObject({ code: 'CONFLICT' });
        expect(await s.getTask('c')).toBeNull();
        expect((await s.listEvents(0)).map((e) => e.taskId)).toEqual(['a', 'b']);
      });
    });

    describe('logs', () => {
      beforeEach(async () => {
        await s.insertTasks([fixtureTask('t1'), fixtureTask('t2')]);
      });

      it('reads chunks back in insertion order with increasing positions', async () => {
        await s.appendLogs([chunk('t1', 0), chunk('t1', 0, { stream: 'stderr', data: 'warn\n' }), chunk('t1', 1)]);
        const page = await s.readLogs('t1');
        expect(page.chunks.map(({ pos: _pos, ...c }) => c)).toEqual([chunk('t1', 0), chunk('t1', 0, { stream: 'stderr', data: 'warn\n' }), chunk('t1', 1)]);
        const pos = page.chunks.map((c) => c.pos);
        expect(pos).toEqual([...pos].sort((a, b) => a - b));
        expect(new Set(pos).size).toBe(3);
        expect(page.next).toBe(pos[2]);
      });

      it('ignores duplicates on (task, attempt, stream, seq); the first copy stays', async () => {
        await s.appendLogs([chunk('t1', 0), chunk('t1', 1)]);
        await s.appendLogs([chunk('t1', 1, { data: 'resent\n' }), chunk('t1', 2), chunk('t1', 2)]);
        const page = await s.readLogs('t1');
        expect(page.chunks.map((c) => [c.seq, c.data])).toEqual([[0, 'line 0\n'], [1, 'line 1\n'], [2, 'line 2\n']]);
      });

      it('pages across boundaries and returns `after` when nothing is new', async () => {
        await s.appendLogs(Array.from({ length: 25 }, (_, i) => chunk('t1', i)));
        const p1 = await s.readLogs('t1', { limit: 10 });
        const p2 = await s.readLogs('t1', { limit: 10, after: p1.next });
        const p3 = await s.readLogs('t1', { limit: 10, after: p2.next });
        const p4 = await s.readLogs('t1', { limit: 10, after: p3.next });
        expect([p1, p2, p3, p4].map((p) => p.chunks.length)).toEqual([10, 10, 5, 0]);
        expect([...p1.chunks, ...p2.chunks, ...p3.chunks].map((c) => c.seq)).toEqual(Array.from({ length: 25 }, (_, i) => i));
        expect(p4.next).toBe(p3.next);
        // Exactly at the last position: nothing, and the cursor stays put.
        const last = p3.chunks[4]!.pos;
        expect(await s.readLogs('t1', { after: last })).toEqual({ chunks: [], next: last });
        expect((await s.readLogs('t1', { after: last - 1 })).chunks.map((c) => c.seq)).toEqual([24]);
        // New output after the reader caught up is found from its cursor.
        await s.appendLogs([chunk('t1', 25)]);
        expect((await s.readLogs('t1', { after: p4.next })).chunks.map((c) => c.seq)).toEqual([25]);
      });

      it('defaults to 1000 chunks a page and caps at 10000', async () => {
        await s.appendLogs(Array.from({ length: 10_050 }, (_, i) => chunk('t1', i, { data: 'x' })));
        expect((await s.readLogs('t1')).chunks).toHaveLength(1000);
        expect((await s.readLogs('t1', { limit: 20_000 })).chunks).toHaveLength(10_000);
        expect((await s.readLogs('t1', { limit: 1 })).chunks).toHaveLength(1);
      });

      it('filters by attempt and stream, alone and together', async () => {
        await s.appendLogs([
          chunk('t1', 0, { attempt: 1 }),
          chunk('t1', 0, { attempt: 1, stream: 'stderr' }),
          chunk('t1', 0, { attempt: 2 }),
          chunk('t1', 0, { attempt: 2, stream: 'stderr' }),
          chunk('t1', 1, { attempt: 2, stream: 'stderr' }),
        ]);
        const key = (p: { chunks: LogChunk[] }) => p.chunks.map((c) => `${c.attempt}/${c.stream}/${c.seq}`);
        expect(key(await s.readLogs('t1', { attempt: 2 }))).toEqual(['2/stdout/0', '2/stderr/0', '2/stderr/1']);
        expect(key(await s.readLogs('t1', { stream: 'stderr' }))).toEqual(['1/stderr/0', '2/stderr/0', '2/stderr/1']);
        expect(key(await s.readLogs('t1', { attempt: 2, stream: 'stderr', limit: 1 }))).toEqual(['2/stderr/0']);
        expect(key(await s.readLogs('t1', { attempt: 3 }))).toEqual([]);
      });

      it('keeps tasks apart while positions stay global', async () => {
        await s.appendLogs([chunk('t1', 0), chunk('t2', 0), chunk('t1', 1), chunk('t2', 1)]);
        const p1 = await s.readLogs('t1');
        const p2 = await s.readLogs('t2');
        expect(p1.chunks.every((c) => c.taskId === 't1')).toBe(true);
        expect(p2.chunks.every((c) => c.taskId === 't2')).toBe(true);
        expect(p1.chunks[0]!.pos).toBeLessThan(p2.chunks[0]!.pos);
        expect(p2.chunks[0]!.pos).toBeLessThan(p1.chunks[1]!.pos);
        expect(await s.readLogs('nope')).toEqual({ chunks: [], next: 0 });
      });

      it('round-trips unicode and a large chunk unchanged', async () => {
        const unicode = 'naïve café — 日本語テキスト — العربية — 👩‍🚀🚀 — e\u0301 — tab\tcr\r\nend';
        const big = 'loss=0.123 ✓ '.repeat(80_000); // about 1 MiB of UTF-8
        await s.appendLogs([chunk('t1', 0, { data: unicode }), chunk('t1', 1, { data: big })]);
        const page = await s.readLogs('t1');
        expect(page.chunks[0]?.data).toBe(unicode);
        expect(page.chunks[1]?.data.length).toBe(big.length);
        expect(page.chunks[1]?.data === big).toBe(true);
      });

      it('reports the high-water seq per stream of one attempt', async () => {
        expect(await s.logHighWater('t1', 1)).toEqual({});
        await s.appendLogs([
          chunk('t1', 0), chunk('t1', 1), chunk('t1', 2),
          chunk('t1', 0, { stream: 'stderr' }),
          chunk('t1', 7, { attempt: 2 }),
          chunk('t2', 9),
        ]);
        expect(await s.logHighWater('t1', 1)).toEqual({ stdout: 2, stderr: 0 });
        expect(await s.logHighWater('t1', 2)).toEqual({ stdout: 7 });
        expect(await s.logHighWater('t1', 3)).toEqual({});
      });

      it('refuses chunks of an unknown task and writes none of the batch', async () => {
        await expect(s.appendLogs([chunk('t1', 0), chunk('ghost', 0)])).rejects.toMatchObject({
          code: 'NOT_FOUND',
          message: expect.stringContaining('ghost') as unknown,
        });
        expect((await s.readLogs('t1')).chunks).toEqual([]);
      });
    });

    describe('log retention', () => {
      const DAY = 86_400_000;
      const finished = (id: string, state: TaskState, finishedAt: number): Task => ({ ...fixtureTask(id, { state }), finishedAt });

      it('deletes the logs of tasks finished before the cutoff, in bounded steps, and says when', async () => {
        await s.insertTasks([finished('old', 'SUCCEEDED', T0), finished('older', 'CANCELLED', T0 - DAY), finished('recent', 'FAILED', T0 + 10 * DAY), fixtureTask('live', { state: 'RUNNING' })]);
        await s.appendLogs([
          ...Array.from({ length: 25 }, (_, i) => chunk('old', i)),
          ...Array.from({ length: 3 }, (_, i) => chunk('older', i)),
          ...Array.from({ length: 4 }, (_, i) => chunk('recent', i)),
          ...Array.from({ length: 2 }, (_, i) => chunk('live', i)),
        ]);
        const at = T0 + 30 * DAY;
        // Oldest first, at most 10 chunks a step: `older` whole (3), then 7 of `old`.
        expect(await s.pruneLogs(T0 + DAY, at, 10)).toEqual({ tasks: 1, chunks: 10, more: true });
        expect(await s.logsPrunedAt('older')).toBe(at);
        expect(await s.logsPrunedAt('old')).toBeNull();
        expect((await s.readLogs('old')).chunks.map((c) => c.seq)).toEqual(Array.from({ length: 18 }, (_, i) => i + 7));
        let step = await s.pruneLogs(T0 + DAY, at, 10);
        while (step.more) step = await s.pruneLogs(T0 + DAY, at, 10);
        expect(await s.logsPrunedAt('old')).toBe(at);
        expect((await s.readLogs('old')).chunks).toEqual([]);
        // Not due yet, or not finished: untouched.
        expect((await s.readLogs('recent')).chunks).toHaveLength(4);
        expect((await s.readLogs('live')).chunks).toHaveLength(2);
        expect(await s.logsPrunedAt('recent')).toBeNull();
        expect(await s.logsPrunedAt('nope')).toBeNull();
        // Nothing left to do: nothing changes.
        expect(await s.pruneLogs(T0 + DAY, at + 1)).toEqual({ tasks: 0, chunks: 0, more: false });
        expect(await s.logsPrunedAt('old')).toBe(at);
        // The task itself and its history stay.
        expect((await s.getTask('old'))?.state).toBe('SUCCEEDED');
      });
    });

    describe('events', () => {
      const ev = (i: number, o: Partial<Omit<PoolEvent, 'seq'>> = {}): Omit<PoolEvent, 'seq'> => ({
        at: T0 + i,
        type: 'task.submitted',
        taskId: `t${i}`,
        data: { i, nested: { ok: true, list: [1, 'two'] } },
        ...o,
      });

      it('assigns increasing seq and returns the stored events', async () => {
        const first = await s.appendEvents([ev(0), ev(1, { type: 'node.registered', taskId: undefined, nodeId: 'n1' })]);
        const second = await s.appendEvents([ev(2, { type: 'vgpu.created', taskId: undefined, vgpuId: 'vg1', data: {} })]);
        const all = [...first, ...second];
        expect(all.map((e) => e.seq)).toEqual([...all.map((e) => e.seq)].sort((a, b) => a - b));
        expect(new Set(all.map((e) => e.seq)).size).toBe(3);
        expect(all[0]!.seq).toBeGreaterThan(0);
        expect(await s.listEvents(0)).toEqual(all);
        const listed = await s.listEvents(0);
        expect(listed[1]).not.toHaveProperty('taskId');
        expect(listed[1]).toMatchObject({ type: 'node.registered', nodeId: 'n1' });
        expect(await s.appendEvents([])).toEqual([]);
      });

      it('lists events after N, with a limit', async () => {
        const stored = await s.appendEvents(Array.from({ length: 20 }, (_, i) => ev(i)));
        const n = stored[11]!.seq;
        expect((await s.listEvents(n)).map((e) => e.data.i)).toEqual([12, 13, 14, 15, 16, 17, 18, 19]);
        expect((await s.listEvents(n, 3)).map((e) => e.data.i)).toEqual([12, 13, 14]);
        expect(await s.listEvents(stored[19]!.seq)).toEqual([]);
        expect((await s.listEvents(0, 5)).map((e) => e.seq)).toEqual(stored.slice(0, 5).map((e) => e.seq));
      });

      it('pages events 1000 at a time by default', async () => {
        const stored = await s.appendEvents(Array.from({ length: 1001 }, (_, i) => ev(i)));
        const page = await s.listEvents(0);
        expect(page).toHaveLength(1000);
        expect(await s.listEvents(page[999]!.seq)).toEqual([stored[1000]]);
      });

      describe('one task’s events', () => {
        /** Events of t1, t2 and the pool interleaved, in several batches, as the server writes them. */
        async function interleaved(): Promise<PoolEvent[]> {
          const stored: PoolEvent[] = [];
          stored.push(...(await s.appendEvents([ev(0, { taskId: 't1' }), ev(1, { taskId: 't2' })])));
          stored.push(...(await s.appendEvents([ev(2, { type: 'node.registered', taskId: undefined, nodeId: 'n1' })])));
          stored.push(...(await s.appendEvents([ev(3, { type: 'task.scheduled', taskId: 't1', nodeId: 'n1' }), ev(4, { type: 'vgpu.created', taskId: undefined, vgpuId: 'vg1' })])));
          stored.push(...(await s.appendEvents([ev(5, { type: 'task.scheduled', taskId: 't2', nodeId: 'n1' }), ev(6, { type: 'task.started', taskId: 't1', nodeId: 'n1' })])));
          stored.push(...(await s.appendEvents([ev(7, { type: 'task.finished', taskId: 't1', nodeId: 'n1', data: { i: 7, state: 'SUCCEEDED', exitCode: 0 } })])));
          return stored;
        }

        it('lists only that task’s events, whole and in seq order', async () => {
          const stored = await interleaved();
          const t1 = stored.filter((e) => e.taskId === 't1');
          expect(await s.listTaskEvents('t1')).toEqual(t1);
          expect((await s.listTaskEvents('t1')).map((e) => e.type)).toEqual(['task.submitted', 'task.scheduled', 'task.started', 'task.finished']);
          expect((await s.listTaskEvents('t2')).map((e) => e.data.i)).toEqual([1, 5]);
          const seqs = t1.map((e) => e.seq);
          expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
          // A task id is matched exactly, not as a prefix or pattern.
          await s.appendEvents([ev(8, { taskId: 't10' }), ev(9, { taskId: 't_' })]);
          expect((await s.listTaskEvents('t1')).map((e) => e.data.i)).toEqual([0, 3, 6, 7]);
          expect((await s.listTaskEvents('t_')).map((e) => e.data.i)).toEqual([9]);
        });

        it('pages with after and limit without skipping or repeating', async () => {
          const stored = await interleaved();
          const t1 = stored.filter((e) => e.taskId === 't1');
          const p1 = await s.listTaskEvents('t1', { limit: 3 });
          expect(p1).toEqual(t1.slice(0, 3));
          const p2 = await s.listTaskEvents('t1', { after: p1[2]!.seq, limit: 3 });
          expect(p2).toEqual(t1.slice(3));
          expect(await s.listTaskEvents('t1', { after: t1[3]!.seq })).toEqual([]);
          // `after` is a seq, not an index: one between this task's events (another task's) works too.
          const t2First = stored.find((e) => e.taskId === 't2')!;
          expect(await s.listTaskEvents('t1', { after: t2First.seq })).toEqual(t1.slice(1));
          expect(await s.listTaskEvents('t1', { after: 0, limit: 1 })).toEqual(t1.slice(0, 1));
          // Events appended after a reader caught up are found from its cursor.
          const [late] = await s.appendEvents([ev(10, { type: 'task.requeued', taskId: 't1' })]);
          expect(await s.listTaskEvents('t1', { after: t1[3]!.seq })).toEqual([late]);
        });

        it('defaults to 1000 a page and caps the limit at 10000', async () => {
          await s.appendEvents(Array.from({ length: 10_005 }, (_, i) => ev(i, { taskId: 'busy' })));
          expect(await s.listTaskEvents('busy')).toHaveLength(1000);
          expect(await s.listTaskEvents('busy', { limit: 20_000 })).toHaveLength(10_000);
          expect(await s.listTaskEvents('busy', { limit: 1 })).toHaveLength(1);
        });

        it('answers [] for an unknown task and for one with no events', async () => {
          await interleaved();
          expect(await s.listTaskEvents('ghost')).toEqual([]);
          expect(await s.listTaskEvents('ghost', { after: 0, limit: 5 })).toEqual([]);
          expect(await s.listTaskEvents('')).toEqual([]);
          // Pool events have no task: they never answer for one.
          expect((await s.listTaskEvents('n1')).length).toBe(0);
        });
      });
    });

    describe('vGPU reservations', () => {
      it('round-trips and refuses a duplicate id', async () => {
        const r = reservation('vg1');
        await s.insertReservation(r);
        expect(await s.getReservation('vg1')).toEqual(r);
        expect(await s.getReservation('nope')).toBeNull();
        await expect(s.insertReservation(reservation('vg1', { name: 'again' }))).rejects.toMatchObject({ code: 'CONFLICT' });
        expect(await s.getReservation('vg1')).toEqual(r);
      });

      it('lists unreleased by default, oldest first, by tenant on request', async () => {
        await s.insertReservation(reservation('c', { createdAt: T0 + 3, tenant: 'acme' }));
        await s.insertReservation(reservation('a', { createdAt: T0 + 1 }));
        await s.insertReservation(reservation('r', { createdAt: T0 + 2, state: 'RELEASED', releasedAt: T0 + 9, tenant: 'acme' }));
        await s.insertReservation(reservation('b', { createdAt: T0 + 2, state: 'ACTIVE' }));
        expect(ids(await s.listReservations())).toEqual(['a', 'b', 'c']);
        expect(ids(await s.listReservations({ includeReleased: true }))).toEqual(['a', 'b', 'r', 'c']);
        expect(ids(await s.listReservations({ tenant: 'acme' }))).toEqual(['c']);
        expect(ids(await s.listReservations({ tenant: 'acme', includeReleased: true }))).toEqual(['r', 'c']);
      });

      it('writes only on the expected version', async () => {
        await s.insertReservation(reservation('vg1'));
        const placed = reservation('vg1', {
          state: 'ACTIVE',
          reason: null,
          placement: fixtureTask('x', { nodeId: 'n1' }).placement,
          version: 2,
        });
        expect(await s.writeReservation(placed, 1)).toBe(true);
        expect(await s.getReservation('vg1')).toEqual(placed);
        expect(await s.writeReservation({ ...placed, state: 'RELEASED', version: 3 }, 1)).toBe(false);
        expect(await s.getReservation('vg1')).toEqual(placed);
        expect(await s.writeReservation(reservation('ghost', { version: 2 }), 1)).toBe(false);
        expect(await s.getReservation('ghost')).toBeNull();
        const released = { ...placed, state: 'RELEASED' as const, releasedAt: T0 + 50, version: 3 };
        expect(await s.writeReservation(released, 2)).toBe(true);
        expect(await s.listReservations()).toEqual([]);
      });
    });

    describe('tokens', () => {
      it('finds tokens by hash and refuses a duplicate id or hash', async () => {
        await s.insertToken(token('a', { role: 'admin' }));
        await s.insertToken(token('b', { createdAt: T0 + 1, tenant: 'acme', role: 'agent' }));
        expect(await s.findTokenByHash('hash-a')).toEqual(token('a', { role: 'admin' }));
        expect(await s.findTokenByHash('nope')).toBeNull();
        await expect(s.insertToken(token('a', { hash: 'other' }))).rejects.toMatchObject({ code: 'CONFLICT' });
        await expect(s.insertToken(token('c', { hash: 'hash-a' }))).rejects.toMatchObject({ code: 'CONFLICT' });
        expect(ids(await s.listTokens())).toEqual(['a', 'b']);
      });

      it('revokes: the record stays findable with revokedAt, the first time stands', async () => {
        await s.insertToken(token('a'));
        expect(await s.revokeToken('a', T0 + 10)).toBe(true);
        expect(await s.findTokenByHash('hash-a')).toEqual(token('a', { revokedAt: T0 + 10 }));
        expect(await s.revokeToken('a', T0 + 20)).toBe(true);
        expect((await s.findTokenByHash('hash-a'))?.revokedAt).toBe(T0 + 10);
        expect(await s.revokeToken('ghost', T0)).toBe(false);
        expect((await s.listTokens())[0]?.revokedAt).toBe(T0 + 10);
      });
    });

    describe('samples', () => {
      const sample = (at: number, nodeId: string, gpuIndex: number): UtilisationSample => ({
        at,
        nodeId,
        gpuIndex,
        utilPercent: 37.5,
        memoryUsedMiB: 1024 * gpuIndex,
        allocatedMilli: 250 * gpuIndex,
      });

      it('a sample stored without allocatedMilli reads back with 0', async () => {
        await s.appendSamples([{ at: T0, nodeId: 'n9', gpuIndex: 0, utilPercent: 1, memoryUsedMiB: 2 }]);
        expect(await s.listSamples(T0, T0, 'n9')).toEqual([{ at: T0, nodeId: 'n9', gpuIndex: 0, utilPercent: 1, memoryUsedMiB: 2, allocatedMilli: 0 }]);
      });

      it('lists samples in [from, to], optionally for one node', async () => {
        await s.appendSamples([sample(T0 + 20, 'n2', 0), sample(T0, 'n1', 1), sample(T0, 'n1', 0), sample(T0 + 10, 'n2', 0), sample(T0 + 30, 'n1', 0)]);
        await s.appendSamples([]);
        expect(await s.listSamples(T0, T0 + 20)).toEqual([sample(T0, 'n1', 0), sample(T0, 'n1', 1), sample(T0 + 10, 'n2', 0), sample(T0 + 20, 'n2', 0)]);
        expect(await s.listSamples(T0 + 1, T0 + 30, 'n1')).toEqual([sample(T0 + 30, 'n1', 0)]);
        expect(await s.listSamples(T0 + 31, T0 + 99)).toEqual([]);
        expect(await s.listSamples(T0, T0 + 99, 'n3')).toEqual([]);
      });
    });

    sampleTierConformance(() => s);

    // Issue 4: tenants, price book, promotions, ledger and settlement.
    billingConformance(() => s);

    // Issue 9: idempotency keys of submits.
    idempotencyConformance(() => s, fixtureTask);
    // Issue 9: attempts LOST with their node, kept across restarts.
    lostAttemptConformance(() => s, fixtureTask);
    // Issue 14: task arrays.
    arrayConformance(() => s, fixtureTask);
    // Issue 16: datasets, their chunks and quotas.
    datasetConformance(() => s);
    sweepConformance(() => s);
    groupConformance(() => s, fixtureTask);
    // Issue 11: join tokens and node credentials.
    joinConformance(() => s);
    // Issue 12: nodes that providers lent.
    lentConformance(() => s);
  });
}
