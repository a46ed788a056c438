// GET /v1/usage?tenant=&from=&to=: priced usage per tenant × task × GPU model over a period
// (`fastgpu usage`). Running attempts are settled up to now first, so the report is current.
// Members and viewers see their own tenant only; admins every tenant, or the one they name.
import { z } from 'zod';
import { invalid } from '../../core/errors.js';
import { parseInstant } from '../../core/pricing/parse.js';
import { usageReport, usageReportToJson } from '../../core/pricing/report.js';
import { linesToPricedUsage } from '../../store/ledger.js';
import type { PricedUsageFilter } from '../../store/port.js';
import { UsageGroupSchema } from '../../protocol/arrays.js';
import { usageGroups } from '../arrays-usage.js';
import { listScope } from '../auth.js';
import { isoTimeQuery as isoTime } from '../schemas.js';
import { lentNodeHours, NodeHoursSchema } from '../autoscale-usage.js';
import type { RouteContext } from './context.js';

export const UsageQuerySchema = z.strictObject({
  tenant: z.string().min(1).max(64).optional().describe('only this tenant (members: their own)'),
  from: isoTime.optional().describe('ISO 8601 start of the period (inclusive)'),
  to: isoTime.optional().describe('ISO 8601 end of the period (exclusive)'),
});

const Amounts = { listAmount: z.number(), discountAmount: z.number(), chargedAmount: z.number(), listMicros: z.string(), discountMicros: z.string(), chargedMicros: z.string() };

export const UsageReportSchema = z.object({
  from: z.string().nullable(),
  to: z.string().nullable(),
  currency: z.string(),
  rows: z.array(z.object({ tenant: z.string(), taskId: z.string(), gpuModel: z.string(), gpuSeconds: z.number(), promotions: z.array(z.string()), ...Amounts })),
  totals: z.object({ gpuSeconds: z.number(), promotions: z.array(z.string()), ...Amounts }),
  groups: z.array(UsageGroupSchema).describe('the rows summed per task array, map and sweep (issue 14), with element counts by state'),
  nodeHours: NodeHoursSchema.optional(),
});

export function usageRoutes(ctx: RouteContext): void {
  const { book, store, control } = ctx;

  book.add({
    method: 'GET',
    url: '/v1/usage',
    tag: 'usage',
    summary: 'Usage report: GPU-seconds, list price, discount and charged amount per tenant, task and GPU model over [from, to)',
    query: UsageQuerySchema,
    response: UsageReportSchema,
    handler: async ({ query, principal }) => {
      const tenant = listScope(principal, 'usage.read', query.tenant);
      const from = query.from !== undefined ? parseInstant(query.from, 'query.from') : undefined;
      const to = query.to !== undefined ? parseInstant(query.to, 'query.to') : undefined;
      if (from !== undefined && to !== undefined && to <= from) throw invalid('query.to', `must be after from (${query.from})`);
      await control.billing.settleNow();
      const filter: PricedUsageFilter = {};
      if (from !== undefined) filter.from = from;
      if (to !== undefined) filter.to = to;
      if (tenant !== null) filter.tenant = tenant;
      const lines = await store.listPricedUsage(filter);
      const report = usageReport(linesToPricedUsage(lines), { ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}), ...(tenant !== null ? { tenant } : {}) });
      const nodeHours = principal.role === 'admin' ? { nodeHours: await lentNodeHours(store, { ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}), now: ctx.clock.now() }) } : {};
      return { ...usageReportToJson(report, control.billing.pricing.book.currency), groups: await usageGroups(report, store.groups()), ...nodeHours };
    },
  });
}
