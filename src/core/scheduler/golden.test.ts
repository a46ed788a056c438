// Decisions must not change when the cycle is made faster: every policy, with and without backfill
// and fair share, plays seeded random pools and queues (mixed models, fractions, whole GPUs,
// CPU-only, gangs, equal priorities and submit times, time limits, nodes not READY), and the
// digest of everything schedule() returns is compared with the one recorded before the speed work
// (a change of behaviour must update these digests on purpose, saying why in its commit).
import { describe, expect, it } from 'vitest';
import { POLICY_NAMES } from '../placement/index.js';
import type { PolicyName } from '../placement/types.js';
import type { NodeRecord, Task } from '../types.js';
import { schedule } from './schedule.js';
import { fairShareOrder } from './tenancy.js';
import { makeNode, makeTask, seededRng, type TaskOpts } from './testing.js';
import type { ScheduleResult, SchedulerPolicy, SchedulerSnapshot } from './types.js';

const NOW = 1_700_000_000_000;
const HOUR = 3_600_000;

function nodes(rng: () => number, n: number): NodeRecord[] {
  return Array.from({ length: n }, (_, i) => {
    const kind = Math.floor(rng() * 3);
    const state = rng() < 0.05 ? 'DRAINING' : 'READY';
    const name = `n-${String(Math.floor(rng() * 100)).padStart(2, '0')}-${i}`;
    if (kind === 0) return makeNode(name, { gpus: 8, cpuMilli: 192_000, memoryMiB: 2_097_152, state });
    if (kind === 1) return makeNode(name, { gpus: 4, model: 'A100-40GB', gpuMemoryMiB: 40_960, tflops: 312, cpuMilli: 32_000, memoryMiB: 262_144, state });
    return makeNode(name, { gpus: 2, model: 'T4', gpuMemoryMiB: 16_384, tflops: 65, cpuMilli: 16_000, memoryMiB: 65_536, sharing: rng() < 0.5 ? 'exclusive' : 'simulated', state });
  });
}

const GPUS: TaskOpts['gpu'][] = [0.1, 0.25, 0.5, 0.5, 1, 1, 2, 4, 8, null, { count: 1, share: { kind: 'memory', memoryMiB: 10_240 } }, { count: 1, share: { kind: 'milli', milli: 1000 }, model: 'A100-40GB' }];

function queue(rng: () => number, n: number, prefix: string, tenants: readonly string[]): Task[] {
  const out: Task[] = [];
  for (let i = 0; i < n; i++) {
    const gang = rng() < 0.04 ? 2 + Math.floor(rng() * 3) : 1;
    const base: TaskOpts = {
      gpu: GPUS[Math.floor(rng() * GPUS.length)]!,
      cpuMilli: [0, 1000, 4000, 16_000][Math.floor(rng() * 4)]!,
      memoryMiB: [1024, 8192, 65_536][Math.floor(rng() * 3)]!,
      priority: [10, 50, 50, 90][Math.floor(rng() * 4)]!,
      createdAt: NOW - 1000 + Math.floor(rng() * 50),
      ...(rng() < 0.6 ? { timeLimitMs: [10 * 60_000, HOUR, 4 * HOUR][Math.floor(rng() * 3)]! } : {}),
    };
    const tenant = tenants[Math.floor(rng() * tenants.length)]!;
    for (let k = 0; k < gang; k++) {
      const id = `${prefix}${i}${gang > 1 ? `.${k}` : ''}`;
      const t = makeTask(id, { ...base, ...(gang > 1 ? { gang, gangId: `g-${prefix}${i}`, gangIndex: k } : {}) });
      out.push({ ...t, spec: { ...t.spec, tenant } });
    }
  }
  // Any order: the scheduler orders them.
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** FNV-1a over the JSON of the result: a short, stable digest. */
function digest(r: ScheduleResult): string {
  const s = JSON.stringify(r);
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return `${h.toString(16).padStart(8, '0')}/${s.length}`;
}

/** A pool part-filled by a first cycle, a few of those tasks gone, and a new queue: the second cycle's result. */
function scenario(seed: number, placement: PolicyName, backfill: boolean, fair: boolean): ScheduleResult {
  const rng = seededRng(seed);
  const tenants = fair ? ['a', 'b', 'c'] : ['default'];
  const pool = nodes(rng, 24);
  const policy = (): SchedulerPolicy => ({ placement, backfill, defaultRuntimeMs: HOUR, rng: seededRng(seed + 1), ...(fair ? { order: fairShareOrder() } : {}) });
  const tenancy = fair ? { tenancy: { tenants: [{ name: 'a', guaranteeMilli: 8000, limitMilli: null, weight: 2, budget: null }, { name: 'b', guaranteeMilli: 0, limitMilli: 20_000, weight: 1, budget: null }] } } : {};
  const first = queue(rng, 120, 'f', tenants);
  const r1 = schedule({ nodes: pool, active: [], pending: first, reservations: [], ...tenancy }, NOW - HOUR, policy());
  const byId = new Map(first.map((t) => [t.id, t]));
  const active: Task[] = [];
  for (const d of r1.decisions) {
    if (d.kind !== 'place' || rng() < 0.15) continue;
    const t = byId.get(d.taskId)!;
    const startedAt = NOW - Math.floor(rng() * 20 * 60_000);
    active.push({ ...t, state: 'RUNNING', placement: d.placement, attempts: 1, scheduledAt: startedAt, startedAt });
  }
  const snapshot: SchedulerSnapshot = { nodes: pool, active, pending: queue(rng, 300, 'p', tenants), reservations: [], ...tenancy };
  return schedule(snapshot, NOW, policy());
}

const GOLDEN: Record<string, string> = {
  'default/1/bf/prio': 'bff743cb/52828',
  'default/1/bf/fair': 'deb404ec/51269',
  'default/1/strict/prio': 'e2973f4b/50331',
  'default/1/strict/fair': '85422b42/54513',
  'default/2/bf/prio': '23749c82/56427',
  'default/2/bf/fair': '3900a4f9/56715',
  'default/2/strict/prio': '103cf3d9/59347',
  'default/2/strict/fair': '3f5961d8/51972',
  'first-fit/1/bf/prio': 'c6665661/49698',
  'first-fit/1/bf/fair': '3b783b43/50868',
  'first-fit/1/strict/prio': 'a5154789/50330',
  'first-fit/1/strict/fair': '1ca33b54/54409',
  'first-fit/2/bf/prio': '69cc1b8f/56843',
  'first-fit/2/bf/fair': '2aba86ad/56318',
  'first-fit/2/strict/prio': '5dc4fdef/51665',
  'first-fit/2/strict/fair': 'ba74549b/49868',
  'random/1/bf/prio': '4c308018/58522',
  'random/1/bf/fair': 'c71f4580/57936',
  'random/1/strict/prio': 'f7e89325/50657',
  'random/1/strict/fair': '670f6e25/58200',
  'random/2/bf/prio': '0d37c56e/58208',
  'random/2/bf/fair': '2f6e0311/56392',
  'random/2/strict/prio': '746d8fd5/79005',
  'random/2/strict/fair': 'ab0cc2e9/53409',
  'dotprod/1/bf/prio': 'db4278e5/53344',
  'dotprod/1/bf/fair': '9e9ae01d/52546',
  'dotprod/1/strict/prio': '3e61ba59/52228',
  'dotprod/1/strict/fair': 'c854c282/54257',
  'dotprod/2/bf/prio': 'c6c9e319/55834',
  'dotprod/2/bf/fair': '079d9953/55915',
  'dotprod/2/strict/prio': '39a68d73/52631',
  'dotprod/2/strict/fair': '3f6a5c26/53478',
  'gpu-clustering/1/bf/prio': '1d2bc040/53904',
  'gpu-clustering/1/bf/fair': 'e45797a6/51895',
  'gpu-clustering/1/strict/prio': 'deec375d/50399',
  'gpu-clustering/1/strict/fair': 'a50772d3/54497',
  'gpu-clustering/2/bf/prio': 'dd668777/55296',
  'gpu-clustering/2/bf/fair': '1017d66f/56895',
  'gpu-clustering/2/strict/prio': '11550b6b/51983',
  'gpu-clustering/2/strict/fair': '56f52381/54221',
  'gpu-packing/1/bf/prio': 'd95dbcb4/53196',
  'gpu-packing/1/bf/fair': 'c5e58a94/50953',
  'gpu-packing/1/strict/prio': 'e225862f/52692',
  'gpu-packing/1/strict/fair': 'c8024baa/53317',
  'gpu-packing/2/bf/prio': '73524f65/57318',
  'gpu-packing/2/bf/fair': '094e912f/56717',
  'gpu-packing/2/strict/prio': '6370d3c3/54643',
  'gpu-packing/2/strict/fair': 'e94d3305/49760',
  'best-fit/1/bf/prio': 'c109cbfc/52931',
  'best-fit/1/bf/fair': '9ccb1a73/52889',
  'best-fit/1/strict/prio': '1a5ed8f0/52798',
  'best-fit/1/strict/fair': 'fb99f2d6/54047',
  'best-fit/2/bf/prio': 'f11f84fc/56625',
  'best-fit/2/bf/fair': '1720208c/57218',
  'best-fit/2/strict/prio': 'd249c7e5/51866',
  'best-fit/2/strict/fair': '713376a3/53928',
  'fgd/1/bf/prio': 'd48a53c5/54544',
  'fgd/1/bf/fair': '59bf09c1/50663',
  'fgd/1/strict/prio': '2c0c08ce/50394',
  'fgd/1/strict/fair': '959a0732/54510',
  'fgd/2/bf/prio': '13563ccf/56050',
  'fgd/2/bf/fair': '7291a2b7/55028',
  'fgd/2/strict/prio': '4c1314f9/59146',
  'fgd/2/strict/fair': '7cbc2aa3/51976',
  'spread/1/bf/prio': '64103cbb/62428',
  'spread/1/bf/fair': 'f2d27efd/59934',
  'spread/1/strict/prio': '04b3eb06/50643',
  'spread/1/strict/fair': 'af4b4f46/80631',
  'spread/2/bf/prio': '0659acd5/58386',
  'spread/2/bf/fair': '53d6e352/58269',
  'spread/2/strict/prio': '6dc1539c/76233',
  'spread/2/strict/fair': '8866806d/51476',
};

describe('schedule() decisions stay as recorded', () => {
  for (const placement of POLICY_NAMES) {
    it(`${placement}: the same decisions, reasons and head as before`, () => {
      const got: Record<string, string> = {};
      for (const seed of [1, 2]) {
        for (const backfill of [true, false]) {
          for (const fair of [false, true]) got[`${placement}/${seed}/${backfill ? 'bf' : 'strict'}/${fair ? 'fair' : 'prio'}`] = digest(scenario(seed * 101, placement, backfill, fair));
        }
      }
      // On a mismatch the diff shows the new digests.
      expect(got).toEqual(Object.fromEntries(Object.keys(got).map((k) => [k, GOLDEN[k]])));
    });
  }
});
