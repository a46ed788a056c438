// The dashboard as a Fastify plugin: serves the built web app at `/`, trades the login token of
// `/?token=…` for a session cookie, and lets API calls carrying that cookie through the
// server's own bearer auth. Registered on the root instance (no encapsulation) because its
// onRequest hook must run before every /v1 route's auth.
//
//   await app.register(dashboardPlugin, { authenticate: (h) => auth.authenticate(h), clock });
//   app.dashboard.issueLoginCode(adminToken)  // → the `?token=` value `fastgpu up` prints
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../core/types.js';
import { jsonNestingError } from '../util/nesting.js';
import { readCookie, SESSION_COOKIE, SessionBook, sessionCookie, SessionsFull } from './sessions.js';
import { findWebRoot, loadStaticFiles, type StaticFile } from './static.js';

/**
 * Who a token is. An error with code `UNAUTHENTICATED` means unknown or revoked (the server's
 * Authenticator); any other error means the check itself failed (a busy store) and says nothing
 * about the token.
 */
export interface DashboardPrincipal {
  tenant: string;
  role: string;
}

export interface DashboardOptions {
  /** Checks an `Authorization` header value (`Bearer T`); throws `UNAUTHENTICATED` when the token is not valid. */
  authenticate(authorization: string): Promise<DashboardPrincipal>;
  clock: Clock;
  /** Folder of the built app; default: found beside the code (see findWebRoot). */
  webRoot?: string;
  sessionTtlMs?: number;
  /** Mark the cookie Secure (behind HTTPS). Default false: the server listens on plain HTTP. */
  secureCookie?: boolean;
}

/** What the plugin adds to the app (`app.dashboard`). */
export interface Dashboard {
  /** A single-use `?token=` value that logs a browser in as `token`. */
  issueLoginCode(token: string): string;
  /** The API token behind the request's session cookie, or null. */
  sessionToken(req: FastifyRequest): string | null;
  readonly sessions: SessionBook;
  /** Where the app was found; null when it is not built. */
  readonly webRoot: string | null;
}

declare module 'fastify' {
  interface FastifyInstance {
    dashboard: Dashboard;
  }
}

/** Header the page sends on every call; a cross-site form cannot set it. */
export const CSRF_HEADER = 'x-fastgpu-csrf';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Largest login body: `{"token": "<512 chars>"}` and some room. */
const LOGIN_BODY_LIMIT = 2048;

/** `{token}` from a login body, or undefined: flat JSON only (nothing nested is even parsed). */
function parseLoginBody(text: string): { token?: unknown } | undefined {
  if (jsonNestingError(text, 1) !== null) return undefined;
  try {
    const v = JSON.parse(text) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as { token?: unknown }) : undefined;
  } catch {
    return undefined;
  }
}

function unauthenticated(reply: FastifyReply, message: string): FastifyReply {
  return reply.code(401).type('application/json').send({ error: { code: 'UNAUTHENTICATED', message } });
}

const isUnauthenticated = (e: unknown): boolean => typeof e === 'object' && e !== null && (e as { code?: unknown }).code === 'UNAUTHENTICATED';

/** The token could not be checked (not: the token is bad): 503 with a retry hint; no session is touched. */
function unavailable(req: FastifyRequest, reply: FastifyReply, e: unknown): FastifyReply {
  req.log.error({ err: e }, 'dashboard: could not check a session token');
  return reply
    .code(503)
    .header('retry-after', '2')
    .type('application/json')
    .send({ error: { code: 'UNAVAILABLE', message: `the server could not check the token just now (${e instanceof Error ? e.message : String(e)}): try again in a few seconds` } });
}

const plugin: FastifyPluginAsync<DashboardOptions> = async (app: FastifyInstance, opts: DashboardOptions) => {
  const sessions = new SessionBook({ clock: opts.clock, ...(opts.sessionTtlMs ? { ttlMs: opts.sessionTtlMs } : {}) });
  const found = opts.webRoot ?? findWebRoot();
  const webRoot = found && existsSync(join(found, 'index.html')) ? found : null;
  const files = webRoot ? loadStaticFiles(webRoot) : new Map<string, StaticFile>();
  const secure = opts.secureCookie ?? false;
  const sessionToken = (req: FastifyRequest): string | null => sessions.tokenOf(readCookie(req.headers.cookie, SESSION_COOKIE));

  app.decorate('dashboard', {
    issueLoginCode: (token: string) => sessions.issueLoginCode(token),
    sessionToken,
    sessions,
    webRoot,
  } satisfies Dashboard);

  // A call with the session cookie and no Authorization header goes through the server's
  // bearer auth as the session's token. Unsafe methods also need the page's CSRF header.
  app.addHook('onRequest', async (req) => {
    if (req.headers.authorization !== undefined) return;
    if (!req.url.startsWith('/v1/') && !req.url.startsWith('/metrics')) return;
    if (!SAFE_METHODS.has(req.method) && req.headers[CSRF_HEADER] === undefined) return;
    const token = sessionToken(req);
    if (token) req.headers.authorization = `Bearer ${token}`;
  });

  const send = (req: FastifyRequest, reply: FastifyReply, f: StaticFile): FastifyReply => {
    void reply.header('content-type', f.type).header('etag', f.etag).header('x-content-type-options', 'nosniff');
    void reply.header('cache-control', f.immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
    void reply.header('vary', 'accept-encoding');
    if (req.headers['if-none-match'] === f.etag) return reply.code(304).send();
    const gz = f.gzip && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    if (gz) void reply.header('content-encoding', 'gzip');
    return reply.send(gz ? f.gzip : f.body);
  };

  app.get('/', async (req, reply) => {
    void reply.header('content-security-policy', CSP).header('referrer-policy', 'no-referrer').header('x-frame-options', 'DENY');
    const index = files.get('/index.html');
    if (!index) {
      return reply
        .code(503)
        .type('text/html; charset=utf-8')
        .send('<!doctype html><title>FastGPU</title><p>The dashboard is not built: run <code>npm run build:web</code>. The API is at <a href="/v1/openapi.json">/v1/openapi.json</a>.</p>');
    }
    return send(req, reply, index);
  });

  app.get('/assets/*', async (req, reply) => {
    const f = files.get(req.url.split('?')[0]!);
    if (!f) return reply.code(404).type('application/json').send({ error: { code: 'NOT_FOUND', message: `no asset ${req.url}` } });
    return send(req, reply, f);
  });

  // Files at the top of the build (favicon and such), one route each.
  for (const [path, f] of files) {
    if (path === '/index.html' || path.startsWith('/assets/')) continue;
    app.get(path, async (req, reply) => send(req, reply, f));
  }

  // Log in: {token} (an API token or a one-time code) → session cookie. Unauthenticated, so it
  // parses only what it needs: a small flat JSON object (no YAML, no nesting), in a child
  // context whose only body parser is that one.
  await app.register(async (child) => {
    child.removeAllContentTypeParsers();
    child.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: LOGIN_BODY_LIMIT }, (_req, text, done) => {
      done(null, parseLoginBody(text as string));
    });
    child.addContentTypeParser('*', { parseAs: 'string', bodyLimit: LOGIN_BODY_LIMIT }, (_req, _text, done) => done(null, undefined));
    child.post('/dashboard/session', { bodyLimit: LOGIN_BODY_LIMIT }, login);
  });

  async function login(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const body = req.body as { token?: unknown } | undefined;
    const secret = typeof body?.token === 'string' ? body.token.trim() : '';
    if (secret === '' || secret.length > 512) return unauthenticated(reply, 'token: a login token is required');
    if (req.headers[CSRF_HEADER] === undefined) return unauthenticated(reply, `missing ${CSRF_HEADER} header`);
    const token = sessions.redeem(secret);
    if (!token) return unauthenticated(reply, `this login link was already used or has expired (links last ${Math.round(sessions.codeTtl / 60_000)} minutes and work once): run \`fastgpu dashboard\` for a new one, or paste an API token`);
    let who: DashboardPrincipal;
    try {
      who = await opts.authenticate(`Bearer ${token}`);
    } catch (e) {
      if (!isUnauthenticated(e)) return unavailable(req, reply, e);
      return unauthenticated(reply, 'unknown or revoked token');
    }
    // The dashboard is for people: agent tokens only speak the agent protocol, metrics tokens only read /metrics.
    if (who.role === 'agent' || who.role === 'metrics') return reply.code(403).type('application/json').send({ error: { code: 'FORBIDDEN', message: `a${who.role === 'agent' ? 'n agent' : ' metrics'} token cannot log in to the dashboard: use an admin, member or viewer token` } });
    let id: string;
    try {
      id = sessions.open(token);
    } catch (e) {
      if (e instanceof SessionsFull) return reply.code(503).type('application/json').send({ error: { code: 'UNAVAILABLE', message: e.message } });
      throw e;
    }
    void reply.header('set-cookie', sessionCookie(id, Math.floor(sessions.ttlMs / 1000), secure));
    return reply.code(200).send({ tenant: who.tenant, role: who.role });
  }

  // A fresh single-use login link for the caller's own token (`fastgpu dashboard`): bearer auth,
  // people's tokens only. The link logs a browser in as that same token, never as anyone else.
  app.post('/dashboard/login-link', async (req, reply) => {
    const header = req.headers.authorization;
    const m = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!m) return unauthenticated(reply, 'send "Authorization: Bearer <token>": the link logs in as that token');
    let who: DashboardPrincipal;
    try {
      who = await opts.authenticate(`Bearer ${m[1]!}`);
    } catch {
      return unauthenticated(reply, 'unknown or revoked token');
    }
    if (who.role === 'agent' || who.role === 'metrics') return reply.code(403).type('application/json').send({ error: { code: 'FORBIDDEN', message: `a${who.role === 'agent' ? 'n agent' : ' metrics'} token cannot log in to the dashboard` } });
    const code = sessions.issueLoginCode(m[1]!);
    return reply.code(201).send({ path: `/?token=${code}`, expiresAt: new Date(opts.clock.now() + sessions.codeTtl).toISOString() });
  });

  // Who am I: 200 {tenant, role} with a live session, else 401.
  app.get('/dashboard/session', async (req, reply) => {
    void reply.header('cache-control', 'no-store');
    const token = sessionToken(req);
    if (!token) return unauthenticated(reply, 'not logged in');
    try {
      const who = await opts.authenticate(`Bearer ${token}`);
      return { tenant: who.tenant, role: who.role };
    } catch (e) {
      // Only a token the server no longer knows ends the session; a busy store does not.
      if (!isUnauthenticated(e)) return unavailable(req, reply, e);
      sessions.close(readCookie(req.headers.cookie, SESSION_COOKIE));
      return unauthenticated(reply, 'the token of this session was revoked');
    }
  });

  app.delete('/dashboard/session', async (req, reply) => {
    sessions.close(readCookie(req.headers.cookie, SESSION_COOKIE));
    void reply.header('set-cookie', sessionCookie('', 0, secure));
    return reply.code(204).send();
  });
};

// Registered on the caller's instance itself, as fastify-plugin would do.
(plugin as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
(plugin as unknown as Record<symbol, string>)[Symbol.for('fastify.display-name')] = 'fastgpu-dashboard';

export const dashboardPlugin = plugin;
