import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpLink } from './http-link.js';
import { LinkError } from './link.js';

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;
let handler: Handler;
let server: Server;
let url: string;

beforeEach(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => handler(req, body, res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
afterEach(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const json = (res: ServerResponse, status: number, v: unknown): void => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(v));
};

const failure = async (p: Promise<unknown>): Promise<LinkError> => {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(LinkError);
    return e as LinkError;
  }
  throw new Error('expected a failure');
};

describe('HttpLink', () => {
  it('sends the bearer token and JSON, and validates the answer', async () => {
    let seen: { auth?: string; path?: string; body?: unknown } = {};
    handler = (req, body, res) => {
      seen = { auth: req.headers.authorization, path: req.url, body: JSON.parse(body) };
      json(res, 200, { ack: [{ taskId: 't', attempt: 1 }], stop: [] });
    };
    const link = new HttpLink({ serverUrl: url, token: 'sekret' });
    const res = await link.heartbeat({ nodeId: 'n1', tasks: [], samples: [] });
    expect(res).toEqual({ ack: [{ taskId: 't', attempt: 1 }], stop: [], reregister: false });
    expect(seen).toEqual({ auth: 'Bearer sekret', path: '/v1/agent/heartbeat', body: { nodeId: 'n1', tasks: [], samples: [] } });
  });

  it('long-polls with nodeId and waitMs in the query', async () => {
    let path = '';
    handler = (req, _b, res) => {
      path = req.url ?? '';
      setTimeout(() => json(res, 200, { assignments: [], stop: [] }), 300);
    };
    const link = new HttpLink({ serverUrl: url, token: 't', timeoutMs: 100 });
    // The call's own timeout (100 ms) is extended by the wait it asks for.
    expect(await link.pollAssignments('n 1', 5000)).toEqual({ assignments: [], stop: [] });
    expect(path).toBe('/v1/agent/assignments?nodeId=n+1&waitMs=5000');
  });

  it('classifies failures: refusals, server trouble, unknown node, bad answers, timeouts, no server', async () => {
    const link = new HttpLink({ serverUrl: url, token: 't', timeoutMs: 200 });
    handler = (_r, _b, res) => json(res, 401, { error: { code: 'UNAUTHENTICATED', message: 'bad token' } });
    expect(await failure(link.report({ nodeId: 'n', tasks: [{ taskId: 't', attempt: 1, status: 'running' }] }))).toMatchObject({ retryable: false, status: 401, message: 'POST /v1/agent/reports: 401 bad token' });
    handler = (_r, _b, res) => json(res, 503, { error: { code: 'UNAVAILABLE', message: 'busy' } });
    expect(await failure(link.shipLogs({ nodeId: 'n', chunks: [] }))).toMatchObject({ retryable: true, status: 503 });
    handler = (_r, _b, res) => json(res, 404, { error: { code: 'NOT_FOUND', message: 'node n9 not found' } });
    expect(await failure(link.pollAssignments('n9', 10))).toMatchObject({ unknownNode: true, retryable: false });
    handler = (_r, _b, res) => json(res, 200, { nodeId: 'x' });
    expect((await failure(link.register({ name: 'b', cpuMilli: 1, memoryMiB: 1, labels: {}, gpus: [], simulated: true, agentVersion: '1', tasks: [] }))).message).toMatch(/unexpected answer \(heartbeatIntervalMs/);
    handler = (_r, _b, res) => {
      res.writeHead(200);
      res.end('<html>');
    };
    expect(await failure(link.heartbeat({ nodeId: 'n', tasks: [], samples: [] }))).toMatchObject({ retryable: true });
    handler = () => {}; // never answers
    expect((await failure(link.heartbeat({ nodeId: 'n', tasks: [], samples: [] }))).message).toMatch(/no answer .* within 200 ms/);

    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const nowhere = new HttpLink({ serverUrl: `http://127.0.0.1:${port}`, token: 't' });
    const e = await failure(nowhere.heartbeat({ nodeId: 'n', tasks: [], samples: [] }));
    expect(e.retryable).toBe(true);
    expect(e.message).toBe(`POST /v1/agent/heartbeat: cannot reach http://127.0.0.1:${port} (ECONNREFUSED)`);
  });

  it('stops at once when aborted', async () => {
    const ac = new AbortController();
    handler = () => ac.abort(); // once the request is in flight: the server holds it, never answering
    const link = new HttpLink({ serverUrl: url, token: 't' });
    const p = link.pollAssignments('n', 60_000, ac.signal);
    expect(await failure(p)).toMatchObject({ retryable: false, message: 'GET /v1/agent/assignments: aborted' });
  });
});
