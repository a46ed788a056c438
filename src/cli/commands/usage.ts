// `fastgpu usage [--tenant NAME] [--from ISO] [--to ISO] [--output json]`: GPU-seconds, list
// price, discount and charged amount per tenant, task and GPU model over a period. Members see
// their own tenant only.
import type { Command } from 'commander';
import { FastGpuError } from '../../core/errors.js';
import { parseInstant } from '../../core/pricing/parse.js';
import type { UsageQuery, UsageReport } from '../../sdk/billing.js';
import { contextOf } from '../context.js';
import { UsageError, clientFor, outputFlag, withConnection, withOutput } from '../flags.js';
import { table } from '../format.js';
import { nodeHoursTable } from './usage-nodes.js';
import { usageGroupsTable } from './usage-groups.js';

export interface RawUsage {
  tenant?: string;
  from?: string;
  to?: string;
}

/** Flags → the report query; times checked here so a mistake names its flag. */
export function compileUsageQuery(raw: RawUsage): UsageQuery {
  const q: UsageQuery = {};
  const instant = (v: string, name: string): string => {
    try {
      return new Date(parseInstant(v, name)).toISOString();
    } catch (e) {
      if (e instanceof FastGpuError) throw new UsageError(`--${name}: ${e.message.replace(/^[\w.]+: /, '')}`);
      throw e;
    }
  };
  if (raw.tenant !== undefined) q.tenant = raw.tenant.trim();
  const from = raw.from !== undefined ? instant(raw.from, 'from') : undefined;
  const to = raw.to !== undefined ? instant(raw.to, 'to') : undefined;
  if (from !== undefined && to !== undefined && Date.parse(to) <= Date.parse(from)) throw new UsageError(`--to: must be after --from (${from})`);
  if (from !== undefined) q.from = from;
  if (to !== undefined) q.to = to;
  return q;
}

const money = (n: number): string => n.toFixed(2);

/** The report as a table, totals last. */
export function usageTable(r: UsageReport): string {
  const period = `${r.from ?? 'the beginning'} to ${r.to ?? 'now'}`;
  if (r.rows.length === 0) return `no usage from ${period}\n`;
  const rows = r.rows.map((x) => [x.tenant, x.taskId, x.gpuModel, x.gpuSeconds.toFixed(1), money(x.listAmount), money(x.discountAmount), money(x.chargedAmount), x.promotions.join(',') || '-']);
  const t = r.totals;
  rows.push(['TOTAL', '', '', t.gpuSeconds.toFixed(1), money(t.listAmount), money(t.discountAmount), money(t.chargedAmount), t.promotions.join(',') || '-']);
  return `usage from ${period}, in ${r.currency}\n` + table(['TENANT', 'TASK', 'GPU MODEL', 'GPU-SECONDS', 'LIST', 'DISCOUNT', 'CHARGED', 'PROMOTIONS'], rows) + usageGroupsTable(r);
}

export function register(program: Command): void {
  withOutput(withConnection(program.command('usage')))
    .description('usage and cost per tenant, task and GPU model: list price, discount, charged')
    .option('--tenant <name>', 'only this tenant (members: their own, the default)')
    .option('--from <iso>', 'start of the period (ISO 8601), inclusive')
    .option('--to <iso>', 'end of the period (ISO 8601), exclusive')
    .action(async (raw: RawUsage & { output?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const output = outputFlag(raw.output);
      const report = await clientFor(cmd).billing.usage(compileUsageQuery(raw));
      ctx.stdout.write(output === 'json' ? `${JSON.stringify(report, null, 2)}\n` : usageTable(report) + nodeHoursTable(report));
    });
}
