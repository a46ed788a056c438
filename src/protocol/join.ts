// Joining (issue 11): an agent trades a join token once for a node credential, the bearer secret
// it speaks the agent protocol with from then on, and renews that credential before it expires.
//
//   POST /v1/agent/join    JoinRequest  → JoinResponse   (no bearer: the join token is the proof)
//   POST /v1/agent/renew   (bearer: the node credential) → JoinResponse
import { z } from 'zod';
import { NodeNameSchema } from './agent.js';

export const JoinRequestSchema = z.strictObject({
  joinToken: z.string().min(1).max(256),
  name: NodeNameSchema,
  agentVersion: z.string().max(64).regex(/^[\x20-\x7e]*$/, { error: 'printable ASCII only' }),
  /** The agent protocol version the agent speaks (src/protocol/version.ts). */
  protocolVersion: z.number().int().min(0).max(1_000_000),
});
export type JoinRequest = z.infer<typeof JoinRequestSchema>;

/** Node labels as the agent protocol takes them (RegisterRequest.labels). */
export const JoinLabelsSchema = z
  .record(z.string().min(1).max(253).regex(/^[A-Za-z0-9._/-]+$/, { error: 'a label key is A-Z a-z 0-9 . _ / -' }), z.string().max(253).regex(/^[^\u0000-\u001f\u007f]*$/, { error: 'must not contain control characters' }))
  .refine((l) => Object.keys(l).length <= 64, { error: 'at most 64 labels' });

export const JoinTokenCreateSchema = z.strictObject({
  ttl: z.union([z.string().max(32), z.number().positive()]).optional().describe('how long it may be used: 15m (default), 2h, 1d…; a bare number is seconds'),
  labels: JoinLabelsSchema.optional().describe('labels every node that joins with it gets'),
  uses: z.number().int().min(1).max(100_000).optional().describe('how many nodes may join with it (default 1)'),
});

export const JoinTokenViewSchema = z.object({
  id: z.string(),
  labels: z.record(z.string(), z.string()),
  uses: z.number().int(),
  maxUses: z.number().int(),
  createdAt: z.string(),
  expiresAt: z.string(),
  revokedAt: z.string().nullable(),
});
export type JoinTokenView = z.infer<typeof JoinTokenViewSchema>;

export const NodeRemovedSchema = z.object({
  node: z.string(),
  /** Live node credentials killed; 0 for a node that speaks with a shared agent token. */
  credentialsRevoked: z.number().int(),
  /** Whether the node was alive and is now LOST, its tasks requeued. */
  markedLost: z.boolean(),
});

export const JoinResponseSchema = z.strictObject({
  /** The node's bearer secret: kept 0600 in the agent's state dir, sent as `Authorization: Bearer`. */
  credential: z.string(),
  node: z.string(),
  /** Epoch ms after which the server refuses it. */
  expiresAt: z.number().int(),
  /** Epoch ms from which the agent should renew it. */
  renewAt: z.number().int(),
  /** Labels the join token gives the node. */
  labels: z.record(z.string(), z.string()),
});
export type JoinResponse = z.infer<typeof JoinResponseSchema>;
