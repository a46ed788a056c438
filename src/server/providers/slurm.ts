// The Slurm node provider: a Slurm cluster lends FastGPU whole nodes by running a FastGPU agent
// as a batch job, and gets them back when FastGPU cancels the job.
//
// Pitfalls handled here, each learned from real clusters:
// - The server's own `SLURM_*` variables never reach `sbatch` (a server inside an allocation
//   would submit into it); the job's environment is written into its script, with --export=NONE.
// - Capacity comes from `scontrol show -o node` (configured CPUs, memory, GRES), never `squeue %b`.
// - The script `exec`s the agent, so the agent is the job's main process: with cgroup process
//   tracking, Slurm kills every process of a job whose main process ended, and the agent's
//   tasks are the job's processes and end with it, which is what a released node must do.
// - `squeue` forgets a finished job after `MinJobAge` (300 s by default): a job we started that
//   squeue no longer lists has ended, whatever ended it (scancel, preemption, time limit).
import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ProviderOffer } from '../../core/autoscale/types.js';
import { findGpuModel } from '../../core/catalogue.js';
import { parseMoney } from '../../core/pricing/money.js';
import { providerEnv, run } from './exec.js';
import { nodeUsable, parseJobs, parseNodes, type SlurmNode } from './slurm-parse.js';
import { ProviderError, type AgentLaunch, type NodeProvider, type ProvidedNode, type ProvidedState } from './types.js';

export interface SlurmProviderOptions {
  /** Folder for the jobs' output (0700); their scripts go to sbatch on stdin. */
  stateDir: string;
  /** Marks this pool's jobs (in the job comment), so several pools can share one cluster. */
  poolId: string;
  /** The agent's program: argv prefix before `agent …`, e.g. [process.execPath, '/opt/fastgpu/bin/fastgpu']. */
  fastgpu: readonly string[];
  partition?: string;
  account?: string;
  /** `sbatch --time`, e.g. `8:00:00`; default: the partition's. */
  timeLimit?: string;
  /** GPU model for nodes whose GRES has no type (`gpu:4`); default: none (CPU-style offers still list GPUs). */
  gpuModel?: string;
  /** Price of one node-hour of this cluster, e.g. `12.50`; default: the price book's GPU prices. */
  nodeHourPrice?: string;
  /**
   * The cluster's GPUs are stand-ins (a test cluster's fake GRES devices, no nvidia-smi): each
   * agent declares its job's GPUs as simulated ones of the shape's model (`--gpus 4xA100-80GB`).
   * Default: agents find the GPUs Slurm gave them with nvidia-smi.
   */
  simulatedGpus?: boolean;
  /** Where Slurm's commands are (default: on PATH). */
  binDir?: string;
  /** Time limit for each Slurm command. */
  commandTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

const JOB_PREFIX = 'fastgpu-';

/** A shape name for a node: partition, GPUs and size, e.g. `debug:4xA100-80GB:8c:8000m`. */
export function shapeOf(n: SlurmNode, partition: string, model: string | null): string {
  return `${partition}:${n.gpus}x${model ?? n.gpuType ?? 'gpu'}:${n.cpus}c:${n.memoryMiB}m`;
}

export class SlurmProvider implements NodeProvider {
  readonly name = 'slurm';
  /** Jobs this provider started, by id → shape and node name (list() reports those squeue forgot as ended). */
  private readonly started = new Map<string, { shape: string; nodeName: string }>();
  private shapes = new Map<string, { node: SlurmNode; partition: string; model: string | null }>();

  constructor(private readonly opts: SlurmProviderOptions) {}

  private bin(cmd: string): string {
    return this.opts.binDir === undefined ? cmd : join(this.opts.binDir, cmd);
  }

  private exec(cmd: string, args: readonly string[], input?: string) {
    return run(this.name, this.bin(cmd), args, { timeoutMs: this.opts.commandTimeoutMs ?? 15_000, env: providerEnv(this.opts.env ?? process.env), ...(input !== undefined ? { input } : {}) });
  }

  async offers(): Promise<ProviderOffer[]> {
    const { stdout } = await this.exec('scontrol', ['show', '-o', 'node']);
    const shapes = new Map<string, { node: SlurmNode; partition: string; model: string | null }>();
    for (const n of parseNodes(stdout)) {
      if (!nodeUsable(n)) continue;
      for (const partition of n.partitions) {
        if (this.opts.partition !== undefined && partition !== this.opts.partition) continue;
        const model = n.gpuModel ?? (this.opts.gpuModel !== undefined ? (findGpuModel(this.opts.gpuModel)?.name ?? this.opts.gpuModel) : null);
        const shape = shapeOf(n, partition, model);
        if (!shapes.has(shape)) shapes.set(shape, { node: n, partition, model });
      }
    }
    this.shapes = shapes;
    const price = this.opts.nodeHourPrice === undefined ? undefined : parseMoney(this.opts.nodeHourPrice, 'slurm nodeHourPrice');
    return [...shapes.entries()].map(([shape, { node, model }]) => {
      const info = model === null ? undefined : findGpuModel(model);
      return {
        provider: this.name,
        shape,
        gpuModel: node.gpus > 0 ? model : null,
        gpuCount: model === null ? 0 : node.gpus,
        gpuMemoryMiB: info?.memoryMiB ?? 0,
        gpuTflops: info?.tflops ?? 0,
        cpuMilli: node.cpus * 1000,
        memoryMiB: node.memoryMiB,
        ...(price !== undefined ? { hourlyMicros: price } : {}),
      };
    });
  }

  /** The sbatch arguments for one node of `shape` (the script comes on stdin). */
  sbatchArgs(shape: string, launch: AgentLaunch): string[] {
    const s = this.shapes.get(shape);
    if (s === undefined) throw new ProviderError(this.name, `unknown shape ${JSON.stringify(shape)} (call offers() first; known: ${[...this.shapes.keys()].join(', ') || 'none'})`);
    const args = [
      '--parsable',
      `--job-name=${JOB_PREFIX}${launch.nodeName}`,
      `--comment=fastgpu-pool:${this.opts.poolId}`,
      `--partition=${s.partition}`,
      '--nodes=1',
      '--ntasks=1',
      `--cpus-per-task=${s.node.cpus}`,
      `--mem=${s.node.memoryMiB}`,
      '--export=NONE',
      `--output=${join(this.opts.stateDir, '%j.out')}`,
      `--chdir=${this.opts.stateDir}`,
    ];
    if (s.node.gpus > 0) args.push(`--gres=gpu:${s.node.gpus}`);
    if (this.opts.account !== undefined) args.push(`--account=${this.opts.account}`);
    if (this.opts.timeLimit !== undefined) args.push(`--time=${this.opts.timeLimit}`);
    return args;
  }

  /**
   * The agent offers what its job holds, not the whole host: the job's CPUs and memory, and (with
   * `simulatedGpus`) its GPUs as simulated ones.
   */
  agentFlags(shape: string): string[] {
    const s = this.shapes.get(shape);
    if (s === undefined) return [];
    const flags = ['--cpus', String(s.node.cpus), '--memory', `${s.node.memoryMiB}MiB`];
    if (this.opts.simulatedGpus === true && s.model !== null && s.node.gpus > 0) flags.push('--gpus', `${s.node.gpus}x${s.model}`);
    return flags;
  }

  async request(shape: string, launch: AgentLaunch): Promise<ProvidedNode> {
    if (this.shapes.size === 0) await this.offers();
    await mkdir(this.opts.stateDir, { recursive: true, mode: 0o700 });
    await chmod(this.opts.stateDir, 0o700);
    // The script goes to sbatch on stdin, never to a file: it holds the node's join token, and
    // slurmctld keeps its own copy (readable by Slurm's user only) for as long as the job lives.
    const script = agentScript(this.opts.fastgpu, { ...launch, args: [...launch.args, ...this.agentFlags(shape)] });
    const { stdout } = await this.exec('sbatch', this.sbatchArgs(shape, launch), script);
    const id = stdout.trim().split(';')[0] ?? '';
    if (!/^\d+$/.test(id)) throw new ProviderError(this.name, 'sbatch answered no job id', stdout.trim());
    this.started.set(id, { shape, nodeName: launch.nodeName });
    return { id, provider: this.name, shape, nodeName: launch.nodeName, state: 'pending', detail: 'submitted' };
  }

  async list(): Promise<ProvidedNode[]> {
    const { stdout } = await this.exec('squeue', ['-h', '-o', '%i|%j|%T|%r|%k']);
    const seen = new Map<string, ProvidedNode>();
    for (const j of parseJobs(stdout)) {
      if (j.comment !== `fastgpu-pool:${this.opts.poolId}` || !j.name.startsWith(JOB_PREFIX)) continue;
      const known = this.started.get(j.id);
      const nodeName = j.name.slice(JOB_PREFIX.length);
      seen.set(j.id, {
        id: j.id,
        provider: this.name,
        shape: known?.shape ?? '',
        nodeName,
        state: jobState(j.state),
        detail: j.reason === '' || j.reason === 'None' ? j.state : `${j.state} (${j.reason})`,
      });
      if (known === undefined) this.started.set(j.id, { shape: '', nodeName });
    }
    for (const [id, { shape, nodeName }] of this.started) {
      if (!seen.has(id)) seen.set(id, { id, provider: this.name, shape, nodeName, state: 'ended', detail: 'no longer in squeue (finished, cancelled or killed)' });
    }
    return [...seen.values()];
  }

  async release(id: string): Promise<void> {
    if (!/^\d+$/.test(id)) throw new ProviderError(this.name, `not a Slurm job id: ${JSON.stringify(id)}`);
    try {
      await this.exec('scancel', [id]);
    } catch (e) {
      // scancel of a job that already ended says so and exits non-zero: it is released all the same.
      if (!(e instanceof ProviderError && /Invalid job id|already completing or completed/i.test(e.detail))) throw e;
    }
  }

  /** Forget an ended job (after the caller recorded that it ended). */
  forget(id: string): void {
    this.started.delete(id);
  }
}

function jobState(state: string): ProvidedState {
  switch (state) {
    case 'PENDING':
    case 'CONFIGURING':
    case 'REQUEUED':
    case 'REQUEUE_HOLD':
    case 'RESV_DEL_HOLD':
    case 'SUSPENDED':
      return 'pending';
    case 'RUNNING':
      return 'running';
    default:
      // COMPLETING, COMPLETED, CANCELLED, FAILED, TIMEOUT, PREEMPTED, NODE_FAIL, OUT_OF_MEMORY, …
      return 'ended';
  }
}

const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** The job script: the agent's environment, then `exec` the agent so it is the job's main process. */
export function agentScript(fastgpu: readonly string[], launch: AgentLaunch): string {
  const lines = ['#!/bin/sh', `# FastGPU agent for node ${launch.nodeName}, written by the slurm provider.`];
  lines.push('export PATH=/usr/local/bin:/usr/bin:/bin');
  for (const [k, v] of Object.entries(launch.env)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new ProviderError('slurm', `environment name ${JSON.stringify(k)} is not a shell name`);
    lines.push(`export ${k}=${shellQuote(v)}`);
  }
  lines.push(`exec ${[...fastgpu, ...launch.args].map(shellQuote).join(' ')}`);
  return `${lines.join('\n')}\n`;
}
