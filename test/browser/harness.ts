// A real pool for the browser tests: `startServer` on a free port, a local agent with simulated
// GPUs (`startAgent`), and the address a browser opens. When the server does not serve the
// dashboard itself (the plugin not registered yet), a front on another port serves it with
// `dashboardPlugin` and passes /v1 through, so the pages can still be tested; `wired` says
// which, and a test insists on the real wiring.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import { dashboardPlugin } from '../../src/dashboard/index.js';
import { startAgent } from '../../src/agent/main.js';
import { startServer, type RunningServer } from '../../src/server/main.js';
import { systemClock } from '../../src/util/clock.js';

export interface TestPool {
  /** Where the browser goes (the server itself when wired). */
  url: string;
  /** The login URL as `fastgpu up` prints it. */
  loginUrl: string;
  apiUrl: string;
  adminToken: string;
  /** True when the server itself serves the dashboard. */
  wired: boolean;
  /** `headers` add to (or replace) the admin token's, e.g. a node credential for agent calls. */
  api<T = unknown>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown, headers?: Record<string, string>): Promise<T>;
  close(): Promise<void>;
}

export async function startTestPool(opts: { gpus?: string; nodeName?: string; agent?: boolean; nodeLostAfterMs?: number } = {}): Promise<TestPool> {
  const dir = mkdtempSync(join(tmpdir(), 'fastgpu-browser-'));
  const server: RunningServer = await startServer({ dataDir: join(dir, 'data'), port: 0, tickMs: 50, nodeLostAfterMs: opts.nodeLostAfterMs ?? 60_000, log: () => {} });
  const closers: (() => Promise<void>)[] = [];
  closers.push(() => server.close());
  try {
    if (opts.agent !== false) {
      const agent = await startAgent({ serverUrl: server.url, token: server.adminToken, name: opts.nodeName ?? 'box', stateDir: join(dir, 'agent'), gpus: opts.gpus ?? '2xH100', cpuMilli: 32_000, memoryMiB: 131_072, log: () => {} });
      closers.unshift(() => agent.stop());
    }
    const home = await fetch(server.url + '/');
    const wired = home.ok && (await home.text()).includes('id="app"');
    let url = server.url;
    if (!wired) {
      const front = await startFront(server.url);
      closers.unshift(() => front.close());
      url = front.url;
    }
    const printed = (server as RunningServer & { loginUrl?: string }).loginUrl;
    const loginUrl = wired && printed ? printed : `${url}/?token=${encodeURIComponent(server.adminToken)}`;
    const api = async <T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> => {
      const res = await fetch(server.url + path, {
        method,
        headers: { authorization: `Bearer ${server.adminToken}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
      return (text ? JSON.parse(text) : undefined) as T;
    };
    return {
      url,
      loginUrl,
      apiUrl: server.url,
      adminToken: server.adminToken,
      wired,
      api,
      close: async () => {
        // Run every closer even when one fails, then say what failed.
        const failed: unknown[] = [];
        for (const c of closers) await c().catch((e: unknown) => failed.push(e));
        rmSync(dir, { recursive: true, force: true });
        if (failed.length > 0) throw new AggregateError(failed, `closing the test pool: ${failed.length} closer(s) failed`);
      },
    };
  } catch (e) {
    // Start-up failed with `e`, the error to report; closing what started is best effort.
    for (const c of closers) await c().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

/** The dashboard plugin on its own port, passing /v1 through to the server (tokens checked there). */
async function startFront(apiUrl: string): Promise<{ url: string; close(): Promise<void> }> {
  const app: FastifyInstance = Fastify({ logger: false, forceCloseConnections: true });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
    // The plugin's own login route reads JSON; pass-through routes take the bytes as they are.
    if (req.url.startsWith('/dashboard/')) {
      try {
        done(null, JSON.parse((body as Buffer).toString('utf8')) as unknown);
      } catch (e) {
        done(e as Error, undefined);
      }
    } else done(null, body);
  });
  await app.register(dashboardPlugin, {
    clock: systemClock,
    authenticate: async (authorization) => {
      const res = await fetch(`${apiUrl}/v1/nodes`, { headers: { authorization } });
      if (!res.ok) throw new Error('unknown token');
      return { tenant: 'default', role: 'admin' };
    },
  });
  app.route({
    method: ['GET', 'POST', 'DELETE'],
    url: '/v1/*',
    handler: async (req, reply) => {
      const headers: Record<string, string> = {};
      for (const h of ['authorization', 'accept', 'content-type', 'last-event-id']) {
        const v = req.headers[h];
        if (typeof v === 'string') headers[h] = v;
      }
      const ctl = new AbortController();
      req.raw.on('close', () => ctl.abort());
      const res = await fetch(apiUrl + req.url, {
        method: req.method,
        headers,
        signal: ctl.signal,
        ...(req.body !== undefined && req.method !== 'GET' ? { body: req.body as Buffer } : {}),
      });
      void reply.code(res.status);
      for (const h of ['content-type', 'cache-control']) {
        const v = res.headers.get(h);
        if (v) void reply.header(h, v);
      }
      if (!res.body) return reply.send();
      return reply.send(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>));
    },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return { url: `http://127.0.0.1:${port}`, close: () => app.close() };
}
