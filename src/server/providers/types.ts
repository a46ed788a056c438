// Node providers: whatever can lend the pool a machine running a FastGPU agent (a Slurm cluster,
// a cloud CLI, local processes). One interface, so the autoscaler's decisions (core/autoscale)
// are carried out the same way whoever provides the node.
import type { ProviderOffer } from '../../core/autoscale/types.js';

/** What the provider says of a node it started, in its own terms. */
export type ProvidedState =
  /** Asked for; not running yet (a pending Slurm job, an instance booting). */
  | 'pending'
  /** Running: its agent is starting or has joined. */
  | 'running'
  /** Gone: finished, cancelled, killed from outside, failed to start, or forgotten by the provider. */
  | 'ended';

export interface ProvidedNode {
  /** The provider's handle: a Slurm job id, an instance id, a process id. */
  id: string;
  provider: string;
  shape: string;
  /** The FastGPU node name its agent registers with. */
  nodeName: string;
  state: ProvidedState;
  /** The provider's own words for the state (`PENDING (Resources)`, `CANCELLED by 0`, …). */
  detail: string;
}

/** How to start an agent on a lent node: the argv after the `fastgpu` program, and its environment. */
export interface AgentLaunch {
  /** The node name to register with (unique per request). */
  nodeName: string;
  /** e.g. ['agent', '--server', URL, '--name', NAME]; secrets go in `env`, never in argv. */
  args: string[];
  env: Record<string, string>;
}

export interface NodeProvider {
  readonly name: string;
  /** The node shapes it can start now. */
  offers(): Promise<ProviderOffer[]>;
  /** Starts one node of `shape` running the agent; resolves once the provider accepted it. */
  request(shape: string, launch: AgentLaunch): Promise<ProvidedNode>;
  /** Every node it started that it still knows of (ended ones may be forgotten: treat a missing one as ended). */
  list(): Promise<ProvidedNode[]>;
  /** Gives a node back. Idempotent: releasing an ended or unknown node is not an error. */
  release(id: string): Promise<void>;
  /** Stops whatever the provider itself runs (not the nodes). */
  close?(): Promise<void>;
}

/** A provider failed to do what was asked; `detail` has the command's own words. */
export class ProviderError extends Error {
  constructor(
    readonly provider: string,
    message: string,
    readonly detail = '',
  ) {
    super(`${provider}: ${message}${detail === '' ? '' : `: ${detail}`}`);
    this.name = 'ProviderError';
  }
}
