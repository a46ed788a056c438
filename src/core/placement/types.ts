// Placement: choosing the node and GPUs for one request on a cluster whose free capacity is
// known. The live scheduler and the trace simulator (`fastgpu sim`) call the very same policies.

/** Free and total capacity of one GPU, as placement sees it. */
export interface GpuSlot {
  index: number;
  model: string;
  totalMilli: number; // 1000
  totalMemoryMiB: number;
  tflops: number;
  freeMilli: number;
  freeMemoryMiB: number;
  /** Whole-GPU tasks only (sharing mode `exclusive`). */
  exclusive: boolean;
}

/** One node's capacity. Policies read it; only `ClusterState` methods change it. */
export interface NodeSlot {
  /** Position in `ClusterState.nodes`; stable for the life of the state. */
  pos: number;
  id: string;
  name: string;
  model: string; // the model of its GPUs ('' when it has none); nodes are homogeneous in practice
  cpuMilliTotal: number;
  memoryMiBTotal: number;
  cpuMilliFree: number;
  memoryMiBFree: number;
  gpus: GpuSlot[];
  /**
   * Running GPU tasks on the node by kind (`share` for a fraction of one GPU, `N-gpu` for N whole
   * GPUs), kept by `ClusterState`; the gpu-clustering policy groups like with like. Optional for
   * other ClusterView implementations.
   */
  gpuTaskKinds?: Map<string, number>;
}

/**
 * A request resolved for placement. `gpuMilli` and `gpuMemoryMiB` are per GPU; a request whose
 * share depends on the model (memory or TFLOPS) is resolved per node model by `resolveForModel`.
 */
export interface PodRequest {
  cpuMilli: number;
  memoryMiB: number;
  /** Number of GPUs; 0 for CPU-only. Fractional requests have gpuCount 1 and gpuMilli < 1000. */
  gpuCount: number;
  /** Per GPU, 1..1000. */
  gpuMilli: number;
  /** Per GPU. 0 means "no memory constraint" (the trace has none). */
  gpuMemoryMiB: number;
  /** Allowed GPU models; empty = any. */
  models: readonly string[];
}

/** The chosen node and GPU indices (positions in `NodeSlot.gpus`). */
export interface PlacementChoice {
  nodePos: number;
  gpuIdx: number[];
  /** Per-GPU amounts actually charged (the request resolved on this node's model). */
  gpuMilli: number;
  gpuMemoryMiB: number;
}

/** Randomness is injected: a function returning [0, 1). */
export type Rng = () => number;

export interface PlacementContext {
  rng: Rng;
  /**
   * The expected mix of future requests (FGD's "typical pods"): request shape → popularity.
   * Policies that need it (fgd, default) plan for more of the request itself when it is absent
   * (they keep no history: the caller owns any estimate, see `WorkloadEstimator`).
   */
  workload?: readonly WorkloadClass[];
  /**
   * Caches the policies may keep across calls (`PlacementMemos`), owned by the caller. Without
   * them a policy computes from scratch: the same choice, more slowly.
   */
  memos?: PolicyMemoStore;
}

/** A caller-owned store of per-policy caches: `get(key, make)` returns the value kept under `key`. */
export interface PolicyMemoStore {
  get<T>(key: string, make: () => T): T;
}

export interface WorkloadClass {
  cpuMilli: number;
  memoryMiB: number;
  gpuCount: number;
  gpuMilli: number;
  gpuMemoryMiB: number;
  /** Allowed GPU models; absent or empty = any. */
  models?: readonly string[];
  /** Popularity, sums to 1 over the classes. */
  weight: number;
}

export type PolicyName =
  | 'default'
  | 'first-fit'
  | 'random'
  | 'dotprod'
  | 'gpu-clustering'
  | 'gpu-packing'
  | 'best-fit'
  | 'fgd'
  | 'spread';

export interface PlacementPolicy {
  readonly name: PolicyName;
  /**
   * Pick where `req` goes, or null when it fits nowhere. Must not mutate `cluster`:
   * the caller commits the choice with `cluster.allocate(...)`.
   */
  choose(cluster: ClusterView, req: PodRequest, ctx: PlacementContext): PlacementChoice | null;
}

/** Read-only view of the cluster for policies. */
export interface ClusterView {
  readonly nodes: readonly NodeSlot[];
  /**
   * The changes of the ClusterState this view shows (`ClusterState.feed`), when it shows one: its
   * nodes are `changes.nodes` except at the positions in `overridden`. Score-based policies then
   * keep ranked indexes over the state and re-score only the nodes that changed (ranked.ts);
   * without it they scan every node. Either way the choice is the same.
   */
  readonly changes?: NodeChanges;
  readonly overridden?: ReadonlySet<number>;
}

/** Which nodes of a cluster changed, in order, and a version per node (`ChangeFeed`). */
export interface NodeChanges {
  readonly nodes: readonly NodeSlot[];
  /** Per node position, bumped by every change of the node. */
  readonly versions: ArrayLike<number>;
  /** Number of the next change. */
  readonly end: number;
  /** The oldest change still kept. */
  readonly first: number;
  /** The node position of change number `seq`. */
  at(seq: number): number;
}
