// Bulk byte calls (dataset chunks, issue 16) through undici's `request` rather than `fetch`: fetch
// copies a Buffer body before sending it and reads an answer through web streams, which for 4 MiB
// chunks cost about as much CPU as hashing them. `request` writes the Buffer to the socket as it
// is and hands the answer's bytes over whole. The same TLS trust as the caller's fetch: a fetch
// made by fetchTrusting lends its dispatcher; any other non-global fetch (a test's) is used as is.
import { request } from 'undici';
import { dispatcherOf, type FetchFn } from './tls.js';

export interface RawInit {
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: Buffer;
  signal?: AbortSignal;
}

export interface RawResponse {
  status: number;
  ok: boolean;
  header(name: string): string | null;
  body: Buffer;
}

/**
 * One call; the whole answer in memory. Network failures reject as fetch's do (a TypeError whose
 * `cause` names the reason), so callers keep one error path.
 * @example const r = await rawRequest('http://127.0.0.1:7070/v1/chunks/ab…', { method: 'GET', headers: {} });
 */
export async function rawRequest(url: string, init: RawInit, fetchFn?: FetchFn): Promise<RawResponse> {
  if (fetchFn !== undefined && fetchFn !== globalThis.fetch && dispatcherOf(fetchFn) === undefined) return viaFetch(url, init, fetchFn);
  const dispatcher = fetchFn ? dispatcherOf(fetchFn) : undefined;
  let res: Awaited<ReturnType<typeof request>>;
  try {
    res = await request(url, {
      method: init.method,
      headers: init.body ? { ...init.headers, 'content-length': String(init.body.length) } : init.headers,
      ...(init.body ? { body: init.body } : {}),
      ...(init.signal ? { signal: init.signal } : {}),
      ...(dispatcher ? { dispatcher } : {}),
    });
  } catch (e) {
    if (init.signal?.aborted) throw e;
    throw new TypeError('fetch failed', { cause: e });
  }
  const body = Buffer.from(await res.body.arrayBuffer());
  return {
    status: res.statusCode,
    ok: res.statusCode >= 200 && res.statusCode < 300,
    header: (name) => {
      const v = res.headers[name.toLowerCase()];
      return v === undefined ? null : Array.isArray(v) ? (v[0] ?? null) : v;
    },
    body,
  };
}

async function viaFetch(url: string, init: RawInit, f: FetchFn): Promise<RawResponse> {
  const res = await f(url, { method: init.method, headers: init.headers, ...(init.body ? { body: init.body } : {}), ...(init.signal ? { signal: init.signal } : {}) });
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, ok: res.ok, header: (n) => res.headers.get(n), body };
}
