// `fastgpu status`: the servers of the pool, which one leads and with which epoch, and the store.
import type { Command } from 'commander';
import type { ClusterView } from '../../server/leadership-status.js';
import { contextOf } from '../context.js';
import { clientFor, outputFlag, withConnection, withOutput } from '../flags.js';
import { age, table } from '../format.js';

export function register(program: Command): void {
  withOutput(withConnection(program.command('status')))
    .description('the servers of the pool: which one leads (and its epoch), which follow, and the store')
    .action(async (raw: { output?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const output = outputFlag(raw.output);
      const view = await clientFor(cmd).request<ClusterView>('GET', '/v1/cluster');
      ctx.stdout.write(output === 'json' ? `${JSON.stringify(view, null, 2)}\n` : statusText(view));
    });
}

/** The human form: a summary line, then one row per server. */
export function statusText(v: ClusterView, now = Date.now()): string {
  const lead = v.leader ? `${v.leader.url} (epoch ${v.leader.epoch}${v.leader.since !== null ? `, since ${age(v.leader.since, now)} ago` : ''})` : 'no leader elected';
  const head = [`store   ${v.store}`, `mode    ${v.mode === 'single' ? 'one server' : 'several servers, one elected leader'}`, `leader  ${lead}`, ''].join('\n');
  const rows = v.servers.map((s) => [s.id === v.answeredBy ? `${s.id} *` : s.id, s.url, s.role.toUpperCase(), age(s.startedAt, now), age(s.seenAt, now)]);
  return `${head}\n${table(['SERVER', 'URL', 'ROLE', 'UP', 'SEEN'], rows)}`;
}
