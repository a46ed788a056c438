import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import Fastify, { type FastifyInstance } from 'fastify';
import { FastGpuError } from '../core/errors.js';
import { dashboardPlugin } from './plugin.js';
import { readCookie, SessionBook, SessionsFull } from './sessions.js';

const GOOD = 'secret-admin-token';
let dir: string;
let app: FastifyInstance;
let now = 1_000_000;
/** When set, authenticate fails with it (a store error) instead of checking the token. */
let storeError: Error | null = null;
const clock = { now: () => now };

async function build(webRoot: string | undefined): Promise<FastifyInstance> {
  const a = Fastify();
  await a.register(dashboardPlugin, {
    clock,
    ...(webRoot ? { webRoot } : {}),
    authenticate: async (h) => {
      if (storeError) throw storeError;
      if (h === 'Bearer agent-token') return { tenant: 'default', role: 'agent' };
      if (h === 'Bearer metrics-token') return { tenant: 'default', role: 'metrics' };
      if (h !== `Bearer ${GOOD}`) throw new FastGpuError('UNAUTHENTICATED', 'unknown token');
      return { tenant: 'default', role: 'admin' };
    },
  });
  // Stands in for a server route with bearer auth.
  a.get('/v1/whoami', async (req, reply) => (req.headers.authorization === `Bearer ${GOOD}` ? { ok: true } : reply.code(401).send({ error: { code: 'UNAUTHENTICATED' } })));
  a.post('/v1/act', async (req, reply) => (req.headers.authorization === `Bearer ${GOOD}` ? { ok: true } : reply.code(401).send({ error: { code: 'UNAUTHENTICATED' } })));
  await a.ready();
  return a;
}

const login = async (token: string) =>
  app.inject({ method: 'POST', url: '/dashboard/session', headers: { 'content-type': 'application/json', 'x-fastgpu-csrf': '1' }, payload: { token } });
const cookieOf = (res: { headers: Record<string, unknown> }): string => String(res.headers['set-cookie']).split(';')[0]!;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fastgpu-dash-'));
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><div id="app"></div>' + ' '.repeat(2000));
  writeFileSync(join(dir, 'assets', 'index-abc123.js'), 'console.log(1);'.repeat(100));
  app = await build(dir);
});
afterEach(async () => {
  storeError = null;
  await app.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('dashboard plugin', () => {
  it('serves the page at / (revalidated) and hashed assets cached for a year, gzipped when asked', async () => {
    const page = await app.inject({ url: '/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.headers['cache-control']).toBe('no-cache');
    expect(page.headers['content-security-policy']).toContain("default-src 'self'");
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    expect(page.body).toContain('id="app"');
    const js = await app.inject({ url: '/assets/index-abc123.js', headers: { 'accept-encoding': 'gzip, br' } });
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(js.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(js.rawPayload).toString()).toBe('console.log(1);'.repeat(100));
    const again = await app.inject({ url: '/assets/index-abc123.js', headers: { 'if-none-match': String(js.headers.etag) } });
    expect(again.statusCode).toBe(304);
    expect((await app.inject({ url: '/assets/nope.js' })).statusCode).toBe(404);
  });

  it('says how to build the app when it is missing', async () => {
    const bare = await build(join(dir, 'missing'));
    const res = await bare.inject({ url: '/' });
    expect(res.statusCode).toBe(503);
    expect(res.body).toContain('npm run build:web');
    await bare.close();
  });

  it('trades a valid token for an HttpOnly, SameSite=Strict session cookie that authenticates /v1 calls', async () => {
    expect((await app.inject({ url: '/v1/whoami' })).statusCode).toBe(401);
    const res = await login(GOOD);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ tenant: 'default', role: 'admin' });
    const setCookie = String(res.headers['set-cookie']);
    expect(setCookie).toMatch(/^fastgpu_session=[A-Za-z0-9_-]{40,};/);
    expect(setCookie).toContain('HttpOnly');
    expect(setCookie).toContain('SameSite=Strict');
    expect(setCookie).toContain('Path=/');
    const cookie = cookieOf(res);
    expect((await app.inject({ url: '/v1/whoami', headers: { cookie } })).json()).toEqual({ ok: true });
    expect((await app.inject({ url: '/dashboard/session', headers: { cookie } })).json()).toEqual({ tenant: 'default', role: 'admin' });
    // An explicit Authorization header is never replaced.
    expect((await app.inject({ url: '/v1/whoami', headers: { cookie, authorization: 'Bearer other' } })).statusCode).toBe(401);
  });

  it('refuses unknown tokens and requests without the CSRF header', async () => {
    const bad = await login('nope');
    expect(bad.statusCode).toBe(401);
    expect(bad.json().error.code).toBe('UNAUTHENTICATED');
    expect(bad.headers['set-cookie']).toBeUndefined();
    const noCsrf = await app.inject({ method: 'POST', url: '/dashboard/session', headers: { 'content-type': 'application/json' }, payload: { token: GOOD } });
    expect(noCsrf.statusCode).toBe(401);
    // With the cookie, unsafe calls need the page's header (a cross-site form cannot send it).
    const cookie = cookieOf(await login(GOOD));
    expect((await app.inject({ method: 'POST', url: '/v1/act', headers: { cookie } })).statusCode).toBe(401);
    expect((await app.inject({ method: 'POST', url: '/v1/act', headers: { cookie, 'x-fastgpu-csrf': '1' } })).statusCode).toBe(200);
  });

  it('does not let agent or metrics tokens log in', async () => {
    for (const [token, message] of [
      ['agent-token', 'an agent token cannot log in'],
      ['metrics-token', 'a metrics token cannot log in'],
    ] as const) {
      const res = await login(token);
      expect(res.statusCode).toBe(403);
      expect(res.json().error.message).toContain(message);
      expect(res.headers['set-cookie']).toBeUndefined();
    }
  });

  it('a login link lasts 10 minutes, works once, and `fastgpu dashboard` (POST /dashboard/login-link) makes a fresh one', async () => {
    const link = await app.inject({ method: 'POST', url: '/dashboard/login-link', headers: { authorization: `Bearer ${GOOD}` } });
    expect(link.statusCode).toBe(201);
    const code = new URL(link.json().path as string, 'http://x').searchParams.get('token')!;
    expect(Date.parse(link.json().expiresAt as string) - now).toBe(10 * 60_000);
    now += 10 * 60_000 + 1;
    const late = await login(code);
    expect(late.statusCode).toBe(401);
    expect(late.json().error.message).toMatch(/run `fastgpu dashboard` for a new one/);
    const fresh = (await app.inject({ method: 'POST', url: '/dashboard/login-link', headers: { authorization: `Bearer ${GOOD}` } })).json().path as string;
    expect((await login(new URL(fresh, 'http://x').searchParams.get('token')!)).statusCode).toBe(200);
    expect((await app.inject({ method: 'POST', url: '/dashboard/login-link' })).statusCode).toBe(401);
    expect((await app.inject({ method: 'POST', url: '/dashboard/login-link', headers: { authorization: 'Bearer agent-token' } })).statusCode).toBe(403);
  });

  it('one-time login codes work once', async () => {
    const code = app.dashboard.issueLoginCode(GOOD);
    expect(code).toMatch(/^fgl_/);
    expect((await login(code)).statusCode).toBe(200);
    const again = await login(code);
    expect(again.statusCode).toBe(401);
    expect(again.json().error.message).toContain('already used');
  });

  it('logs out, and sessions expire after their idle time', async () => {
    const cookie = cookieOf(await login(GOOD));
    const out = await app.inject({ method: 'DELETE', url: '/dashboard/session', headers: { cookie } });
    expect(out.statusCode).toBe(204);
    expect(String(out.headers['set-cookie'])).toContain('Max-Age=0');
    expect((await app.inject({ url: '/v1/whoami', headers: { cookie } })).statusCode).toBe(401);
    const c2 = cookieOf(await login(GOOD));
    now += 13 * 3600_000;
    expect((await app.inject({ url: '/dashboard/session', headers: { cookie: c2 } })).statusCode).toBe(401);
  });
});

describe('dashboard plugin: a failing check is not a logout', () => {
  it('answers 503 with a retry hint and keeps the session when the store fails; logs out only on UNAUTHENTICATED', async () => {
    const cookie = cookieOf(await login(GOOD));
    const me = () => app.inject({ url: '/dashboard/session', headers: { cookie } });
    expect((await me()).statusCode).toBe(200);

    storeError = new Error('SQLITE_BUSY: database is locked');
    const busy = await me();
    expect(busy.statusCode).toBe(503);
    expect(busy.headers['retry-after']).toBe('2');
    expect(busy.json()).toEqual({ error: { code: 'UNAVAILABLE', message: expect.stringMatching(/SQLITE_BUSY.*try again/) } });
    // Logging in while the store is busy is not "unknown token" either.
    expect((await login(GOOD)).statusCode).toBe(503);

    storeError = null;
    expect((await me()).json()).toEqual({ tenant: 'default', role: 'admin' }); // the same session, still open

    // A token the server no longer knows does end it.
    storeError = new FastGpuError('UNAUTHENTICATED', 'token revoked');
    expect((await me()).statusCode).toBe(401);
    storeError = null;
    expect((await me()).statusCode).toBe(401);
  });
});

describe('SessionBook', () => {
  it('caps sessions per token (its own oldest go) and never evicts another principal’s; reads cookies among others', () => {
    const book = new SessionBook({ clock, maxSessions: 4, maxPerToken: 2 });
    const admin = book.open('admin');
    const v1 = book.open('viewer');
    const v2 = book.open('viewer');
    const v3 = book.open('viewer');
    expect(book.tokenOf(v1)).toBeNull();
    expect([book.tokenOf(v2), book.tokenOf(v3), book.tokenOf(admin)]).toEqual(['viewer', 'viewer', 'admin']);
    book.open('other');
    // Full of live sessions: a new principal is refused, nobody is evicted.
    expect(() => book.open('fourth')).toThrow(SessionsFull);
    expect(book.tokenOf(admin)).toBe('admin');
    // The issue's flood: a viewer opening 10,080 sessions keeps the admin logged in.
    const big = new SessionBook({ clock });
    const adminSession = big.open('admin');
    for (let i = 0; i < 10_080; i++) big.open('viewer');
    expect(big.tokenOf(adminSession)).toBe('admin');
    expect(big.size).toBe(21);
    expect(readCookie('x=1; fastgpu_session=abc; y=2', 'fastgpu_session')).toBe('abc');
    expect(readCookie(undefined, 'fastgpu_session')).toBeUndefined();
  });
});
