// Sweep benchmark (issue 14): 64 trials on 2 simulated H100s, at 0.25 GPU a trial against one
// trial per whole GPU, through the real server (HTTP API in-process, SQLite, control plane, sweep
// controller) with fake agents and a manual clock. A round is one minute of clock in which every
// running trial reports one step; a trial runs to 20 steps unless the median rule stops it.
// The model behind the ratio: a trial's speed does not depend on its slice (trials small enough
// that a quarter of a GPU runs them as fast as a whole one), which is what fractional sweeps are
// for; a trial that is compute-bound on a whole GPU gains nothing from packing.
// Prints trials per hour of clock for both, their ratio (target ≥ 3.5×) and, for slices freed by
// stopped or finished trials, how many scheduling cycles passed before the next trial used them
// (target: within one). `npm run bench:sweep`.
import { Sim } from '../src/server/sweeps-testing.js';
import { FakeAgent, h100s, makeHarness } from '../src/server/testing.js';

const TRIALS = 64;
const STEPS = 20;

interface Row {
  config: string;
  maxRunning: number;
  hours: number;
  perHour: number;
  pruned: number;
  waits: number[];
}

async function run(gpu: number, maxConcurrent: number): Promise<Row> {
  const h = await makeHarness();
  try {
    const agent = new FakeAgent(h, 'node-a', h100s(2));
    await agent.register();
    const t0 = h.clock.now();
    const res = await h.req('POST', '/v1/sweeps', {
      name: 'bench',
      command: 'python train.py --lr {lr}',
      space: { lr: { loguniform: [1e-4, 1e-1] } },
      trials: TRIALS,
      max_concurrent: maxConcurrent,
      gpu,
      metric: 'loss',
      early_stopping: { rule: 'median', min_steps: 4, min_trials: 4 },
      seed: 11,
    });
    if (res.status !== 201) throw new Error(`sweep: ${res.status} ${res.raw}`);
    const id = res.body.sweep.id as string;
    const params = new Map<string, number>();
    const sim = new Sim(h, agent, params, STEPS);
    let v = res.body;
    for (let round = 0; round < 10_000 && v.sweep.state === 'RUNNING'; round++) {
      for (const t of v.trials as { taskId: string; params: { lr: number } }[]) params.set(t.taskId, t.params.lr);
      await sim.round();
      v = (await h.req('GET', `/v1/sweeps/${id}`)).body;
    }
    // The clock moved one minute a round; the last round's minute is when the last trial ended.
    const hours = (h.clock.now() - t0) / 3_600_000;
    return {
      config: gpu < 1 ? `${gpu} GPU a trial` : 'one trial per whole GPU',
      maxRunning: sim.maxRunning,
      hours,
      perHour: TRIALS / hours,
      pruned: (v.trials as { state: string }[]).filter((t) => t.state === 'PRUNED').length,
      waits: sim.reuseWaits(v.trials, Math.floor(2 / gpu)),
    };
  } finally {
    await h.close();
  }
}

const frac = await run(0.25, 12);
const whole = await run(1, 3);
const ratio = frac.perHour / whole.perHour;
const fmtWaits = (w: number[]): string => (w.length === 0 ? '-' : `max ${Math.max(...w)}, mean ${(w.reduce((a, b) => a + b, 0) / w.length).toFixed(2)} (${w.length} reuses)`);
console.log(`sweep benchmark: ${TRIALS} trials, up to ${STEPS} steps (1 min each), median rule, 2 simulated H100s\n`);
console.log('| configuration | running at once | makespan (h) | trials per hour | pruned | freed slice reused after (cycles) |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const r of [frac, whole]) console.log(`| ${r.config} | ${r.maxRunning} | ${r.hours.toFixed(2)} | ${r.perHour.toFixed(1)} | ${r.pruned} | ${fmtWaits(r.waits)} |`);
console.log(`\nthroughput ratio: ${ratio.toFixed(2)}× (target ≥ 3.5×) ${ratio >= 3.5 ? 'MET' : 'NOT MET'}`);
const worst = Math.max(...frac.waits, ...whole.waits);
console.log(`slice reuse: within ${worst} cycle(s) (target: 1) ${worst <= 1 ? 'MET' : 'NOT MET'}`);
