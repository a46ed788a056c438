// `neverFits` for a caller that asks again and again about one pool (the server's submit route: one
// question per submit). `neverFits` builds an empty ClusterState of every node per call, which on
// a pool of a thousand nodes costs more than the rest of a submit; the answer depends only on the
// request and the nodes' resources (not their state or load), so it is kept per request until a
// node's resources change. Owned by its caller; bounded (MAX_ENTRIES answers, then it starts over).
import type { NodeRecord, ResourceRequest } from '../types.js';
import { poolModels } from './capacity.js';
import { neverFits, type NeverFits } from './feasibility.js';
import type { ModelInfo } from './resolve.js';
import { samePool } from './same-node.js';

const MAX_ENTRIES = 4096;

export class FeasibilityMemo {
  private nodes: readonly NodeRecord[] = [];
  private readonly answers = new Map<string, NeverFits | null>();
  private models: ModelInfo[] | null = null;

  /** As `neverFits(resources, nodes, replicas)`. */
  neverFits(resources: ResourceRequest, nodes: readonly NodeRecord[], replicas = 1): NeverFits | null {
    this.update(nodes);
    const key = `${replicas}|${JSON.stringify(resources)}`;
    const known = this.answers.get(key);
    if (known !== undefined) return known;
    const why = neverFits(resources, nodes, replicas);
    if (this.answers.size >= MAX_ENTRIES) this.answers.clear();
    this.answers.set(key, why);
    return why;
  }

  /** As `poolModels(nodes)`: the pool's GPU models, as requests are resolved against them. */
  poolModels(nodes: readonly NodeRecord[]): ModelInfo[] {
    this.update(nodes);
    return (this.models ??= poolModels(nodes));
  }

  private update(nodes: readonly NodeRecord[]): void {
    if (!samePool(this.nodes, nodes)) {
      this.answers.clear();
      this.models = null;
    }
    // The newest records, so that the next comparison is mostly by reference.
    this.nodes = nodes;
  }
}
