// Slow log followers (issue 9 §3): followers that stop reading hold the server to a bounded
// amount of memory (back-pressure: no store read while their socket is not drained), /healthz
// stays fast, a token holds a bounded number of streams (429 past it), and a revoked token's
// streams end. Real sockets (http on loopback), a real SQLite store.
import http from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LogChunk } from '../core/types.js';
import { FOLLOW_HIGH_WATER } from './sse.js';
import { FakeAgent, h100s, makeHarness, submit, type Harness } from './testing.js';

let h: Harness;
let base: string;
const open: http.ClientRequest[] = [];

beforeEach(async () => {
  h = await makeHarness({ maxStreamsPerToken: 64, revocationCheckMs: 20 });
  await h.server.app.listen({ host: '127.0.0.1', port: 0 });
  const addr = h.server.app.server.address();
  base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
});
afterEach(async () => {
  for (const r of open.splice(0)) r.destroy();
  await h.close();
});

/** A GET that answers its response as soon as the head arrives (the body is left to the caller). */
function get(path: string, token = h.token): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${base}${path}`, { agent: false, headers: { authorization: `Bearer ${token}` } }, resolve);
    req.on('error', reject);
    open.push(req);
  });
}

/** Resolves once `cond()` holds, checking after every turn of the event loop (no fixed sleeps). */
async function until(cond: () => boolean, what: string, tries = 20_000): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (cond()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`never happened: ${what}`);
}

async function taskWithLog(bytes: number): Promise<{ id: string; agent: FakeAgent; data: string }> {
  const agent = new FakeAgent(h, 'node-a', h100s(1));
  await agent.register();
  const [t] = await submit(h, { command: ['true'] });
  await agent.pollAndStart();
  const chunk = 64 * 1024;
  const chunks: LogChunk[] = [];
  let data = '';
  for (let seq = 0; seq * chunk < bytes; seq++) {
    const line = `${String(seq).padStart(8, '0')} ${'x'.repeat(chunk - 10)}\n`;
    data += line;
    chunks.push({ taskId: t.id, attempt: 1, stream: 'stdout', seq, at: h.clock.now(), data: line });
  }
  for (let i = 0; i < chunks.length; i += 64) await h.store.appendLogs(chunks.slice(i, i + 64));
  return { id: t.id, agent, data };
}

/** Reads a whole SSE log follow: the concatenated `log` data and whether `end` came. */
function readFollow(res: http.IncomingMessage): Promise<{ data: string; ended: boolean }> {
  return new Promise((resolve, reject) => {
    let buf = '';
    let data = '';
    let ended = false;
    res.setEncoding('utf8');
    res.on('data', (s: string) => {
      buf += s;
      let i: number;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const ev = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const type = /^event: (.*)$/m.exec(ev)?.[1];
        const body = /^data: (.*)$/m.exec(ev)?.[1];
        if (type === 'log' && body) data += (JSON.parse(body) as { data: string }).data;
        if (type === 'end') ended = true;
      }
    });
    res.on('end', () => resolve({ data, ended }));
    res.on('error', reject);
  });
}

describe('slow log followers', () => {
  it('20 followers that stop reading a 24 MiB log: bounded buffers, /healthz answers, and a reader that resumes gets every byte', async () => {
    const { id, agent, data } = await taskWithLog(24 * 1024 * 1024);
    const rss0 = process.memoryUsage().rss;
    const followers: http.IncomingMessage[] = [];
    for (let i = 0; i < 20; i++) {
      const res = await get(`/v1/tasks/${id}/logs?follow=true`);
      expect(res.statusCode).toBe(200);
      res.pause();
      followers.push(res);
    }
    // Every follower fills its socket and then waits: the server stops reading for it.
    await until(() => h.server.sse.size === 20 && h.server.sse.bufferedBytes() >= 20 * FOLLOW_HIGH_WATER, 'all 20 followers stalled');
    const bound = 20 * (FOLLOW_HIGH_WATER + 16 * 64 * 1024 * 2);
    expect(h.server.sse.bufferedBytes()).toBeLessThanOrEqual(bound);
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    // More turns of the loop change nothing: the followers are parked, not read ahead.
    for (let i = 0; i < 200; i++) await new Promise((r) => setImmediate(r));
    expect(h.server.sse.bufferedBytes()).toBeLessThanOrEqual(bound);
    expect(h.server.sse.size).toBe(20);
    const grew = process.memoryUsage().rss - rss0;
    console.log(`20 stalled followers of a 24 MiB log: ${(h.server.sse.bufferedBytes() / 2 ** 20).toFixed(1)} MiB queued in the server (bound ${(bound / 2 ** 20).toFixed(1)} MiB), RSS +${(grew / 2 ** 20).toFixed(0)} MiB, /healthz ${health.status}`);
    // 20 × 24 MiB would be 480 MiB read ahead; the bound is a few MiB per follower.
    expect(grew).toBeLessThan(200 * 1024 * 1024);

    // The task ends; one follower resumes and reads the whole log, byte for byte, then `end`.
    await agent.exit(id, 1, 0);
    const got = readFollow(followers[0]!);
    followers[0]!.resume();
    const r = await got;
    expect(r.ended).toBe(true);
    expect(r.data.length).toBe(data.length);
    expect(r.data === data).toBe(true);
  }, 120_000);
});

describe('streams per token', () => {
  it('a token holds at most maxStreamsPerToken streams; the next answers 429 with a clear message; other tokens are not affected', async () => {
    await h.close();
    h = await makeHarness({ maxStreamsPerToken: 3, revocationCheckMs: 20 });
    await h.server.app.listen({ host: '127.0.0.1', port: 0 });
    const addr = h.server.app.server.address();
    base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    const viewer = (await h.req('POST', '/v1/admin/tokens', { tenant: 'default', role: 'viewer' })).body.token as string;
    for (let i = 0; i < 3; i++) expect((await get('/v1/events', viewer)).statusCode).toBe(200);
    const over = await fetch(`${base}/v1/events`, { headers: { authorization: `Bearer ${viewer}` } });
    expect(over.status).toBe(429);
    expect(over.headers.get('retry-after')).toBe('1');
    const body = (await over.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('RESOURCE_EXHAUSTED');
    expect(body.error.message).toMatch(/already holds 3 open streams/);
    expect((await get('/v1/events')).statusCode).toBe(200);
  });
});

describe('revocation ends open streams', () => {
  it('revoked through the API: the viewer’s event stream and log follow end at once', async () => {
    const { id } = await taskWithLog(1024);
    const tok = (await h.req('POST', '/v1/admin/tokens', { tenant: 'default', role: 'viewer' })).body;
    const events = await get('/v1/events', tok.token as string);
    const logs = await get(`/v1/tasks/${id}/logs?follow=true`, tok.token as string);
    const ends = [events, logs].map((r) => new Promise<void>((resolve) => (r.on('end', resolve), r.on('close', resolve), r.resume())));
    expect(h.server.sse.countFor(tok.id as string)).toBe(2);
    expect((await h.req('POST', `/v1/admin/tokens/${tok.id}/revoke`)).status).toBe(200);
    await Promise.all(ends);
    expect(h.server.sse.countFor(tok.id as string)).toBe(0);
  });

  it('revoked in the store by someone else (another server, a deleted tenant): its streams end at the next check', async () => {
    const tok = (await h.req('POST', '/v1/admin/tokens', { tenant: 'default', role: 'viewer' })).body;
    const events = await get('/v1/events', tok.token as string);
    const ended = new Promise<void>((resolve) => (events.on('end', resolve), events.on('close', resolve), events.resume()));
    await h.store.revokeToken(tok.id as string, h.clock.now());
    await ended;
    expect(h.server.sse.countFor(tok.id as string)).toBe(0);
  });
});
