// The command provider: any cloud's CLI wired in through three executables the site writes.
//   create  reads {"shape", "nodeName", "args", "env"} on stdin, starts a machine whose boot runs
//           `fastgpu <args…>` with <env>, and prints {"id", "state"?, "detail"?}
//   delete  reads {"id"} on stdin and stops that machine (stopping a gone one is success)
//   list    prints [{"id", "shape", "nodeName", "state", "detail"?}, …] for the machines it started
// Secrets (the agent's credential) travel in `env` on stdin, never in argv. docs/autoscale.md has
// an example for a real cloud CLI.
import { z } from 'zod';
import type { ProviderOffer } from '../../core/autoscale/types.js';
import { run } from './exec.js';
import { ProviderError, type AgentLaunch, type NodeProvider, type ProvidedNode } from './types.js';

export interface CommandProviderOptions {
  /** Each an argv: program and fixed arguments. */
  create: readonly string[];
  delete: readonly string[];
  list: readonly string[];
  /** The shapes this provider can start (from its config file). */
  offers: readonly Omit<ProviderOffer, 'provider'>[];
  /** Name shown to users and in decisions; default `command`. */
  name?: string;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

const state = z.enum(['pending', 'running', 'ended']);
const created = z.object({ id: z.string().min(1).max(256), state: state.optional(), detail: z.string().max(4096).optional() });
const listed = z.array(
  z.object({ id: z.string().min(1).max(256), shape: z.string().max(256), nodeName: z.string().max(256), state, detail: z.string().max(4096).optional() }),
);

export class CommandProvider implements NodeProvider {
  readonly name: string;

  constructor(private readonly opts: CommandProviderOptions) {
    this.name = opts.name ?? 'command';
    for (const key of ['create', 'delete', 'list'] as const) {
      if (opts[key].length === 0) throw new ProviderError(this.name, `the ${key} command is empty`);
    }
  }

  private async call(which: 'create' | 'delete' | 'list', input: unknown): Promise<string> {
    const [file, ...args] = this.opts[which];
    const { stdout } = await run(this.name, file ?? '', args, {
      timeoutMs: this.opts.timeoutMs ?? 120_000,
      input: JSON.stringify(input),
      ...(this.opts.env !== undefined ? { env: this.opts.env } : {}),
    });
    return stdout;
  }

  private parse<T>(which: string, schema: z.ZodType<T>, stdout: string): T {
    let json: unknown;
    try {
      json = JSON.parse(stdout);
    } catch {
      throw new ProviderError(this.name, `the ${which} command printed no JSON`, stdout.trim().slice(0, 500));
    }
    const r = schema.safeParse(json);
    if (!r.success) {
      const issue = r.error.issues[0];
      throw new ProviderError(this.name, `the ${which} command printed unexpected JSON at ${issue?.path.join('.') || '(top)'}: ${issue?.message ?? ''}`);
    }
    return r.data;
  }

  offers(): Promise<ProviderOffer[]> {
    return Promise.resolve(this.opts.offers.map((o) => ({ ...o, provider: this.name })));
  }

  async request(shape: string, launch: AgentLaunch): Promise<ProvidedNode> {
    if (!this.opts.offers.some((o) => o.shape === shape)) {
      throw new ProviderError(this.name, `unknown shape ${JSON.stringify(shape)} (configured: ${this.opts.offers.map((o) => o.shape).join(', ') || 'none'})`);
    }
    const out = this.parse('create', created, await this.call('create', { shape, nodeName: launch.nodeName, args: launch.args, env: launch.env }));
    return { id: out.id, provider: this.name, shape, nodeName: launch.nodeName, state: out.state ?? 'pending', detail: out.detail ?? 'created' };
  }

  async list(): Promise<ProvidedNode[]> {
    return this.parse('list', listed, await this.call('list', {})).map((n) => ({ ...n, provider: this.name, detail: n.detail ?? n.state }));
  }

  async release(id: string): Promise<void> {
    await this.call('delete', { id });
  }
}
