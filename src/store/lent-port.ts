// The part of the store port for nodes that providers lent the pool (issue 12): when each was
// asked for, joined, began draining and was given back. `fastgpu usage` reads node-hours by
// provider from it and the dashboard's pool page the nodes coming and going. Both adapters
// implement it (sqlite/lent.ts, postgres/lent.ts), held to conformance-lent.ts.
import type { Micros } from '../core/pricing/money.js';

/** One node a provider lent: a Slurm job, a cloud instance, a local process. */
export interface LentNodeRecord {
  provider: string;
  /** The provider's handle (a Slurm job id, an instance id, a pid); unique per provider. */
  providerId: string;
  /** The FastGPU node name its agent registers with. */
  nodeName: string;
  shape: string;
  /** What one hour of it costs (the offer's price when it was asked for); null when unknown. */
  hourlyMicros: Micros | null;
  requestedAt: number;
  /** Its agent registered (null: not yet, or never). */
  joinedAt: number | null;
  drainingAt: number | null;
  /** Given back, or gone from the outside (null: still lent). */
  releasedAt: number | null;
  /** Why it was given back or ended, in words. */
  releaseReason: string | null;
}

export interface LentNodeFilter {
  /** Nodes lent at some time in [from, to) (each bound optional). */
  from?: number;
  to?: number;
}

export interface LentNodeStore {
  /**
   * Records a lent node: inserts it, or fills in what is still unset of an existing one (joined,
   * draining, released and the release reason are written once: the first time wins, so a late
   * or repeated write never moves a time).
   */
  saveLentNode(n: LentNodeRecord): Promise<void>;
  /** Lent nodes whose [requestedAt, releasedAt) meets [from, to), oldest request first. */
  listLentNodes(filter?: LentNodeFilter): Promise<LentNodeRecord[]>;
}
