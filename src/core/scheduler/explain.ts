// Why a request does not fit right now: 'Resources' (the room is not there) or 'Fragmentation'
// (the eligible READY nodes have the room in total, but no single node or GPU has it), with a
// message a person can act on.
import { amountOn, gpuFits, type ResolvedPodRequest } from '../placement/cluster.js';
import type { ClusterView } from '../placement/types.js';
import type { NodeRecord, PendingReason, ResourceRequest } from '../types.js';
import { whyNeverFits } from './feasibility.js';
import { count, cpus, gpus, mib } from './format.js';

export interface Explanation {
  reason: PendingReason;
  message: string;
}

/**
 * Explains why `req` fits nowhere in `cluster` now. `describe` is the request in words
 * (`0.5 GPU (H100-80GB), 2 CPUs, 4 GiB RAM`); `nodes` are the READY nodes (by position) and all nodes.
 */
export function explainNoFit(
  cluster: ClusterView,
  req: ResolvedPodRequest,
  resources: ResourceRequest,
  describe: string,
  nodes: { ready: readonly NodeRecord[]; all: readonly NodeRecord[] },
): Explanation {
  const need = `needs ${describe}`;
  const wantGpu = req.gpuCount > 0;
  let eligible = 0;
  let totCpu = 0;
  let totRam = 0;
  let bestCpu = 0;
  let bestRam = 0;
  // Over eligible GPUs: free compute and memory, summed and at best on one GPU.
  let gpusWithRoom = 0;
  let totMilli = 0;
  let totMem = 0;
  let bestMilli = 0;
  let bestMem = 0;
  let minMilli = Infinity;
  let minMem = Infinity;
  // Most GPUs that fit the share together on one node; nodes with enough of them.
  let bestTogether = 0;
  let nodesWithGpus = 0;
  let bestCpuWithGpus = 0;
  let bestRamWithGpus = 0;
  for (const node of cluster.nodes) {
    if (node.cpuMilliTotal < req.cpuMilli || node.memoryMiBTotal < req.memoryMiB) continue;
    const amount = amountOn(node, req);
    if (!amount) continue;
    let together = 0;
    if (wantGpu) {
      let couldHold = 0;
      for (const g of node.gpus) {
        // Would this GPU take the share if it were empty?
        if (g.exclusive ? amount.gpuMilli < g.totalMilli : amount.gpuMilli > g.totalMilli || amount.gpuMemoryMiB > g.totalMemoryMiB) continue;
        couldHold++;
        const whole = g.exclusive && g.freeMilli === g.totalMilli;
        const fm = g.exclusive ? (whole ? g.totalMilli : 0) : Math.max(0, g.freeMilli);
        const fmem = g.exclusive ? (whole ? g.totalMemoryMiB : 0) : Math.max(0, g.freeMemoryMiB);
        if (fm > 0) gpusWithRoom++;
        totMilli += fm;
        totMem += fmem;
        if (fm > bestMilli) bestMilli = fm;
        if (fmem > bestMem) bestMem = fmem;
        if (gpuFits(g, amount)) together++;
      }
      if (couldHold < req.gpuCount) continue;
      minMilli = Math.min(minMilli, amount.gpuMilli);
      minMem = Math.min(minMem, amount.gpuMemoryMiB);
      if (together > bestTogether) bestTogether = together;
    }
    eligible++;
    const cpu = Math.max(0, node.cpuMilliFree);
    const ram = Math.max(0, node.memoryMiBFree);
    totCpu += cpu;
    totRam += ram;
    bestCpu = Math.max(bestCpu, cpu);
    bestRam = Math.max(bestRam, ram);
    if (!wantGpu || together >= req.gpuCount) {
      nodesWithGpus++;
      bestCpuWithGpus = Math.max(bestCpuWithGpus, cpu);
      bestRamWithGpus = Math.max(bestRamWithGpus, ram);
    }
  }

  if (eligible === 0) {
    const never = whyNeverFits(resources, nodes.all);
    if (never) return { reason: 'Resources', message: `${never}: it cannot run on this pool` };
    const why = nodes.ready.length === 0 ? 'no node is ready' : whyNeverFits(resources, nodes.ready);
    return { reason: 'Resources', message: `${need}; no ready node can hold it${why ? ` (${why})` : ''}: the nodes that could are draining or lost` };
  }
  const n = req.gpuCount;
  const gpuCovered = !wantGpu || (totMilli >= n * minMilli && totMem >= n * minMem && gpusWithRoom >= n);
  const frag = gpuCovered && totCpu >= req.cpuMilli && totRam >= req.memoryMiB;
  const reason: PendingReason = frag ? 'Fragmentation' : 'Resources';
  const say = (m: string): Explanation => ({ reason, message: `${need}; ${m}` });

  if (wantGpu && nodesWithGpus === 0) {
    if (n === 1) {
      if (bestMilli < minMilli) {
        if (frag) return say(`${gpus(totMilli)} free in total across ${count(gpusWithRoom, 'GPU')}, but at most ${gpus(bestMilli)} on any one GPU`);
        return say(totMilli === 0 ? 'every GPU it can use is fully taken' : `${gpus(bestMilli)} free on the best GPU`);
      }
      if (bestMem < minMem) {
        if (frag) return say(`${mib(totMem)} of GPU memory free in total across ${count(gpusWithRoom, 'GPU')}, but at most ${mib(bestMem)} on any one GPU`);
        return say(`${mib(bestMem)} of GPU memory free on the best GPU`);
      }
      return say('no GPU has the compute and the memory it needs free at once');
    }
    if (frag) return say(`${gpus(totMilli)} free in total across ${count(gpusWithRoom, 'GPU')}, but at most ${bestTogether} with room on any one node`);
    if (totMilli === 0) return say('every GPU it can use is fully taken');
    return say(`at most ${bestTogether} of the ${n} GPUs it needs are free together on one node`);
  }
  // The GPUs are there (or not wanted): the host side is short.
  const where = wantGpu ? ' that has the GPUs free' : '';
  if (bestCpuWithGpus < req.cpuMilli) {
    if (frag && bestCpu < req.cpuMilli) return say(`${cpus(totCpu)} free in total across ${count(eligible, 'node')}, but at most ${cpus(bestCpu)} on any one node`);
    return say(`${cpus(bestCpuWithGpus)} free on the best node${where}`);
  }
  if (bestRamWithGpus < req.memoryMiB) {
    if (frag && bestRam < req.memoryMiB) return say(`${mib(totRam)} of RAM free in total across ${count(eligible, 'node')}, but at most ${mib(bestRam)} on any one node`);
    return say(`${mib(bestRamWithGpus)} of RAM free on the best node${where}`);
  }
  return say('no single node has the GPUs, CPUs and RAM free at once');
}
