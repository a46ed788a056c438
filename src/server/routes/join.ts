// Joining machines (issue 11, ../join.ts): the join and renew calls of the agent protocol,
// admins' join tokens, and removing a node.
import { z } from 'zod';
import { conflict, FastGpuError, notFound } from '../../core/errors.js';
import { NODE_CREDENTIAL_HEADER } from '../../protocol/agent.js';
import { JoinRequestSchema, JoinResponseSchema, JoinTokenCreateSchema, JoinTokenViewSchema, NodeRemovedSchema, type JoinTokenView } from '../../protocol/join.js';
import type { JoinTokenRecord } from '../../store/join-port.js';
import { authorize, type Principal } from '../auth.js';
import type { JoinService } from '../join.js';
import { IdParamsSchema, OkSchema } from '../schemas.js';
import type { RouteContext } from './context.js';

const iso = (t: number): string => new Date(t).toISOString();

function joinTokenView(t: JoinTokenRecord): JoinTokenView {
  return { id: t.id, labels: t.labels, uses: t.uses, maxUses: t.maxUses, createdAt: iso(t.createdAt), expiresAt: iso(t.expiresAt), revokedAt: t.revokedAt === null ? null : iso(t.revokedAt) };
}

/** The node credential an agent's request carries (its header), or undefined. */
export function credentialOf(req: { headers: Record<string, string | string[] | undefined> }): string | undefined {
  const v = req.headers[NODE_CREDENTIAL_HEADER];
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

/** A joined node's credential speaks only for its own node name (403 otherwise). */
export function checkNodeBinding(p: Principal, nodeName: string | undefined): void {
  if (p.node === undefined || nodeName === p.node) return;
  throw new FastGpuError('FORBIDDEN', `this node credential speaks for node ${p.node}, not ${nodeName ?? 'an unknown node'}`);
}

export function joinRoutes(ctx: RouteContext, join: JoinService): void {
  const { book, control, store, auth, log } = ctx;

  book.add({
    method: 'POST',
    url: '/v1/agent/join',
    tag: 'agent',
    summary: 'An agent trades a join token (once) for a node credential: its bearer secret from then on',
    auth: false,
    body: JoinRequestSchema,
    response: JoinResponseSchema,
    handler: async ({ body }) => {
      // Checked before the token's use is counted: a live node's name is not for the taking.
      const held = control.findNode(body.name);
      if (held && held.state !== 'LOST') {
        throw conflict(`node name ${body.name} is held by a live node (${held.id}): give this agent its own --name, or remove that node first (fastgpu admin node rm ${body.name})`);
      }
      const out = await join.join(body);
      log(`node ${body.name} joined (agent ${body.agentVersion || 'unknown'}, protocol ${body.protocolVersion})`);
      return out;
    },
  });

  book.add({
    method: 'POST',
    url: '/v1/agent/renew',
    tag: 'agent',
    summary: 'A joined agent trades its node credential for a fresh one before it expires; the old one dies',
    response: JoinResponseSchema,
    handler: async ({ principal }) => {
      if (principal.node === undefined) throw new FastGpuError('FORBIDDEN', 'only a joined node credential can be renewed (shared agent and admin tokens do not expire)');
      const out = await join.renew(principal.node, principal.tokenId);
      auth.invalidate();
      return out;
    },
  });

  book.add({
    method: 'POST',
    url: '/v1/admin/join-tokens',
    tag: 'admin',
    summary: 'Make a join token (admins): short-lived, limited in uses; the answer holds its secret, shown this once',
    body: JoinTokenCreateSchema,
    response: JoinTokenViewSchema.extend({ token: z.string() }),
    status: 201,
    handler: async ({ body, principal }) => {
      authorize(principal, 'token.create', null);
      const { record, token } = await join.createToken({
        ...(body.ttl !== undefined ? { ttl: body.ttl } : {}),
        ...(body.labels !== undefined ? { labels: body.labels } : {}),
        ...(body.uses !== undefined ? { uses: body.uses } : {}),
      });
      return { ...joinTokenView(record), token };
    },
  });

  book.add({
    method: 'GET',
    url: '/v1/admin/join-tokens',
    tag: 'admin',
    summary: 'Join tokens (admins), oldest first, without their secrets',
    response: z.object({ joinTokens: z.array(JoinTokenViewSchema) }),
    handler: async ({ principal }) => {
      authorize(principal, 'token.list', null);
      return { joinTokens: (await store.listJoinTokens()).map(joinTokenView) };
    },
  });

  book.add({
    method: 'DELETE',
    url: '/v1/admin/join-tokens/:id',
    tag: 'admin',
    summary: 'Revoke a join token (admins): it allows no more joins; nodes that joined keep their credentials',
    params: IdParamsSchema,
    response: OkSchema,
    handler: async ({ params, principal }) => {
      authorize(principal, 'token.revoke', null);
      if (!(await store.revokeJoinToken(params.id, ctx.clock.now()))) throw notFound('join token', params.id);
      return { ok: true };
    },
  });

  book.add({
    method: 'DELETE',
    url: '/v1/nodes/:node',
    tag: 'pool',
    summary: 'Remove a node (admins): its credentials stop working at once and its tasks are requeued',
    params: z.strictObject({ node: z.string().min(1).max(128).describe('node id or name') }),
    response: NodeRemovedSchema,
    handler: async ({ params, principal }) => {
      authorize(principal, 'node.drain', null);
      const node = control.findNode(params.node);
      if (!node) throw notFound('node', params.node);
      const credentialsRevoked = await join.revokeNode(node.name);
      auth.invalidate();
      const markedLost = node.state !== 'LOST';
      await control.nodeGone(node.id, 'removed by an admin: its credentials are revoked and its tasks requeued');
      return { node: node.name, credentialsRevoked, markedLost };
    },
  });
}
