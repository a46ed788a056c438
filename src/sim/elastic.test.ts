import { describe, expect, it } from 'vitest';
import { runElastic, traceOffers } from './elastic.js';
import { parseNodes, parsePods } from './trace.js';

const nodes = parseNodes('sn,cpu_milli,memory_mib,gpu,model\nn1,32000,262144,1,A100\nn2,32000,262144,1,A100\nn3,32000,262144,1,A100\nn4,64000,524288,2,A100\n');
const pods = (rows: string[]) =>
  parsePods(`name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time\n${rows.join('\n')}\n`);

describe('elastic replay', () => {
  it('offers each node shape of the trace once', () => {
    const { offers, counts } = traceOffers(nodes);
    expect(offers.map((o) => [o.shape, o.gpuModel, o.gpuCount])).toEqual([
      ['1xA100:32000m:262144Mi', 'A100-80GB', 1],
      ['2xA100:64000m:524288Mi', 'A100-80GB', 2],
    ]);
    expect([...counts.values()]).toEqual([3, 1]);
  });

  it('asks for a node after the threshold, runs the task once it joined, gives the node back after the idle timeout', () => {
    // Two one-GPU tasks far apart: each needs a node for 1,000 s.
    const r = runElastic(
      { workload: 't', nodes, pods: pods(['a,1000,1024,1,1000,,LS,Running,0,1000,0', 'b,1000,1024,1,1000,,LS,Running,2000,3000,2000']), policy: 'best-fit', bootSeconds: 60, pendingThresholdSeconds: 30, idleTimeoutSeconds: 300, cooldownSeconds: 30 },
      () => 0,
    );
    // Each waits the threshold (30 s) and the boot (60 s).
    expect(r.elastic.waitSeconds).toEqual({ mean: 90, p95: 90, p99: 90 });
    expect(r.elastic).toEqual(expect.objectContaining({ placed: 2, neverPlaced: 0, scaleOuts: 2, scaleIns: 2, peakNodes: 1 }));
    // Node 1: asked at 30, empty at 1,090, drained at 1,390, given back at 1,391; node 2: 2,030 → 3,391.
    expect(r.elastic.nodeHours).toBeCloseTo((1391 - 30 + (3391 - 2030)) / 3600, 2);
    // The fixed pool sized for the peak: what a replay on all nodes used, kept for the whole trace.
    expect(r.fixed.waitSeconds.mean).toBe(0);
    expect(r.fixedPool.kind).toBe('peak');
    expect(r.fixed.nodeHours).toBeCloseTo((r.fixedPool.nodes * 3000) / 3600, 2);
    expect(r.nodeHoursSavedPct).toBeGreaterThan(0);
  });

  it('packs waiting tasks onto the fewest new nodes and never gives back a busy one', () => {
    // Two half GPUs at once and a long one: one 1-GPU node takes both halves.
    const r = runElastic(
      { workload: 't', nodes, pods: pods(['a,1000,1024,1,500,,LS,Running,0,5000,0', 'b,1000,1024,1,500,,LS,Running,0,100,0']), policy: 'best-fit', idleTimeoutSeconds: 10, cooldownSeconds: 0 },
      () => 0,
    );
    expect(r.elastic).toEqual(expect.objectContaining({ placed: 2, scaleOuts: 1, peakNodes: 1 }));
    // b leaves at 190 but a runs to 5,090: the node stays until a is done, then 10 s idle, then it goes.
    expect(r.elastic.nodeHours).toBeCloseTo((5090 + 10 + 1 - 30) / 3600, 2);
  });

  it('keeps spare GPUs warm: a task that arrives later finds room at once, and the node-hours say what that costs', () => {
    const two = pods(['a,1000,1024,1,1000,,LS,Running,0,1000,0', 'b,1000,1024,1,1000,,LS,Running,2000,3000,2000']);
    const opts = { workload: 't', nodes, pods: two, policy: 'best-fit' as const, bootSeconds: 60, pendingThresholdSeconds: 30, idleTimeoutSeconds: 300, cooldownSeconds: 30 };
    const cold = runElastic(opts, () => 0);
    const warm = runElastic({ ...opts, spareGpus: 1 }, () => 0);
    // The spare GPU is there before the first arrival (as the warm minimum is), and kept: neither task waits.
    expect(warm.elastic.waitSeconds).toEqual({ mean: 0, p95: 0, p99: 0 });
    expect(warm.elastic.waited).toBe(0);
    expect(cold.elastic.waited).toBe(2);
    expect(cold.elastic.waitSeconds.mean).toBe(90);
    expect(warm.elastic.nodeHours).toBeGreaterThan(cold.elastic.nodeHours);
    expect(warm.autoscale).toEqual(expect.objectContaining({ spareGpus: 1, forecastFactor: 0, forecastWindowSeconds: 60 }));
  });

  it('keeps a whole spare node: a 2-GPU task that 2 spare GPUs cannot hold once one is taken starts at once', () => {
    // a runs all along on one GPU; b needs both GPUs of a 2-GPU node.
    const whole = pods(['a,1000,1024,1,1000,,LS,Running,0,5000,0', 'b,1000,1024,2,1000,,LS,Running,2000,3000,2000']);
    const wider = parseNodes('sn,cpu_milli,memory_mib,gpu,model\nn1,32000,262144,1,A100\nn2,32000,262144,1,A100\nn4,64000,524288,2,A100\nn5,64000,524288,2,A100\n');
    const opts = { workload: 't', nodes: wider, pods: whole, policy: 'best-fit' as const, bootSeconds: 60, pendingThresholdSeconds: 30, idleTimeoutSeconds: 300, cooldownSeconds: 30 };
    const gpusOnly = runElastic({ ...opts, spareGpus: 2 }, () => 0);
    const node = runElastic({ ...opts, spareNodes: 1 }, () => 0);
    // Two spare GPUs are not a whole node once a has taken one of them: b waits.
    expect(gpusOnly.elastic.waited).toBe(1);
    // A spare node of the widest shape (2 GPUs) is there for b.
    expect(node.elastic.waitSeconds).toEqual({ mean: 0, p95: 0, p99: 0 });
    expect(node.autoscale).toEqual(expect.objectContaining({ spareNodes: 1 }));
  });

  it('scales ahead of a burst: room for what arrived in the last window again', () => {
    // Three one-GPU tasks at 0, three more at 100: the forecast (factor 1, window 60 s) has room for the second burst.
    const burst = pods(['a,1000,1024,1,1000,,LS,Running,0,5000,0', 'b,1000,1024,1,1000,,LS,Running,0,5000,0', 'c,1000,1024,1,1000,,LS,Running,0,5000,0', 'd,1000,1024,1,1000,,LS,Running,100,5000,100', 'e,1000,1024,1,1000,,LS,Running,100,5000,100']);
    const opts = { workload: 't', nodes, pods: burst, policy: 'best-fit' as const, cooldownSeconds: 0 };
    const cold = runElastic(opts, () => 0);
    const ahead = runElastic({ ...opts, forecastFactor: 1 }, () => 0);
    expect(cold.elastic.waited).toBe(5);
    // a, b, c wait the boot; d and e find the room the forecast kept.
    expect(ahead.elastic.waited).toBe(3);
    expect(ahead.elastic.waitSeconds.mean).toBe(36);
  });

  it('keeps warm nodes: no wait for the first task', () => {
    const r = runElastic({ workload: 't', nodes, pods: pods(['a,1000,1024,1,1000,,LS,Running,100,200,100']), policy: 'best-fit', minNodes: 1 }, () => 0);
    expect(r.elastic.waitSeconds.mean).toBe(0);
  });
});
