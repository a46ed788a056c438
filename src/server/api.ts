// Route definitions that validate at the edge and describe themselves: each route names its
// params, query, body and answer as zod schemas; `defineRoute` registers it with Fastify
// (params and query parsed before the handler runs, auth in onRequest so a 401 comes before
// any body is read) and records it for /v1/openapi.json.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Authenticator, Principal } from './auth.js';
import { parseWith } from './errors.js';
import { wireOverride } from './wire.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set on authenticated routes. */
    principal: Principal | null;
  }
}

export type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

export interface RouteDoc {
  method: Method;
  url: string;
  summary: string;
  tag: string;
  auth: boolean;
  params?: z.ZodType;
  query?: z.ZodType;
  /** The body, as documented (validated by `body` or by core). */
  bodyDoc?: z.ZodType;
  bodyTypes?: string[];
  response?: z.ZodType;
  status: number;
  produces: 'json' | 'sse' | 'text';
  /** Request headers the route reads, for the OpenAPI. */
  headers?: { name: string; description: string }[];
  also?: readonly AlsoAnswer[];
}

/** A second success answer of a route (JSON), e.g. 200 beside 201 for an update in place. */
export interface AlsoAnswer {
  status: number;
  description: string;
  response: z.ZodType;
}

export interface HandlerCtx<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  req: FastifyRequest;
  reply: FastifyReply;
  principal: Principal;
}

export interface RouteDef<PS extends z.ZodType, QS extends z.ZodType, BS extends z.ZodType> {
  method: Method;
  url: string;
  summary: string;
  tag: string;
  /** Default true. */
  auth?: boolean;
  params?: PS;
  query?: QS;
  /** Validates the body; without it the handler receives the parsed body as `unknown`. */
  body?: BS;
  bodyDoc?: z.ZodType;
  bodyTypes?: string[];
  bodyLimit?: number;
  response?: z.ZodType;
  status?: number;
  produces?: 'json' | 'sse' | 'text';
  headers?: { name: string; description: string }[];
  /** Other success answers the handler sends itself (documented in the spec beside `status`). */
  also?: readonly AlsoAnswer[];
  handler: (ctx: HandlerCtx<z.output<PS>, z.output<QS>, z.output<BS>>) => Promise<unknown>;
}

const ANON: Principal = { tokenId: '', role: 'viewer', tenant: 'default' };

export class RouteBook {
  readonly docs: RouteDoc[] = [];

  constructor(
    private readonly app: FastifyInstance,
    private readonly auth: Authenticator,
  ) {}

  /**
   * The methods declared for a concrete request path (`/v1/tasks/abc`), HEAD with GET as Fastify
   * serves it; null when no route has that path. A known path with another method answers 405.
   */
  allowed(path: string): string[] | null {
    const segs = path.split('/');
    const methods = new Set<string>();
    for (const d of this.docs) {
      const pat = d.url.split('/');
      if (pat.length === segs.length && pat.every((p, i) => (p.startsWith(':') ? segs[i] !== '' : p === segs[i]))) {
        methods.add(d.method);
        if (d.method === 'GET') methods.add('HEAD');
      }
    }
    return methods.size === 0 ? null : [...methods].sort();
  }

  add<PS extends z.ZodType = z.ZodUnknown, QS extends z.ZodType = z.ZodUnknown, BS extends z.ZodType = z.ZodUnknown>(def: RouteDef<PS, QS, BS>): void {
    const needsAuth = def.auth ?? true;
    const status = def.status ?? 200;
    const doc: RouteDoc = {
      method: def.method,
      url: def.url,
      summary: def.summary,
      tag: def.tag,
      auth: needsAuth,
      status,
      produces: def.produces ?? 'json',
    };
    if (def.params) doc.params = def.params;
    if (def.query) doc.query = def.query;
    const bodyDoc = def.bodyDoc ?? def.body;
    if (bodyDoc) doc.bodyDoc = bodyDoc;
    if (def.bodyTypes) doc.bodyTypes = def.bodyTypes;
    if (def.response) doc.response = def.response;
    if (def.headers) doc.headers = def.headers;
    if (def.also) doc.also = def.also;
    this.docs.push(doc);
    const auth = this.auth;
    this.app.route({
      method: def.method,
      url: def.url,
      ...(def.bodyLimit ? { bodyLimit: def.bodyLimit } : {}),
      onRequest: needsAuth
        ? async (req) => {
            req.principal = await auth.authenticateFor(def.url, req.headers.authorization);
          }
        : undefined,
      handler: async (req, reply) => {
        const params = def.params ? parseWith(def.params, req.params ?? {}, 'params') : req.params;
        const query = def.query ? parseWith(def.query, req.query ?? {}, 'query') : req.query;
        const body = def.body ? parseWith(def.body, req.body, 'body') : bodyDoc ? req.body : undefined;
        // A route that declares no body must not read one: the spec would not describe it, and
        // a generated client could not send it. Reading it anyway is a bug, and answers 500.
        if (!bodyDoc) hideBody(req, `${def.method} ${def.url}`);
        const out = await def.handler({
          params: params as z.output<PS>,
          query: query as z.output<QS>,
          body: body as z.output<BS>,
          req,
          reply,
          principal: req.principal ?? ANON,
        });
        if (reply.sent) return reply;
        if (out === undefined) return reply;
        return reply.code(status).send(out);
      },
    });
  }
}

function hideBody(req: FastifyRequest, route: string): void {
  Object.defineProperty(req, 'body', {
    configurable: true,
    get: () => {
      throw new Error(`${route} reads a request body its route does not declare (give it \`body\` or \`bodyDoc\`)`);
    },
  });
}

/** OpenAPI 3.1 for every recorded route, from the same zod schemas the routes validate with. */
export function buildOpenApi(docs: readonly RouteDoc[], version: string): Record<string, unknown> {
  const toSchema = (s: z.ZodType, io: 'input' | 'output'): Record<string, unknown> => {
    const j = z.toJSONSchema(s, { io, unrepresentable: 'any', target: 'draft-2020-12', override: wireOverride }) as Record<string, unknown>;
    delete j.$schema;
    return j;
  };
  const paths: Record<string, Record<string, unknown>> = {};
  for (const d of docs) {
    const path = d.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const op: Record<string, unknown> = { summary: d.summary, tags: [d.tag], operationId: `${d.method.toLowerCase()}${path.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}` };
    const parameters: Record<string, unknown>[] = [];
    for (const [where, schema] of [
      ['path', d.params],
      ['query', d.query],
    ] as const) {
      if (!schema) continue;
      const js = toSchema(schema, 'input');
      const props = (js.properties ?? {}) as Record<string, Record<string, unknown>>;
      const required = new Set((js.required ?? []) as string[]);
      for (const [name, p] of Object.entries(props)) {
        const param: Record<string, unknown> = { name, in: where, required: where === 'path' || required.has(name), schema: p };
        if (typeof p.description === 'string') param.description = p.description;
        parameters.push(param);
      }
    }
    for (const h of d.headers ?? []) parameters.push({ name: h.name, in: 'header', required: false, description: h.description, schema: { type: 'string', maxLength: 200 } });
    if (parameters.length > 0) op.parameters = parameters;
    if (d.bodyDoc) {
      const content: Record<string, unknown> = {};
      for (const type of d.bodyTypes ?? ['application/json']) content[type] = { schema: toSchema(d.bodyDoc, 'input') };
      op.requestBody = { required: true, content };
    }
    const responses: Record<string, unknown> = {};
    if (d.produces === 'sse') {
      // Open API 3.1 has an event stream's `schema` describe one event: its fields as parsed.
      responses[String(d.status)] = { description: 'server-sent events', content: { 'text/event-stream': { schema: { $ref: '#/components/schemas/ServerSentEvent' } } } };
      if (d.response) (responses[String(d.status)] as { content: Record<string, unknown> }).content['application/json'] = { schema: toSchema(d.response, 'output') };
    } else if (d.produces === 'text') {
      responses[String(d.status)] = { description: 'text', content: { 'text/plain': { schema: { type: 'string' } } } };
    } else {
      responses[String(d.status)] = { description: 'OK', content: d.response ? { 'application/json': { schema: toSchema(d.response, 'output') } } : {} };
    }
    for (const a of d.also ?? []) responses[String(a.status)] = { description: a.description, content: { 'application/json': { schema: toSchema(a.response, 'output') } } };
    // Bad input, a missing or wrong token, a missing entity, a conflict, a rate limit: 4XX with
    // the error body; anything else (503 while degraded, 500 on a bug) is the default.
    const error = { content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
    responses['4XX'] = { description: 'the request cannot be served as sent: `error.code` says why, `error.field` names the field', ...error };
    responses.default = { description: 'server error', ...error };
    op.responses = responses;
    if (!d.auth) op.security = [];
    (paths[path] ??= {})[d.method.toLowerCase()] = op;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'FastGPU API',
      version,
      description: 'GPU pool: tasks, vGPUs, nodes, GPUs, events and the agent protocol.',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Error: {
          type: 'object',
          properties: {
            error: {
              type: 'object',
              properties: { code: { type: 'string' }, message: { type: 'string' }, field: { type: 'string' } },
              required: ['code', 'message'],
            },
          },
          required: ['error'],
        },
        ServerSentEvent: {
          type: 'object',
          description: 'One event of a stream: `event` names it, `data` is its JSON, `id` resumes after it (Last-Event-ID)',
          properties: { event: { type: 'string' }, data: { type: 'string' }, id: { type: 'string' }, retry: { type: 'integer', minimum: 0 } },
          required: ['event', 'data'],
        },
      },
    },
    paths,
  };
}
