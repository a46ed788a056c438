// What `fastgpu status` shows (GET /v1/cluster): the servers of the pool, which one leads and
// with which epoch, and the store. One server over SQLite answers with itself; several over
// Postgres answer from the database (the leadership row and every server's heartbeat), so a
// follower answers too, even while no leader is elected.
import { z } from 'zod';
import type { RouteBook } from './api.js';

export const ServerRole = z.enum(['leader', 'follower', 'degraded', 'gone']).describe('leader: runs the control loop; follower: forwards to it; degraded: cannot reach the store; gone: no heartbeat for a while');

export const ClusterViewSchema = z
  .object({
    store: z.string().describe('the store, password hidden'),
    mode: z.enum(['single', 'replicated']).describe('single: one server (SQLite); replicated: servers over one Postgres with an elected leader'),
    leader: z
      .object({ id: z.string(), url: z.string(), epoch: z.number().int().describe('fencing epoch: grows by one at every change of leader'), since: z.number().nullable() })
      .nullable()
      .describe('null while no leader is elected'),
    servers: z.array(
      z.object({
        id: z.string(),
        url: z.string(),
        role: ServerRole,
        startedAt: z.number(),
        seenAt: z.number().describe('last heartbeat (ms since epoch)'),
      }),
    ),
    answeredBy: z.string().describe('the id of the server that answered'),
  })
  .describe('the servers of the pool and which one leads');

export type ClusterView = z.infer<typeof ClusterViewSchema>;

/** Servers whose heartbeat is older than this are shown as gone. */
export const GONE_AFTER_MS = 10_000;

/** GET /v1/cluster, answered by `view`. */
export function clusterRoute(book: RouteBook, view: () => Promise<ClusterView>): void {
  book.add({
    method: 'GET',
    url: '/v1/cluster',
    tag: 'system',
    summary: 'The servers of the pool, which one leads (and its epoch), and the store: what `fastgpu status` shows',
    response: ClusterViewSchema,
    handler: async () => view(),
  });
}

/** The view of one server alone (SQLite). */
export function singleServerView(store: string, url: () => string, startedAt: number, now: () => number): () => Promise<ClusterView> {
  return async () => {
    const at = now();
    return {
      store,
      mode: 'single',
      leader: { id: 'this', url: url(), epoch: 0, since: startedAt },
      servers: [{ id: 'this', url: url(), role: 'leader', startedAt, seenAt: at }],
      answeredBy: 'this',
    };
  };
}
