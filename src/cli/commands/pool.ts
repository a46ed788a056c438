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

  withOutput(withConnection(program.command('nodes')))
    .description('every node: state, GPUs, CPU, memory, last heartbeat')
    .action(async (raw: { output?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const output = outputFlag(raw.output);
      const nodes = await clientFor(cmd).nodes();
      ctx.stdout.write(output === 'json' ? `${JSON.stringify(nodes, null, 2)}\n` : nodesTable(nodes));
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
  return table(
    ['NAME', 'ID', 'STATE', 'GPUS', 'CPU', 'MEMORY', 'HEARTBEAT'],
    nodes.map((n) => [
      n.name,
      n.id,
      n.state,
      `${Array.isArray(n.gpus) ? n.gpus.length : 0}${n.simulated ? ' (simulated)' : ''}`,
      String(Math.round(n.cpuMilli / 100) / 10),
      mib(n.memoryMiB),
      n.lastHeartbeatAt === undefined ? '-' : `${age(n.lastHeartbeatAt)} ago`,
    ]),
  );
}


