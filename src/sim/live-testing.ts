// The live control-plane run (`npm run bench:placement -- --live`, bench/placement-live.ts): the
// published arrivals of one seed, up to 130 % of capacity, driven through the server's real
// control plane — its store (SQLite in a temp dir), its HTTP submit route (Fastify inject, as the
// tests drive it), its scheduling cycle with the pool's stored workload estimate, and the agent
// protocol (register, poll assignments, report started) with one in-process simulated agent per
// trace node (1,213; no OS processes). Beside it, the simulator's `default (causal)` run of the same
// seed, decision by decision: "the placement users get is the placement we measure".
//
// The published protocol skips a pod that fits nowhere; the live equivalent is that its user
// cancels it after the cycle that could not place it (left pending, it would be retried by every
// later cycle and, under backfill, hold a reservation — a different experiment). Pods never end.
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { NodeInit, PolicyName, ResolvedPodRequest } from '../core/placement/index.js';
import type { TracePod } from './trace.js';
import { NODE_CREDENTIAL_HEADER } from '../protocol/agent.js';
import { makeHarness, type Harness } from '../server/testing.js';
import { LevelSampler } from './levels.js';
import { capacityMilli, publishedArrivals, publishedNodeNames, runPublishedSeed } from './published.js';
import { REPORT_LEVELS } from './run.js';

type Decision = { node: string; gpus: readonly number[] } | null;

/** A trace pod as the API's task spec (what a user would submit). */
export function podSpec(req: ResolvedPodRequest, name: string): Record<string, unknown> {
  if (req.models.length > 0) throw new Error(`${name}: a pod tied to GPU models (${req.models.join('|')}) is not part of the live bench (the default list has none)`);
  const gpu = req.gpuCount === 0 ? 0 : req.gpuCount > 1 ? req.gpuCount : req.gpuMilli / 1000;
  // The API refuses 0 MiB of host memory (and absent means 1 GiB), which a few trace pods ask for:
  // those ask for 1 MiB, the least a user can (a decision it changed would show as a divergence).
  return { name, command: ['true'], resources: { gpu, cpu: `${req.cpuMilli}m`, memory: `${Math.max(1, req.memoryMiB)}MiB` } };
}

function cpuSecondsSince(from: NodeJS.CpuUsage): number {
  const c = process.cpuUsage(from);
  return (c.user + c.system) / 1e6;
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

type Req = Harness['req'];

/** One simulated agent per trace node, speaking the protocol through the endpoints. */
class LiveNode {
  nodeId = '';
  credential: string | undefined;
  constructor(
    readonly init: NodeInit,
    private readonly req: Req,
  ) {}

  private headers(): Record<string, string> {
    return this.credential !== undefined ? { [NODE_CREDENTIAL_HEADER]: this.credential } : {};
  }

  async register(): Promise<void> {
    const n = this.init;
    const res = await this.req('POST', '/v1/agent/register', {
      name: n.name,
      cpuMilli: n.cpuMilli,
      memoryMiB: n.memoryMiB,
      labels: {},
      // The trace gives no GPU memory or speed, which registration requires: placeholders that
      // the trace's requests (GPU milli, no memory) never read.
      gpus: n.gpus.map((g) => ({ index: g.index, uuid: `${n.id}-gpu${g.index}`, model: g.model, memoryMiB: g.memoryMiB || 16_384, tflops: g.tflops || 10, sharing: g.exclusive ? 'exclusive' : 'simulated' })),
      simulated: true,
      agentVersion: 'bench-live',
      tasks: [],
    });
    if (res.status !== 200) throw new Error(`register ${n.name}: ${res.status} ${res.raw}`);
    this.nodeId = res.body.nodeId;
    this.credential = res.body.credential;
  }

  /** Polls its assignments and reports each new one started, as an agent does. Answers the task ids. */
  async pollAndStart(now: number): Promise<string[]> {
    const r = await this.req('GET', `/v1/agent/assignments?nodeId=${this.nodeId}&waitMs=0`, undefined, this.headers());
    if (r.status !== 200) throw new Error(`poll ${this.init.name}: ${r.status} ${r.raw}`);
    const fresh = (r.body.assignments as { taskId: string; attempt: number }[]).filter((a) => !this.started.has(`${a.taskId}#${a.attempt}`));
    if (fresh.length === 0) return [];
    for (const a of fresh) this.started.add(`${a.taskId}#${a.attempt}`);
    const tasks = fresh.map((a) => ({ taskId: a.taskId, attempt: a.attempt, status: 'running', pid: 1000, startedAt: now }));
    const s = await this.req('POST', '/v1/agent/reports', { nodeId: this.nodeId, tasks }, this.headers());
    if (s.status !== 200) throw new Error(`report ${this.init.name}: ${s.status} ${s.raw}`);
    return fresh.map((a) => a.taskId);
  }

  private readonly started = new Set<string>();
}

export interface LiveResult {
  seed: number;
  nodes: number;
  gpus: number;
  arrivals: number;
  live: Record<string, number | null>;
  sim: Record<string, number | null>;
  placedLive: number;
  placedSim: number;
  sameDecisions: number;
  firstDivergence: number | null;
  wallSeconds: number;
  /** CPU seconds (user + system) of the process over the same span: on a shared machine, what the run itself cost. */
  cpuSeconds: number;
  /** The machine's 1, 5 and 15-minute load averages at the end (a shared machine's wall time depends on them). */
  loadAverage: number[];
  registerSeconds: number;
  cycleMs: { count: number; p50: number; p90: number; p99: number; max: number; mean: number };
  perArrivalMs: { p50: number; p99: number };
}

export interface LiveOptions {
  /** The cluster as the trace lists it (the published renaming for the seed is applied here). */
  nodes: readonly NodeInit[];
  pods: readonly TracePod[];
  seed: number;
  tune?: number;
  /** Only the first `limit` arrivals. */
  limit?: number;
  /** The server's placement policy (default `default`); another one is the tests' negative control. */
  serverPolicy?: PolicyName;
  /** Progress lines. */
  log?: (line: string) => void;
}

/** Drives the seed's arrivals through a real server and compares with the simulator's `default (causal)`. */
export async function runLive(o: LiveOptions): Promise<LiveResult> {
  const seed = o.seed;
  const tune = o.tune ?? 1.3;
  const log = o.log ?? (() => {});
  const maxLevel = 130;
  const nodes = publishedNodeNames(o.nodes, seed);
  const pods = o.pods;
  const cap = capacityMilli(nodes);
  const totalGpus = cap / 1000;
  const arrivals = publishedArrivals(pods, cap, seed, tune).slice(0, o.limit ?? Infinity);

  // The simulator's run of the same seed (its own node renaming, the same names), decision by decision.
  log(`simulator: default (causal), seed ${seed} …`);
  const simDecisions: Decision[] = [];
  const sim = runPublishedSeed({ nodes: o.nodes, pods, policy: 'default', seed, tune, estimate: 'causal', onChoice: (i, _r, c) => (simDecisions[i] = c) }, maxLevel);

  // The tests' harness: a real SQLite store in a temp dir, the app driven with inject, a ManualClock
  // (no time passes, so no node is ever lost for a missed heartbeat).
  const h = await makeHarness({ log: () => {}, ...(o.serverPolicy ? { policy: { placement: o.serverPolicy } } : {}) });
  const req = h.req;
  const clock = h.clock;
  const control = h.server.control;
  // The server's whole cycle (schedule() with the stored estimate, apply, commit), wall time.
  const cycles: number[] = [];
  const runCycle = control.runCycle.bind(control);
  let cyclePlaced = false;
  control.hooks.cycle = () => (cyclePlaced = true);
  control.runCycle = async () => {
    const t0 = performance.now();
    cyclePlaced = false;
    await runCycle();
    if (cyclePlaced) cycles.push(performance.now() - t0);
  };
  try {
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    log(`live: registering ${nodes.length} simulated agents …`);
    const agents = new Map<string, LiveNode>();
    for (const n of nodes) {
      const a = new LiveNode(n, req);
      await a.register();
      agents.set(n.name, a);
    }
    await control.settle();
    const registerSeconds = (performance.now() - t0) / 1000;
    log(`live: ${arrivals.length} arrivals through POST /v1/tasks …`);
    const sampler = new LevelSampler(maxLevel, 1);
    const perArrival: number[] = [];
    let used = 0;
    let arrived = 0;
    let placed = 0;
    let same = 0;
    let firstDivergence: number | null = null;
    const width = String(arrivals.length).length;
    for (let i = 0; i < arrivals.length; i++) {
      const r = arrivals[i]!;
      const a0 = performance.now();
      arrived += r.gpuMilli * r.gpuCount;
      const sub = await req('POST', '/v1/tasks', podSpec(r, `pod-${String(i).padStart(width, '0')}`));
      if (sub.status !== 201) throw new Error(`submit ${i}: ${sub.status} ${sub.raw}`);
      const id = sub.body.tasks[0].id as string;
      await control.settle();
      const v = (await req('GET', `/v1/tasks/${id}`)).body;
      let got: Decision = null;
      if (v.state === 'SCHEDULED') {
        got = { node: v.placement.node, gpus: v.placement.gpus };
        const agent = agents.get(got.node)!;
        const started = await agent.pollAndStart(clock.now());
        if (!started.includes(id)) throw new Error(`${id} placed on ${got.node} but its agent was not handed it`);
        placed++;
        used += v.placement.gpuMilli * v.placement.gpus.length;
      } else if (v.state === 'PENDING') {
        const c = await req('POST', `/v1/tasks/${id}/cancel`);
        if (c.status !== 200) throw new Error(`cancel ${id}: ${c.status} ${c.raw}`);
      } else {
        throw new Error(`${id}: unexpected state ${v.state} after its cycle`);
      }
      const want = simDecisions[i] ?? null;
      const agree = (got === null && want === null) || (got !== null && want !== null && got.node === want.node && got.gpus.join(',') === want.gpus.join(','));
      if (agree) same++;
      else if (firstDivergence === null) {
        firstDivergence = i;
        log(`live: first divergence at arrival ${i}: server ${JSON.stringify(got)}, simulator ${JSON.stringify(want)}`);
      }
      sampler.add(arrived / totalGpus / 10, [Math.round((used / totalGpus / 10) * 100) / 100]);
      perArrival.push(performance.now() - a0);
      if (i % 500 === 499) {
        const cs = [...cycles].sort((x, y) => x - y);
        log(`live: ${i + 1} arrivals (${((100 * arrived) / cap).toFixed(1)} % of capacity), ${same} identical decisions, allocated ${((100 * used) / cap).toFixed(2)} %, ${((performance.now() - t0) / 1000).toFixed(0)} s (CPU ${(cpuSecondsSince(cpu0)).toFixed(0)} s); cycle p50 ${quantile(cs, 0.5).toFixed(1)} ms, p99 ${quantile(cs, 0.99).toFixed(1)} ms`);
      }
    }
    const wallSeconds = (performance.now() - t0) / 1000;
    const liveCurve = sampler.values(0);
    const at = (c: readonly (number | null)[]) => Object.fromEntries(REPORT_LEVELS.map((l) => [String(l), c[l] === null || c[l] === undefined ? null : Math.round(c[l]! * 100) / 100]));
    const cs = [...cycles].sort((x, y) => x - y);
    const pa = [...perArrival].sort((x, y) => x - y);
    const r2 = (x: number) => Math.round(x * 100) / 100;
    return {
      seed,
      nodes: nodes.length,
      gpus: totalGpus,
      arrivals: arrivals.length,
      live: at(liveCurve),
      sim: at(sim.allocation),
      placedLive: placed,
      placedSim: simDecisions.slice(0, arrivals.length).filter((d) => d !== null).length,
      sameDecisions: same,
      firstDivergence,
      wallSeconds: r2(wallSeconds),
      cpuSeconds: r2(cpuSecondsSince(cpu0)),
      loadAverage: loadavg(),
      registerSeconds: r2(registerSeconds),
      cycleMs: { count: cs.length, p50: r2(quantile(cs, 0.5)), p90: r2(quantile(cs, 0.9)), p99: r2(quantile(cs, 0.99)), max: r2(cs.at(-1) ?? NaN), mean: r2(cs.reduce((x, y) => x + y, 0) / Math.max(1, cs.length)) },
      perArrivalMs: { p50: r2(quantile(pa, 0.5)), p99: r2(quantile(pa, 0.99)) },
    };
  } finally {
    await h.close();
  }
}

