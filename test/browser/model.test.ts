// The dashboard's pure parts (web/src/model, the log buffer, formatting), without a browser.
import { describe, expect, it } from 'vitest';
import { LogBuffer, MARKER, STDERR, STDOUT } from '../../web/src/components/logbuffer.js';
import { chartTicks, contrastWithWhite, gpus, mib, placedOn, reasonWords, taskGpu, tenantColour, time, TIME_FORMAT } from '../../web/src/format.js';
import { totalsOf } from '../../web/src/model/pool.js';
import { queueOrder } from '../../web/src/model/queue.js';
import { matches } from '../../web/src/model/tasks.js';
import { mergeEvents, timeline } from '../../web/src/model/timeline.js';
import { usageFromReport, usageFromTasks } from '../../web/src/model/usage.js';
import { allocatedFromTasks, busyFromAllocation, busyFromSamples } from '../../web/src/model/utilisation.js';
import type { GpuView, LogChunkView, PoolEvent, TaskDetailView, TaskView, UsageReportJson } from '../../web/src/types.js';

let pos = 0;
const chunk = (data: string, stream: 'stdout' | 'stderr' = 'stdout', attempt = 1): LogChunkView => ({ pos: ++pos, attempt, stream, seq: pos, at: '', data });

const gpu = (over: Partial<GpuView>): GpuView => ({
  node: 'box',
  nodeId: 'n1',
  nodeState: 'READY',
  index: 0,
  uuid: 'u',
  model: 'H100-80GB',
  memoryMiB: 81920,
  tflops: 989,
  sharing: 'simulated',
  allocatedMilli: 0,
  allocatedMemoryMiB: 0,
  slices: [],
  ...over,
});

const task = (over: Partial<TaskView>): TaskView => ({
  id: 't1',
  name: 'train',
  state: 'PENDING',
  reason: null,
  reasonMessage: null,
  priority: 50,
  exitCode: null,
  attempts: 0,
  tenant: 'default',
  createdAt: '2026-01-01T00:00:00.000Z',
  scheduledAt: null,
  startedAt: null,
  finishedAt: null,
  spec: { name: 'train', command: ['python', 'train.py'], env: {}, resources: { gpu: null, cpuMilli: 1000, memoryMiB: 1024 }, priority: 50, retries: 0, preemptible: false, gang: 1, tenant: 'default' },
  placement: null,
  gangId: null,
  gangIndex: 0,
  vgpuId: null,
  ...over,
});

const placement = (gpuMilli: number, gpusOn: number[] = [0]) => ({ node: 'box', nodeId: 'n1', gpus: gpusOn, gpuUuids: [], gpuMilli, memoryMiB: 0, cpuMilli: 1000, hostMemoryMiB: 1024, sharing: 'simulated' as const });

describe('LogBuffer', () => {
  it('joins lines split across chunks, per stream, and keeps stdout and stderr apart', () => {
    const b = new LogBuffer();
    b.append(chunk('one\ntw'));
    b.append(chunk('oops\n', 'stderr'));
    b.append(chunk('o\nthree\n'));
    expect(b.lines).toEqual(['one', 'two', 'oops', 'three']);
    expect(b.kinds).toEqual([STDOUT, STDOUT, STDERR, STDOUT]);
  });

  it('drops duplicates by position, marks new attempts, strips CR', () => {
    const b = new LogBuffer();
    const c = chunk('a\r\n');
    b.append(c);
    b.append(c);
    b.append(chunk('b\n', 'stdout', 2));
    expect(b.lines).toEqual(['a', '── attempt 2 ──', 'b']);
    expect(b.kinds[1]).toBe(MARKER);
    expect(b.text()).toBe('a\n── attempt 2 ──\nb\n');
  });

  it('searches 100k lines case-insensitively', () => {
    const b = new LogBuffer();
    let data = '';
    for (let i = 1; i <= 100_000; i++) data += i === 95_000 ? 'The NEEDLE\n' : `line ${i}\n`;
    b.append(chunk(data));
    expect(b.search('needle')).toEqual([94_999]);
    expect(b.search('LINE 7')).toHaveLength(11_111); // 7, 70–79, 700–799, 7000–7999, 70000–79999
  });
});

describe('pool totals', () => {
  it('counts capacity on READY nodes, and fragmented capacity as free compute in partly used GPUs', () => {
    const t = totalsOf([
      gpu({ index: 0, allocatedMilli: 750, slices: [{ taskId: 'a', name: 'a', tenant: 'x', milli: 750, memoryMiB: 0 }] }),
      gpu({ index: 1, allocatedMilli: 500, slices: [{ taskId: 'b', name: 'b', tenant: 'y', milli: 500, memoryMiB: 0 }] }),
      gpu({ index: 2 }),
      gpu({ index: 3, nodeState: 'LOST', allocatedMilli: 250 }),
    ]);
    expect(t.capacityMilli).toBe(3000);
    expect(t.allocatedMilli).toBe(1250);
    expect(t.fragmentedMilli).toBe(750);
    expect(t.partlyUsed).toBe(2);
    expect(t.idleGpus).toBe(1);
    expect(t.largestFreeMilli).toBe(1000);
    expect(Object.fromEntries(t.byTenant)).toEqual({ x: 750, y: 500 });
  });
});

describe('queue and task list', () => {
  it('orders the queue by priority, then age', () => {
    const q = queueOrder([
      task({ id: 'old-low', priority: 10, createdAt: '2026-01-01T00:00:00Z' }),
      task({ id: 'new-high', priority: 90, createdAt: '2026-01-02T00:00:00Z' }),
      task({ id: 'old-high', priority: 90, createdAt: '2026-01-01T00:00:00Z' }),
      task({ id: 'running', state: 'RUNNING', priority: 100 }),
    ]);
    expect(q.map((t) => t.id)).toEqual(['old-high', 'new-high', 'old-low']);
  });

  it('filters by state and searches name, id, tenant, node and command', () => {
    const t = task({ id: 't_abc', state: 'RUNNING', placement: placement(500) });
    expect(matches(t, '', new Set())).toBe(true);
    expect(matches(t, 'TRAIN.PY', new Set())).toBe(true);
    expect(matches(t, 'box', new Set(['RUNNING']))).toBe(true);
    expect(matches(t, 't_abc', new Set(['FAILED']))).toBe(false);
    expect(matches(t, 'nothing', new Set())).toBe(false);
  });

  it('says pending reasons in words', () => {
    expect(reasonWords('Fragmentation')).toMatch(/no single GPU/);
    expect(reasonWords(null)).toMatch(/not looked at it yet/);
  });
});

describe('usage', () => {
  it('works out GPU-hours per tenant and model from placements, clipped to the period', () => {
    const lines = usageFromTasks(
      [
        task({ id: 'a', state: 'SUCCEEDED', placement: placement(500), startedAt: '2026-01-01T00:00:00Z', finishedAt: '2026-01-01T02:00:00Z' }),
        task({ id: 'b', state: 'SUCCEEDED', placement: placement(1000, [0, 1]), startedAt: '2026-01-01T01:00:00Z', finishedAt: '2026-01-01T02:00:00Z' }),
        task({ id: 'c', state: 'PENDING' }),
      ],
      [gpu({ index: 0 }), gpu({ index: 1 })],
      Date.parse('2026-01-01T01:00:00Z'),
      Date.parse('2026-01-01T03:00:00Z'),
    );
    expect(lines).toEqual([{ tenant: 'default', gpuModel: 'H100-80GB', gpuSeconds: 0.5 * 3600 + 2 * 3600, tasks: 2, promotions: [] }]);
  });

  it('sums the priced report per tenant and model', () => {
    const row = (tenant: string, taskId: string, charged: number, promotions: string[]) => ({
      tenant, taskId, gpuModel: 'H100-80GB', gpuSeconds: 3600, promotions,
      listAmount: charged + 1, discountAmount: 1, chargedAmount: charged, listMicros: '', discountMicros: '', chargedMicros: '',
    });
    const report: UsageReportJson = {
      from: null, to: null, currency: 'USD',
      rows: [row('a', 't1', 2, ['p1']), row('a', 't2', 3, ['p2']), row('b', 't3', 4, [])],
      totals: { gpuSeconds: 10800, promotions: ['p1', 'p2'], listAmount: 12, discountAmount: 3, chargedAmount: 9, listMicros: '', discountMicros: '', chargedMicros: '' },
    };
    const [a, b] = usageFromReport(report);
    expect(a).toMatchObject({ tenant: 'a', tasks: 2, gpuSeconds: 7200, charged: 5, discount: 2, list: 7, promotions: ['p1', 'p2'] });
    expect(b).toMatchObject({ tenant: 'b', tasks: 1, charged: 4, promotions: [] });
  });
});

describe('utilisation series', () => {
  it('sums each GPU’s mean utilisation per bucket; gaps stay null', () => {
    const s = (at: number, gpuIndex: number, utilPercent: number) => ({ at, nodeId: 'n1', gpuIndex, utilPercent });
    expect(busyFromSamples([s(0, 0, 50), s(5, 0, 100), s(6, 1, 20)], 0, 40, 4)).toEqual([0.75 + 0.2, null, null, null]);
    // ISO times work as well as epoch milliseconds.
    expect(busyFromSamples([{ at: new Date(25).toISOString(), nodeId: 'n', gpuIndex: 0, utilPercent: 40 }], 0, 40, 4)).toEqual([null, null, 0.4, null]);
  });

  it('reads busy GPUs from the server’s per-bucket totals as from its per-GPU points', () => {
    // Two GPUs at 50 % and 100 % in bucket 0: 1.5 busy either way.
    const s = (at: number, gpuIndex: number, utilPercent: number) => ({ at, nodeId: 'n1', gpuIndex, utilPercent });
    expect(busyFromAllocation([{ at: 0, allocatedMilli: 0, capacityMilli: 2000, utilPercent: 75 }, { at: 25, allocatedMilli: 0, capacityMilli: 1000, utilPercent: 40 }], 0, 40, 4)).toEqual([1.5, null, 0.4, null]);
    expect(busyFromSamples([s(0, 0, 50), s(0, 1, 100), s(25, 0, 40)], 0, 40, 4)).toEqual([1.5, null, 0.4, null]);
    // Totals without utilisation (an older server) give nothing to draw.
    expect(busyFromAllocation([{ at: 0, allocatedMilli: 0, capacityMilli: 1000 }], 0, 40, 4)).toEqual([null, null, null, null]);
  });

  it('adds a task’s GPUs to every bucket it held them at', () => {
    const t = task({ scheduledAt: new Date(15).toISOString(), finishedAt: new Date(35).toISOString(), placement: placement(500, [0, 1]) });
    expect(allocatedFromTasks([t], 0, 40, 4, 100)).toEqual([0, 1, 1, 0]);
  });
});

describe('formatting', () => {
  it('writes GPUs and memory the way people do', () => {
    expect(gpus(500)).toBe('0.5');
    expect(gpus(250)).toBe('0.25');
    expect(gpus(2000)).toBe('2');
    expect(mib(81920)).toBe('80 GiB');
    expect(mib(512)).toBe('512 MiB');
    expect(mib(64000 * 1024)).toBe('62.5 TiB');
  });

  it('gives every tenant a colour white text can be read on (≥ 4.5:1)', () => {
    for (const name of ['default', 'research', 'prod', 'team-a', 'team-b', 'x', 'yellow', 'ml-platform']) {
      const m = /^rgb\((\d+) (\d+) (\d+)\)$/.exec(tenantColour(name))!;
      const rgb = [Number(m[1]) / 255, Number(m[2]) / 255, Number(m[3]) / 255] as [number, number, number];
      expect(contrastWithWhite(rgb)).toBeGreaterThanOrEqual(4.45);
    }
  });
});

describe('timeline', () => {
  it('tells the task’s story oldest first', () => {
    const t: TaskDetailView = {
      ...task({ state: 'SUCCEEDED', exitCode: 0, finishedAt: '2026-01-01T00:00:03Z' }),
      attempt: 1,
      attempts: [{ attempt: 1, nodeId: 'n1', node: 'box', placement: placement(500), scheduledAt: '2026-01-01T00:00:01Z', startedAt: '2026-01-01T00:00:02Z', endedAt: '2026-01-01T00:00:03Z', outcome: 'SUCCEEDED', exitCode: 0 }],
    };
    expect(timeline(t, []).map((x) => x.what)).toEqual([
      'Submitted by tenant default, priority 50',
      'Attempt 1 placed on box GPU 0 (0.5 each)',
      'Attempt 1 started',
      'Attempt 1 ended: SUCCEEDED, exit code 0',
      'Finished: SUCCEEDED (exit code 0)',
    ]);
  });

  const T0 = Date.parse('2026-01-01T00:00:00Z');
  const ev = (seq: number, type: PoolEvent['type'], atS: number, data: Record<string, unknown> = {}, nodeId?: string): PoolEvent => ({
    seq,
    at: T0 + atS * 1000,
    type,
    taskId: 't1',
    ...(nodeId ? { nodeId } : {}),
    data,
  });
  const lostThenDone: PoolEvent[] = [
    ev(1, 'task.submitted', 0, { name: 'train', tenant: 'default', gangId: null }),
    ev(4, 'task.scheduled', 1, { attempt: 1, node: 'box', gpus: [0], gpuMilli: 500 }, 'n1'),
    ev(6, 'task.started', 2, { attempt: 1, pid: 42 }, 'n1'),
    ev(9, 'task.requeued', 5, { after: 'LOST', attempt: 1 }, 'n1'),
    ev(12, 'task.pending', 6, { reason: 'Quota', message: 'tenant default is at its limit' }),
    ev(15, 'task.scheduled', 8, { attempt: 2, node: 'box2', gpus: [1], gpuMilli: 500, borrowed: true }, 'n2'),
    ev(17, 'task.started', 9, { attempt: 2 }, 'n2'),
    ev(20, 'task.finished', 12, { state: 'SUCCEEDED', exitCode: 0, attempt: 2 }, 'n2'),
  ];

  it('tells the whole story of a task from its stored events, the steps the record lacks included', () => {
    const at = (s: number): string => new Date(T0 + s * 1000).toISOString();
    const attempt = (n: number, node: string, gpu: number, from: number, to: number, outcome: 'LOST' | 'SUCCEEDED') => ({
      attempt: n, nodeId: `n${n}`, node, placement: { ...placement(500, [gpu]), node }, scheduledAt: at(from), startedAt: at(from + 1), endedAt: at(to), outcome, exitCode: outcome === 'LOST' ? null : 0,
    });
    const t: TaskDetailView = {
      ...task({ state: 'SUCCEEDED', exitCode: 0, createdAt: at(0), finishedAt: at(12) }),
      attempt: 2,
      attempts: [attempt(1, 'box', 0, 1, 5, 'LOST'), attempt(2, 'box2', 1, 8, 12, 'SUCCEEDED')],
    };
    const items = timeline(t, lostThenDone);
    expect(items.map((x) => [x.what, x.event ?? null])).toEqual([
      ['Submitted by tenant default, priority 50', 'task.submitted'],
      ['Attempt 1 placed on box GPU 0 (0.5 each)', 'task.scheduled'],
      ['Attempt 1 started', 'task.started'],
      ['Attempt 1 ended: LOST', null],
      ['Sent back to the queue after attempt 1 (LOST)', 'task.requeued'],
      ['Waiting: Its tenant is at its quota; it starts when the tenant’s other tasks finish.', 'task.pending'],
      ['Attempt 2 placed on box2 GPU 1 (0.5 each), on borrowed capacity (beyond its tenant’s guarantee: it may be preempted when another tenant claims its guarantee, then requeued with no retry used)', 'task.scheduled'],
      ['Attempt 2 started', 'task.started'],
      ['Attempt 2 ended: SUCCEEDED, exit code 0', null],
      ['Finished: SUCCEEDED (exit code 0)', 'task.finished'],
    ]);
    // Times come from the record where it has them, from the events otherwise.
    expect(items.map((x) => x.at)).toEqual([0, 1, 2, 5, 5, 6, 8, 9, 12, 12].map(at));
  });

  it('tells the story from the events alone before the record has caught up', () => {
    const t: TaskDetailView = { ...task({ state: 'PENDING', createdAt: new Date(T0).toISOString() }), attempt: 0, attempts: [] };
    expect(timeline(t, lostThenDone.slice(0, 3)).map((x) => x.what)).toEqual([
      'Submitted by tenant default, priority 50',
      'Attempt 1 placed on box GPU 0 (0.5 each)',
      'Attempt 1 started',
    ]);
    // Steps at the same millisecond keep the order they happen in.
    const sameMs = [ev(1, 'task.submitted', 0), ev(2, 'task.cancelled', 0, { state: 'PENDING' })];
    const cancelled: TaskDetailView = { ...task({ state: 'CANCELLED', createdAt: new Date(T0).toISOString(), finishedAt: new Date(T0).toISOString() }), attempt: 0, attempts: [] };
    expect(timeline(cancelled, sameMs).map((x) => x.what)).toEqual(['Submitted by tenant default, priority 50', 'Cancelled before it was placed', 'Finished: CANCELLED']);
    // The cancel's event may be stamped a millisecond after the record's end: the end stays last.
    const later = [ev(1, 'task.submitted', 0), { ...ev(2, 'task.cancelled', 0, { state: 'PENDING' }), at: T0 + 1 }];
    expect(timeline(cancelled, later).map((x) => x.what)).toEqual(['Submitted by tenant default, priority 50', 'Cancelled before it was placed', 'Finished: CANCELLED']);
  });

  it('merges the stored history and live events by seq, dropping repeats', () => {
    const history = lostThenDone.slice(0, 4);
    // A live event that the history already had, and one that arrived before the history did.
    const live = [lostThenDone[3]!, lostThenDone[4]!];
    const early = mergeEvents([], [lostThenDone[4]!]);
    expect(mergeEvents(early, history).map((e) => e.seq)).toEqual([1, 4, 6, 9, 12]);
    const merged = mergeEvents(history, live);
    expect(merged.map((e) => e.seq)).toEqual([1, 4, 6, 9, 12]);
    expect(mergeEvents(merged, live)).toBe(merged);
    expect(mergeEvents(merged, [])).toBe(merged);
    expect(mergeEvents([], [lostThenDone[1]!, lostThenDone[1]!]).map((e) => e.seq)).toEqual([4]);
  });
});

describe('times', () => {
  const t = new Date(2026, 11, 7, 9, 41, 5, 430).getTime(); // local time
  it('one format: month, day and time to the second, never ISO or milliseconds', () => {
    expect(time(t)).toBe(new Date(t).toLocaleString(undefined, TIME_FORMAT));
    expect(time(new Date(t).toISOString())).toBe(time(t));
    expect(time(t)).not.toMatch(/2026|\.430|T09/);
    expect([time(null), time(''), time('not a time')]).toEqual(['—', '—', '—']);
  });

  it('chart ticks: the same format without seconds, and without the date while all fall on one day', () => {
    const sameDay = chartTicks([t, t + 10 * 60_000]);
    expect(sameDay).toEqual([t, t + 10 * 60_000].map((x) => new Date(x).toLocaleString(undefined, { hour: '2-digit', minute: '2-digit' })));
    const days = chartTicks([t, t + 24 * 3600_000]);
    expect(days[1]).toBe(new Date(t + 24 * 3600_000).toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' }));
    expect(days.every((s) => !/:\d{2}:\d{2}/.test(s))).toBe(true);
  });
});

describe('a task inside a vGPU (issue 22: it showed "no GPU")', () => {
  it('names its vGPU where a task shows its GPU and its placement; a CPU-only task says no GPU', () => {
    expect(taskGpu({ resources: { gpu: null }, vgpuId: 'vg_1' })).toBe('its vGPU vg_1');
    expect(taskGpu({ resources: { gpu: null } })).toBe('no GPU');
    expect(taskGpu({ resources: { gpu: { count: 1, share: { kind: 'milli', milli: 500 } } } })).toBe('0.5 × GPU');
    expect(placedOn({ node: 'box', gpus: [], vgpuId: 'vg_1' })).toBe('box · vGPU vg_1');
    expect(placedOn({ node: 'box', gpus: [] })).toBe('box');
  });
});
