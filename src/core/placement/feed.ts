// The change feed of a ClusterState: which nodes changed, in order, and a version per node. Indexes
// over the nodes (ranked.ts) read it to re-score only the nodes that changed since they last looked,
// instead of every node at every placement.
import type { NodeChanges, NodeSlot } from './types.js';

/** Past this many entries beyond the node count, the oldest are dropped (readers then rebuild). */
const LOG_SLACK = 1 << 16;

export class ChangeFeed implements NodeChanges {
  /** Per node position: bumped by every change of that node's free state or running tasks. */
  readonly versions: Uint32Array;
  /** Positions changed, oldest first; `log[i]` is change number `start + i`. */
  private log: number[] = [];
  private start = 0;

  constructor(readonly nodes: readonly NodeSlot[]) {
    this.versions = new Uint32Array(nodes.length);
  }

  /** Number of the next change: a reader that has seen everything up to here is current. */
  get end(): number {
    return this.start + this.log.length;
  }

  /** The first change still kept; a reader behind it must rebuild. */
  get first(): number {
    return this.start;
  }

  /** Records a change of the node at `pos`. */
  touch(pos: number): void {
    this.versions[pos]! += 1;
    this.log.push(pos);
    if (this.log.length > this.nodes.length + LOG_SLACK) {
      const drop = this.log.length >> 1;
      this.log = this.log.slice(drop);
      this.start += drop;
    }
  }

  /** The position changed by change number `seq` (first ≤ seq < end). */
  at(seq: number): number {
    return this.log[seq - this.start]!;
  }
}
