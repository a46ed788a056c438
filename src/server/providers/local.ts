// The local provider: nodes are agent processes on this machine with simulated GPUs. For tests
// and demos (`fastgpu up --autoscale local:max=4`), so the whole elastic path — decide, start,
// join, run, idle, drain, release — can be watched on a laptop.
import { spawn, type ChildProcess } from 'node:child_process';
import type { ProviderOffer } from '../../core/autoscale/types.js';
import { systemClock, type TimerClock } from '../../util/clock.js';
import { ProviderError, type AgentLaunch, type NodeProvider, type ProvidedNode } from './types.js';

export interface LocalShape extends Omit<ProviderOffer, 'provider'> {
  /** Extra agent flags that make the node look like the shape, e.g. ['--gpus', '1xH100']. */
  agentFlags: readonly string[];
}

export interface LocalProviderOptions {
  /** argv prefix of the fastgpu program, e.g. [process.execPath, '<repo>/bin/fastgpu']. */
  fastgpu: readonly string[];
  shapes: readonly LocalShape[];
  /** SIGTERM first; SIGKILL after this long. */
  stopGraceMs?: number;
  /** Timers (default: the system's). */
  timers?: TimerClock;
  /** Where the agents' output goes (default: ignored). */
  onOutput?: (nodeName: string, line: string) => void;
}

interface Proc {
  child: ChildProcess;
  shape: string;
  nodeName: string;
  exited: string | null;
}

export class LocalProvider implements NodeProvider {
  readonly name = 'local';
  private readonly procs = new Map<string, Proc>();

  constructor(private readonly opts: LocalProviderOptions) {}

  offers(): Promise<ProviderOffer[]> {
    return Promise.resolve(this.opts.shapes.map(({ agentFlags: _flags, ...o }) => ({ ...o, provider: this.name })));
  }

  request(shape: string, launch: AgentLaunch): Promise<ProvidedNode> {
    const s = this.opts.shapes.find((x) => x.shape === shape);
    if (s === undefined) return Promise.reject(new ProviderError(this.name, `unknown shape ${JSON.stringify(shape)} (configured: ${this.opts.shapes.map((x) => x.shape).join(', ')})`));
    const [file, ...prefix] = this.opts.fastgpu;
    if (file === undefined) return Promise.reject(new ProviderError(this.name, 'no fastgpu program configured'));
    return new Promise((resolve, reject) => {
      const child = spawn(file, [...prefix, ...launch.args, ...s.agentFlags], {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/', ...launch.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const proc: Proc = { child, shape, nodeName: launch.nodeName, exited: null };
      const forward = (chunk: Buffer): void => {
        for (const line of chunk.toString('utf8').split('\n')) if (line !== '') this.opts.onOutput?.(launch.nodeName, line);
      };
      child.stdout?.on('data', forward);
      child.stderr?.on('data', forward);
      child.once('error', (e) => {
        proc.exited = `could not start: ${e.message}`;
        reject(new ProviderError(this.name, `could not start ${file}`, e.message));
      });
      child.once('exit', (code, signal) => {
        proc.exited = signal !== null ? `killed by ${signal}` : `exited with code ${code ?? '?'}`;
      });
      child.once('spawn', () => {
        const id = String(child.pid);
        this.procs.set(id, proc);
        resolve({ id, provider: this.name, shape, nodeName: launch.nodeName, state: 'running', detail: `pid ${id}` });
      });
    });
  }

  list(): Promise<ProvidedNode[]> {
    return Promise.resolve(
      [...this.procs.entries()].map(([id, p]) => ({
        id,
        provider: this.name,
        shape: p.shape,
        nodeName: p.nodeName,
        state: p.exited === null ? ('running' as const) : ('ended' as const),
        detail: p.exited ?? `pid ${id}`,
      })),
    );
  }

  async release(id: string): Promise<void> {
    const p = this.procs.get(id);
    if (p === undefined || p.exited !== null) return;
    const gone = new Promise<void>((resolve) => p.child.once('exit', () => resolve()));
    p.child.kill('SIGTERM');
    const timer = (this.opts.timers ?? systemClock).timeout(() => p.child.kill('SIGKILL'), this.opts.stopGraceMs ?? 10_000);
    await gone;
    timer.clear();
  }

  async close(): Promise<void> {
    await Promise.all([...this.procs.keys()].map((id) => this.release(id)));
  }
}
