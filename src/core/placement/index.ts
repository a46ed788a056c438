// Placement policies by name. The live scheduler and the simulator both get theirs here.
import { dotProd, gpuClustering, gpuPacking, randomPolicy, spread } from './baselines.js';
import { bestFit } from './best-fit.js';
import { defaultPolicy } from './default.js';
import { fgd } from './fgd.js';
import { firstFit } from './first-fit.js';
import type { PlacementPolicy, PolicyName } from './types.js';

export const POLICY_NAMES: readonly PolicyName[] = [
  'default',
  'first-fit',
  'random',
  'dotprod',
  'gpu-clustering',
  'gpu-packing',
  'best-fit',
  'fgd',
  'spread',
];

const POLICIES: Partial<Record<PolicyName, PlacementPolicy>> = {
  'first-fit': firstFit,
  'best-fit': bestFit,
  random: randomPolicy,
  dotprod: dotProd,
  'gpu-clustering': gpuClustering,
  'gpu-packing': gpuPacking,
  fgd,
  spread,
  default: defaultPolicy,
};

/** The policy called `name`. Throws for a name with no implementation yet. */
export function getPolicy(name: PolicyName): PlacementPolicy {
  const p = POLICIES[name];
  if (!p) throw new Error(`placement policy '${name}' is not implemented yet`);
  return p;
}

export function isPolicyName(s: string): s is PolicyName {
  return (POLICY_NAMES as readonly string[]).includes(s);
}

export * from './types.js';
export { ClusterState, amountOn, gpuFits, hostFits, nodeFits, fittingGpus } from './cluster.js';
export type { NodeInit, PerGpuAmount, ResolvedPodRequest } from './cluster.js';
