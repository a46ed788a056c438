// Pool commands: `gpus` (every GPU with its slices) and `nodes`.
import type { Command } from 'commander';
import type { GpuView, NodeView } from '../../sdk/types.js';
import { contextOf } from '../context.js';
import { clientFor, outputFlag, withConnection, withOutput } from '../flags.js';
import { age, gpuAmount, mib, table } from '../format.js';

export function register(program: Command): void {
  withOutput(withConnection(program.command('gpus')))
    .description('every GPU of the pool: node, model, memory, what is allocated and to whom')
    .action(async (raw: { output?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const output = outputFlag(raw.output);
      const gpus = await clientFor(cmd).gpus();
      ctx.stdout.write(output === 'json' ? `${JSON.stringify(gpus, null, 2)}\n` : gpusTable(gpus));
    });

  const nodes = withOutput(withConnection(program.command('nodes')))
    .description('every node: state, GPUs, CPU, memory, last heartbeat; `nodes drain|resume NAME` (admins)')
    .action(async (raw: { output?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const output = outputFlag(raw.output);
      const list = await clientFor(cmd).nodes();
      ctx.stdout.write(output === 'json' ? `${JSON.stringify(list, null, 2)}\n` : nodesTable(list));
    });

  withConnection(nodes.command('drain'))
    .description('take nodes out of service: no new tasks or vGPUs go there; what runs there goes on, unless --evict')
    .argument('<nodes...>', 'node names or ids')
    .option('--evict', 'also stop their tasks (FASTGPU_PREEMPTED=1, SIGTERM, grace) and requeue them, and move their vGPUs')
    .action(async (names: string[], raw: { evict?: boolean }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const client = clientFor(cmd);
      for (const name of names) {
        const r = await client.drainNode(name, { evict: raw.evict === true });
        const running = typeof r.node.tasks === 'number' ? r.node.tasks : 0;
        const tasks = (n: number): string => `${n} task${n === 1 ? '' : 's'}`;
        const what = raw.evict ? `; ${tasks(r.evicted)} evicted` : running > 0 ? `; ${tasks(running)} still running there` : '';
        ctx.stdout.write(`${r.node.name} drained${what}\n`);
      }
    });

  withConnection(nodes.command('resume'))
    .description('put drained nodes back in service')
    .argument('<nodes...>', 'node names or ids')
    .action(async (names: string[], _raw: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const client = clientFor(cmd);
      for (const name of names) ctx.stdout.write(`${(await client.resumeNode(name)).name} resumed\n`);
    });
}

export function gpusTable(gpus: readonly GpuView[]): string {
  return table(
    ['NODE', 'GPU', 'MODEL', 'MEMORY', 'SHARING', 'ALLOCATED', 'SLICES'],
    gpus.map((g) => [
      g.node,
      String(g.index),
      g.model,
      mib(g.memoryMiB),
      g.sharing,
      `${gpuAmount(g.allocatedMilli)} GPU, ${mib(g.allocatedMemoryMiB)}`,
      g.slices.length === 0 ? '-' : g.slices.map((s) => `${s.taskId ?? s.vgpuId ?? s.name}(${gpuAmount(s.milli)}, ${mib(s.memoryMiB)})`).join(' '),
    ]),
  );
}

export function nodesTable(nodes: readonly NodeView[]): string {
  // Nodes lent by a provider (--autoscale) say which, and where they are in their life.
  const provider = (n: NodeView): string | undefined => n.labels?.['fastgpu.io/provider'];
  const lent = nodes.some((n) => provider(n) !== undefined);
  const state = (n: NodeView): string => {
    if (n.labels?.['fastgpu.io/lifecycle'] === 'released') return 'RELEASED';
    return n.drained && n.state !== 'DRAINING' ? `${n.state} (drained)` : n.state;
  };
  return table(
    ['NAME', 'ID', 'STATE', ...(lent ? ['PROVIDER'] : []), 'GPUS', 'CPU', 'MEMORY', 'AGENT', 'HEARTBEAT'],
    nodes.map((n) => [
      n.name,
      n.id,
      state(n),
      ...(lent ? [provider(n) === undefined ? '-' : `${provider(n)} (${n.labels?.['fastgpu.io/lifecycle'] ?? '?'})`] : []),
      `${Array.isArray(n.gpus) ? n.gpus.length : 0}${n.simulated ? ' (simulated)' : ''}`,
      String(Math.round(n.cpuMilli / 100) / 10),
      mib(n.memoryMiB),
      n.agentVersion || '-',
      n.lastHeartbeatAt === undefined ? '-' : `${age(n.lastHeartbeatAt)} ago`,
    ]),
  );
}


