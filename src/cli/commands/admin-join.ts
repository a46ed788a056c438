// `fastgpu admin join-token create|ls|revoke` and `fastgpu admin node rm` (issue 11): joining
// machines with one-time tokens, and removing a node (its credentials die at once).
import type { Command } from 'commander';
import type { JoinTokenView } from '../../protocol/join.js';
import { contextOf } from '../context.js';
import { UsageError, clientFor, outputFlag, withConnection, withOutput } from '../flags.js';
import { table } from '../format.js';
import { adminCommand } from './admin.js';

/** `k=v` pairs of `--labels`, checked here so that a typo is a usage error. */
export function parseLabelFlags(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs.flatMap((x) => x.split(',')).filter((x) => x.trim() !== '')) {
    const i = p.indexOf('=');
    if (i <= 0) throw new UsageError(`--labels: ${JSON.stringify(p)} is not KEY=VALUE`);
    out[p.slice(0, i).trim()] = p.slice(i + 1).trim();
  }
  return out;
}

function tokenTable(list: readonly JoinTokenView[]): string {
  return table(
    ['ID', 'USES', 'EXPIRES', 'REVOKED', 'LABELS'],
    list.map((t) => [t.id, `${t.uses}/${t.maxUses}`, t.expiresAt, t.revokedAt ?? '-', Object.entries(t.labels).map(([k, v]) => `${k}=${v}`).join(',') || '-']),
  );
}

export function register(program: Command): void {
  const admin = adminCommand(program);
  const jt = admin.command('join-token').description('join tokens: a new machine trades one, once, for its own node credential');

  withOutput(withConnection(jt.command('create')))
    .description('make a join token (shown once): fastgpu agent --server URL --join-token TOKEN')
    .option('--ttl <duration>', 'how long it may be used (default 15m)')
    .option('--labels <k=v...>', 'labels every node that joins with it gets (repeatable, or comma-separated)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--uses <n>', 'how many machines may join with it (default 1)')
    .option('-q, --quiet', 'print only the token (for scripts)')
    .action(async (raw: { ttl?: string; labels?: string[]; uses?: string; quiet?: boolean; output?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const output = outputFlag(raw.output);
      let uses: number | undefined;
      if (raw.uses !== undefined) {
        uses = Number(raw.uses);
        if (!Number.isInteger(uses) || uses < 1) throw new UsageError(`--uses: ${JSON.stringify(raw.uses)} is not a whole number of at least 1`);
      }
      const body = { ...(raw.ttl !== undefined ? { ttl: raw.ttl } : {}), ...(raw.labels ? { labels: parseLabelFlags(raw.labels) } : {}), ...(uses !== undefined ? { uses } : {}) };
      const t = await clientFor(cmd).request<JoinTokenView & { token: string }>('POST', '/v1/admin/join-tokens', { body });
      if (raw.quiet) ctx.stdout.write(`${t.token}\n`);
      else if (output === 'json') ctx.stdout.write(`${JSON.stringify(t, null, 2)}\n`);
      else ctx.stdout.write(`${t.token}\n  id ${t.id}; ${t.maxUses} use(s); expires ${t.expiresAt}\n  on the new machine: fastgpu agent --server URL --join-token ${t.token} [--ca CERT]\n`);
    });

  withOutput(withConnection(jt.command('ls')))
    .description('list join tokens (without their secrets)')
    .action(async (raw: { output?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const { joinTokens } = await clientFor(cmd).request<{ joinTokens: JoinTokenView[] }>('GET', '/v1/admin/join-tokens');
      ctx.stdout.write(outputFlag(raw.output) === 'json' ? `${JSON.stringify(joinTokens, null, 2)}\n` : tokenTable(joinTokens));
    });

  withConnection(jt.command('revoke'))
    .description('revoke a join token: no more joins with it (nodes that joined keep their credentials)')
    .argument('<id>', 'join token id (jt_…)')
    .action(async (id: string, _raw: unknown, cmd: Command) => {
      await clientFor(cmd).request('DELETE', `/v1/admin/join-tokens/${encodeURIComponent(id)}`);
      contextOf(cmd).stdout.write(`join token ${id} revoked\n`);
    });

  const node = admin.command('node').description('nodes: remove a machine from the pool');
  withConnection(node.command('rm'))
    .description("remove a node: its credentials stop working at once and its tasks are requeued")
    .argument('<name>', 'node name or id')
    .action(async (name: string, _raw: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const r = await clientFor(cmd).request<{ node: string; credentialsRevoked: number; markedLost: boolean }>('DELETE', `/v1/nodes/${encodeURIComponent(name)}`);
      ctx.stdout.write(`node ${r.node} removed: ${r.credentialsRevoked} credential(s) revoked${r.markedLost ? ', its tasks requeued' : ''}\n`);
      if (r.credentialsRevoked === 0) ctx.stdout.write('  it joined with a shared agent token, which still lets it register again: revoke that token to keep it out (fastgpu admin token revoke)\n');
    });
}
