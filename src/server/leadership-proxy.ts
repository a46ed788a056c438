// A follower forwards every API request to the leader, streams included (SSE events, log
// follows, agents' long-polls), so that every server answers the whole API and agents and
// clients may use any of them. Answers come from the leader, which reads the store, the truth:
// nothing a follower says can be stale. A request already forwarded once is never forwarded
// again (two followers with stale views must not bounce it between them).
import http from 'node:http';
import type { ErrorBody } from './errors.js';

/** Marks a forwarded request; its value is the id of the server that forwarded it. */
export const VIA_HEADER = 'x-fastgpu-forwarded-by';

/** Hop-by-hop headers (RFC 9110 §7.6.1) are not forwarded. */
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

export interface ProxyTarget {
  /** The leader's base URL, or null when none is known. */
  url: string | null;
  /** This server's id (for the loop guard). */
  self: string;
  /** Called when the leader could not be reached: the caller rereads who leads. */
  unreachable(): void;
}

/** Answers with the API's error body. */
export function sendError(res: http.ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body: ErrorBody = { error: { code, message } } as ErrorBody;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

/** Forwards `req` to the leader and streams its answer back. */
export function forward(req: http.IncomingMessage, res: http.ServerResponse, target: ProxyTarget): void {
  const unavailable = (why: string): void =>
    sendError(res, 503, 'UNAVAILABLE', `this server is a follower and ${why}; retry (any server of the pool answers once a leader is elected)`, { 'retry-after': '1' });
  if (req.headers[VIA_HEADER] !== undefined) return unavailable(`the request was forwarded to it by ${String(req.headers[VIA_HEADER])}, which took it for the leader`);
  if (target.url === null) return unavailable('no leader is elected yet');
  const base = new URL(target.url);
  const headers: http.OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(req.headers)) if (!HOP.has(k) && v !== undefined) headers[k] = v;
  headers[VIA_HEADER] = target.self;
  const fwd = req.socket.remoteAddress;
  if (fwd !== undefined) headers['x-forwarded-for'] = [req.headers['x-forwarded-for'], fwd].filter((x) => x !== undefined).join(', ');
  const up = http.request({ agent, protocol: base.protocol, hostname: base.hostname, port: base.port, method: req.method, path: req.url, headers });
  let answered = false;
  up.on('response', (r) => {
    answered = true;
    const out: http.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(r.headers)) if (!HOP.has(k) && v !== undefined) out[k] = v;
    res.writeHead(r.statusCode ?? 502, out);
    // Streams (SSE, log follows) flush each chunk as it comes.
    res.flushHeaders();
    r.pipe(res);
    r.on('error', () => res.destroy());
  });
  up.on('error', (e) => {
    if (answered) return void res.destroy();
    target.unreachable();
    unavailable(`cannot reach the leader at ${target.url ?? '?'} (${e.message})`);
  });
  // The client went away (a closed SSE stream, an aborted long-poll): so does the leader's request.
  res.on('close', () => {
    if (!res.writableFinished) up.destroy();
  });
  req.pipe(up);
}
