// /v1/agent/*: the server side of the agent protocol (src/protocol/agent.ts).
import {
  AssignmentsResponseSchema,
  HeartbeatRequestSchema,
  HeartbeatResponseSchema,
  LogsRequestSchema,
  NODE_CREDENTIAL_HEADER,
  RegisterRequestSchema,
  RegisterResponseSchema,
  ReportsRequestSchema,
} from '../../protocol/agent.js';
import { AGENT_BODY_LIMIT } from '../body.js';
import { AssignmentsQuerySchema, OkSchema } from '../schemas.js';
import { checkProtocolVersion } from '../../protocol/version.js';
import type { RouteContext } from './context.js';
import { checkNodeBinding, credentialOf } from './join.js';
import { clientGone } from './util.js';

/** The node credential header of a request (see src/server/node-identity.ts). */
export function agentRoutes(ctx: RouteContext): void {
  const { book, control } = ctx;

  book.add({
    method: 'POST',
    url: '/v1/agent/register',
    tag: 'agent',
    summary: 'An agent joins (or rejoins) with its GPUs and everything it runs; answers stop orders',
    body: RegisterRequestSchema,
    bodyLimit: AGENT_BODY_LIMIT,
    response: RegisterResponseSchema,
    handler: async ({ body, principal }) => {
      checkProtocolVersion(body.protocolVersion, body.agentVersion);
      checkNodeBinding(principal, body.name);
      return control.register(body);
    },
  });

  book.add({
    method: 'POST',
    url: '/v1/agent/heartbeat',
    tag: 'agent',
    summary: 'Liveness, what the agent runs, utilisation samples; answers acks and stop orders',
    body: HeartbeatRequestSchema,
    bodyLimit: AGENT_BODY_LIMIT,
    response: HeartbeatResponseSchema,
    handler: async ({ body, req }) => {
      await control.authNode(body.nodeId, credentialOf(req));
      return control.heartbeat(body);
    },
  });

  book.add({
    method: 'GET',
    url: '/v1/agent/assignments',
    tag: 'agent',
    summary: 'Long-poll for assignments and stop orders; answers at once when something new is there',
    query: AssignmentsQuerySchema,
    response: AssignmentsResponseSchema,
    handler: async ({ query, reply, req }) => {
      await control.authNode(query.nodeId, credentialOf(req));
      return control.assignments(query.nodeId, query.waitMs ?? 25_000, clientGone(reply));
    },
  });

  book.add({
    method: 'POST',
    url: '/v1/agent/reports',
    tag: 'agent',
    summary: 'Task started / exited reports (idempotent; stale attempts are ignored)',
    body: ReportsRequestSchema,
    bodyLimit: AGENT_BODY_LIMIT,
    response: OkSchema,
    handler: async ({ body, req }) => {
      await control.authNode(body.nodeId, credentialOf(req));
      await control.reports(body);
      return { ok: true };
    },
  });

  book.add({
    method: 'POST',
    url: '/v1/agent/logs',
    tag: 'agent',
    summary: 'Log chunks (idempotent by task, attempt, stream and seq)',
    body: LogsRequestSchema,
    bodyLimit: AGENT_BODY_LIMIT,
    response: OkSchema,
    handler: async ({ body, req }) => {
      await control.authNode(body.nodeId, credentialOf(req));
      await control.appendLogs(body.chunks, body.nodeId);
      return { ok: true };
    },
  });
}
