// The one place typed errors become HTTP statuses. A FastGpuError is bad input (or a known
// condition) with a stable code; Fastify's own client errors (body too large, bad URL…) are
// mapped to the same codes; anything else is a bug and becomes a 500 with no detail leaked.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { FastGpuError, type ErrorCode } from '../core/errors.js';

export const STATUS: Record<ErrorCode, number> = {
  INVALID_ARGUMENT: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  RESOURCE_EXHAUSTED: 429,
  UNSCHEDULABLE: 422,
  UNAVAILABLE: 503,
};

export interface ErrorBody {
  error: { code: ErrorCode | 'INTERNAL' | 'METHOD_NOT_ALLOWED'; message: string; field?: string };
}

/** At most `max` characters of client input for an error message, so that no answer echoes unbounded input. */
export function clip(s: string, max = 128): string {
  return s.length <= max ? s : `${s.slice(0, max)}… (${s.length} characters)`;
}

/** A zod failure as a FastGpuError naming the first offending field (`where` prefixes it). */
export function fromZod(err: z.ZodError, where?: string): FastGpuError {
  const issue = err.issues[0];
  const path = issue ? issue.path.map(String).join('.') : '';
  let field = [where, path].filter((s) => s).join('.') || where || 'body';
  let message = issue?.message ?? 'invalid';
  if (issue?.code === 'unrecognized_keys') {
    const keys = issue.keys;
    field = [field === 'body' ? '' : field, clip(keys[0] ?? '', 64)].filter((s) => s).join('.');
    message = `unknown field${keys.length > 1 ? 's' : ''} ${keys.slice(0, 5).map((k) => `'${clip(k, 64)}'`).join(', ')}${keys.length > 5 ? ` and ${keys.length - 5} more` : ''}`;
  }
  return new FastGpuError('INVALID_ARGUMENT', `${field}: ${message}`, field);
}

/** Parse `input` with `schema`, throwing a 400 that names the field. */
export function parseWith<S extends z.ZodType>(schema: S, input: unknown, where?: string): z.output<S> {
  const r = schema.safeParse(input);
  if (!r.success) throw fromZod(r.error, where);
  return r.data;
}

// Fastify's own client errors, by code, as ours.
const FASTIFY_CODES: Record<string, { code: ErrorCode; field?: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'PAYLOAD_TOO_LARGE', field: 'body' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: 'INVALID_ARGUMENT', field: 'content-type' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: 'INVALID_ARGUMENT', field: 'content-length' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'INVALID_ARGUMENT', field: 'body' },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'INVALID_ARGUMENT', field: 'body' },
  FST_ERR_CTP_EMPTY_TYPE: { code: 'INVALID_ARGUMENT', field: 'content-type' },
  FST_ERR_CTP_INVALID_TYPE: { code: 'INVALID_ARGUMENT', field: 'content-type' },
  FST_ERR_BAD_URL: { code: 'INVALID_ARGUMENT', field: 'url' },
  FST_ERR_ASYNC_CONSTRAINT: { code: 'INVALID_ARGUMENT', field: 'url' },
  FST_ERR_INVALID_URL: { code: 'INVALID_ARGUMENT', field: 'url' },
  FST_ERR_MAX_PARAM_LENGTH: { code: 'INVALID_ARGUMENT', field: 'url' },
};

/** The spec's `maxLength` of every path parameter, and the router's limit (on the decoded value). */
export const MAX_PATH_PARAM = 128;

// Fastify's URL errors quote the whole path: ours say what is wrong without echoing it.
const URL_MESSAGES: Record<string, string> = {
  FST_ERR_MAX_PARAM_LENGTH: `url: a path parameter is longer than ${MAX_PATH_PARAM} characters`,
  FST_ERR_BAD_URL: 'url: a path component is not valid percent-encoding',
  FST_ERR_INVALID_URL: 'url: not a valid URL',
};

/** The status and body for any thrown value. */
export function toErrorResponse(err: unknown): { status: number; body: ErrorBody; bug: boolean } {
  if (err instanceof FastGpuError) {
    const body: ErrorBody = { error: { code: err.code, message: err.message } };
    if (err.field !== undefined) body.error.field = err.field;
    return { status: STATUS[err.code], body, bug: false };
  }
  if (err instanceof z.ZodError) return toErrorResponse(fromZod(err));
  const fe = err as Partial<FastifyError> | null;
  const known = fe && typeof fe.code === 'string' ? FASTIFY_CODES[fe.code] : undefined;
  if (known) {
    const msg = known.code === 'PAYLOAD_TOO_LARGE' ? 'body: request body is larger than the limit' : (URL_MESSAGES[fe!.code!] ?? clip(String(fe?.message ?? 'invalid request'), 200));
    const body: ErrorBody = { error: { code: known.code, message: msg } };
    if (known.field) body.error.field = known.field;
    return { status: STATUS[known.code], body, bug: false };
  }
  // Other Fastify client errors (4xx with a statusCode) stay client errors.
  if (fe && typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    const code: ErrorCode = fe.statusCode === 413 ? 'PAYLOAD_TOO_LARGE' : fe.statusCode === 404 ? 'NOT_FOUND' : 'INVALID_ARGUMENT';
    return { status: STATUS[code], body: { error: { code, message: clip(String(fe.message ?? 'bad request'), 200) } }, bug: false };
  }
  return { status: 500, body: { error: { code: 'INTERNAL', message: 'internal error (a bug): see the server log' } }, bug: true };
}

/** Seconds a 429's Retry-After asks a client to wait. */
export const RETRY_AFTER_S = 1;

/** Fastify error handler: one mapping for every route. */
export function makeErrorHandler(log: (line: string) => void) {
  return (err: unknown, req: FastifyRequest, reply: FastifyReply): void => {
    const { status, body, bug } = toErrorResponse(err);
    if (bug) log(`error: ${req.method} ${req.url}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    if (reply.sent || reply.raw.headersSent) return;
    // A per-caller limit (429) frees up as the caller's streams end: say when to try again.
    if (status === 429) void reply.header('retry-after', String(RETRY_AFTER_S));
    void reply.code(status).type('application/json').send(body);
  };
}
