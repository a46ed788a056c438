// Ranked indexes: for one request shape, the nodes where it fits, in a heap ordered as chooseBest
// orders them (score, then name rank). A node's score depends only on that node (its free state,
// its running tasks), so after a placement only the nodes that changed are re-scored: the heap
// reads the cluster's change feed, pushes fresh entries for the changed nodes and drops entries
// whose node moved on when they reach the top. A choice then costs O(changes · log n), not a scan
// of every node, and is the very node the scan would pick (the scan stays in scored.ts for views
// with no change feed; ranked.test.ts runs both on random pools).
import type { PerGpuAmount } from './cluster.js';
import type { NodeChanges } from './types.js';

/** A node's score and the GPUs it would use (scored.ts's NodeEval). */
interface NodeEval {
  score: number;
  gpuIdx: number[];
}

/** One scored node; valid while the node's version is `version`. */
interface Entry {
  score: number;
  rank: number;
  pos: number;
  version: number;
  ev: NodeEval;
  amount: PerGpuAmount;
}

/** A node's evaluation for the heap's request, or null where it does not fit. */
export type Score = (pos: number) => { ev: NodeEval; amount: PerGpuAmount } | null;

const before = (a: Entry, b: Entry): boolean => a.score > b.score || (a.score === b.score && a.rank < b.rank);

/** The fitting nodes of one request shape on one cluster, best first. */
export class ShapeHeap {
  private heap: Entry[] = [];
  /** Per position, the node version last scored (so a node changed twice is scored once). */
  private readonly seen: Uint32Array;
  private cursor: number;

  constructor(
    private readonly feed: NodeChanges,
    private readonly rank: ArrayLike<number>,
    score: Score,
  ) {
    this.seen = new Uint32Array(feed.nodes.length);
    this.cursor = feed.end;
    this.rebuild(score);
  }

  /** The best entry not in `skip`, after catching up with the feed; null when none fits. */
  best(score: Score, skip?: ReadonlySet<number>): Entry | null {
    this.sync(score);
    const h = this.heap;
    const versions = this.feed.versions;
    let set: Entry[] | null = null;
    let top: Entry | null = null;
    while (h.length > 0) {
      const e = h[0]!;
      if (e.version !== versions[e.pos]) {
        this.pop();
        continue;
      }
      if (skip?.has(e.pos)) {
        (set ??= []).push(this.pop());
        continue;
      }
      top = e;
      break;
    }
    if (set) for (const e of set) this.push(e);
    return top;
  }

  private sync(score: Score): void {
    const feed = this.feed;
    if (this.cursor < feed.first || this.heap.length > 4 * feed.nodes.length + 1024) {
      this.rebuild(score);
      return;
    }
    const versions = feed.versions;
    for (let seq = this.cursor; seq < feed.end; seq++) {
      const pos = feed.at(seq);
      const v = versions[pos]!;
      if (this.seen[pos] === v) continue;
      this.seen[pos] = v;
      const s = score(pos);
      if (s) this.push({ score: s.ev.score, rank: this.rank[pos]!, pos, version: v, ev: s.ev, amount: s.amount });
    }
    this.cursor = feed.end;
  }

  private rebuild(score: Score): void {
    const feed = this.feed;
    const h: Entry[] = [];
    for (let pos = 0; pos < feed.nodes.length; pos++) {
      const v = feed.versions[pos]!;
      this.seen[pos] = v;
      const s = score(pos);
      if (s) h.push({ score: s.ev.score, rank: this.rank[pos]!, pos, version: v, ev: s.ev, amount: s.amount });
    }
    this.heap = h;
    for (let i = (h.length >> 1) - 1; i >= 0; i--) this.down(i);
    this.cursor = feed.end;
  }

  private push(e: Entry): void {
    const h = this.heap;
    let i = h.length;
    h.push(e);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(e, h[p]!)) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = e;
  }

  private pop(): Entry {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      this.down(0);
    }
    return top;
  }

  private down(i: number): void {
    const h = this.heap;
    const e = h[i]!;
    const n = h.length;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && before(h[c + 1]!, h[c]!)) c++;
      if (!before(h[c]!, e)) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = e;
  }
}

/** A policy's heaps, per cluster (its change feed) and request shape. Kept in the caller's memos. */
export class RankedIndex {
  private readonly byFeed = new WeakMap<NodeChanges, Map<string, ShapeHeap>>();

  /** The heap of request `key` on `feed`, built (one pass over the nodes) on first use. */
  heap(feed: NodeChanges, key: string, rank: ArrayLike<number>, score: Score): ShapeHeap {
    let m = this.byFeed.get(feed);
    if (!m) this.byFeed.set(feed, (m = new Map()));
    let h = m.get(key);
    if (!h) m.set(key, (h = new ShapeHeap(feed, rank, score)));
    return h;
  }
}
