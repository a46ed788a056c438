// The wire shape of GET /v1/autoscale/nodes (issue 12): nodes that providers lent the pool, coming
// and going. Served by src/server/autoscale-routes.ts; read by the dashboard's pool page.
import { z } from 'zod';

/** Where a lent node is: asked for and not joined yet, taking work, being emptied, given back. */
export const LentNodeStateSchema = z.enum(['joining', 'up', 'draining', 'released']);
export type LentNodeState = z.infer<typeof LentNodeStateSchema>;

export const LentNodeViewSchema = z.object({
  provider: z.string(),
  providerId: z.string().describe('the provider’s handle: a Slurm job id, an instance id, a pid'),
  node: z.string().describe('the node name its agent registers with'),
  shape: z.string(),
  state: LentNodeStateSchema,
  requestedAt: z.string(),
  joinedAt: z.string().nullable(),
  drainingAt: z.string().nullable(),
  releasedAt: z.string().nullable(),
  releaseReason: z.string().nullable(),
  hourlyAmount: z.number().nullable().describe('its price per hour; null when unknown'),
});
export type LentNodeView = z.infer<typeof LentNodeViewSchema>;

export const LentNodeListSchema = z.object({ nodes: z.array(LentNodeViewSchema) });
export type LentNodeList = z.infer<typeof LentNodeListSchema>;
