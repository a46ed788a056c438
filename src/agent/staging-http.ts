// Where the agent reads datasets from (issue 16): a version's manifest and its chunks, from the
// server's agent routes, with the agent's bearer token. Several servers (comma-separated): a call
// goes to the next when one is down or answers 503, as the agent's other calls do (http-link.ts).
import type { DatasetManifest } from '../core/data/dataset.js';
import { ENCODING_HEADER, parseEncoding } from '../util/chunk-codec.js';
import { rawRequest, type RawResponse } from '../util/raw-http.js';
import { ServerList, splitServerUrls } from '../util/server-list.js';
import type { FetchFn } from '../util/tls.js';
import type { ChunkFetcher } from './cache.js';

/** A failed read; `permanent` when asking again cannot help (the dataset or version is gone). */
export class DataSourceError extends Error {
  constructor(
    message: string,
    readonly permanent: boolean,
  ) {
    super(message);
    this.name = 'DataSourceError';
  }
}

/** What staging reads: a version's manifest, and chunks for the cache. */
export interface DataSource {
  manifest(tenant: string, name: string, version: number | undefined, signal?: AbortSignal): Promise<{ version: number; bytes: number; manifest: DatasetManifest }>;
  chunks(tenant: string): ChunkFetcher;
}

export interface HttpDataSourceOptions {
  serverUrl: string;
  token: string | (() => string);
  fetch?: FetchFn;
  /** Per-request timeout (default 60 s: a 4 MiB chunk on a slow link). */
  timeoutMs?: number;
}

/** The server's `/v1/agent/datasets/…` and `/v1/agent/chunks/…` routes. */
export function httpDataSource(opts: HttpDataSourceOptions): DataSource {
  const servers = new ServerList(splitServerUrls(opts.serverUrl).map((u) => u.replace(/\/+$/, '')));
  const get = (path: string, signal?: AbortSignal): Promise<RawResponse> =>
    servers.run(
      async (base) => {
        const timeout = AbortSignal.timeout(opts.timeoutMs ?? 60_000);
        const res = await rawRequest(
          `${base}${path}`,
          {
            method: 'GET',
            headers: { authorization: `Bearer ${typeof opts.token === 'function' ? opts.token() : opts.token}` },
            signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
          },
          opts.fetch,
        );
        if (!res.ok) {
          const text = res.body.toString('utf8');
          let message = text.slice(0, 300);
          try {
            message = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? message;
          } catch {
            // not JSON: the raw text
          }
          throw new DataSourceError(`GET ${path.split('?')[0]}: ${res.status} ${message}`, res.status === 404 || res.status === 400 || res.status === 403);
        }
        return res;
      },
      (o) => !o.ok && !(o.error instanceof DataSourceError && o.error.permanent) && signal?.aborted !== true,
    );
  return {
    async manifest(tenant, name, version, signal) {
      const q = version === undefined ? '' : `?version=${version}`;
      const res = await get(`/v1/agent/datasets/${encodeURIComponent(tenant)}/${encodeURIComponent(name)}${q}`, signal);
      return JSON.parse(res.body.toString('utf8')) as { version: number; bytes: number; manifest: DatasetManifest };
    },
    chunks: (tenant) => async (hash, signal) => {
      const res = await get(`/v1/agent/chunks/${encodeURIComponent(tenant)}/${hash}`, signal);
      const encoding = parseEncoding(res.header(ENCODING_HEADER));
      if (!encoding) throw new DataSourceError(`chunk ${hash}: the server sent an unknown encoding ${JSON.stringify(res.header(ENCODING_HEADER))}`, false);
      return { data: res.body, encoding };
    },
  };
}
