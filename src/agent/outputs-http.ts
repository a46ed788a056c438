// Where the agent uploads a task's outputs (issue 16): the server's `/v1/agent/outputs/…` routes,
// with the agent's bearer token and the node credential, naming the node and the attempt (the
// server takes them only from the agent of the task's live attempt). Several servers
// (comma-separated): a call goes to the next when one is down or answers 503, as the agent's other
// calls do (http-link.ts).
import type { DatasetManifest } from '../core/data/dataset.js';
import { NODE_CREDENTIAL_HEADER } from '../protocol/agent.js';
import { ENCODING_HEADER } from '../util/chunk-codec.js';
import { rawRequest, type RawResponse } from '../util/raw-http.js';
import { ServerList, splitServerUrls } from '../util/server-list.js';
import type { FetchFn } from '../util/tls.js';

/** A failed call; `permanent` when sending it again cannot help (refused, over quota, stale). */
export class OutputLinkError extends Error {
  constructor(
    message: string,
    readonly permanent: boolean,
  ) {
    super(message);
    this.name = 'OutputLinkError';
  }
}

/** The attempt an upload is for, and the node that runs it. */
export interface AttemptRef {
  nodeId: string;
  taskId: string;
  attempt: number;
}

export interface CommittedVersion {
  index: number;
  name: string;
  version: number;
  bytes: number;
}

/** What the outputs uploader needs of the server. */
export interface OutputsLink {
  missing(ref: AttemptRef, hashes: string[], signal?: AbortSignal): Promise<string[]>;
  send(ref: AttemptRef, hash: string, data: Buffer, encoding: string, signal?: AbortSignal): Promise<void>;
  commit(ref: AttemptRef, outputs: { index: number; manifest: DatasetManifest }[], signal?: AbortSignal): Promise<CommittedVersion[]>;
}

export interface HttpOutputsLinkOptions {
  serverUrl: string;
  token: string | (() => string);
  /** The node credential (the agent keeps it in its state dir). */
  credential: () => Promise<string | undefined>;
  fetch?: FetchFn;
  /** Per-request timeout (default 60 s: a 4 MiB chunk on a slow link). */
  timeoutMs?: number;
}

/** Codes a server answers when asking again later may work. */
const TRANSIENT = new Set(['UNAVAILABLE', 'INTERNAL', 'DEADLINE_EXCEEDED']);

export function httpOutputsLink(opts: HttpOutputsLinkOptions): OutputsLink {
  const servers = new ServerList(splitServerUrls(opts.serverUrl).map((u) => u.replace(/\/+$/, '')));
  const call = async (method: 'POST', path: string, body: Buffer, contentType: string, extra: Record<string, string>, signal?: AbortSignal): Promise<RawResponse> => {
    const credential = await opts.credential();
    return servers.run(
      async (base) => {
        const timeout = AbortSignal.timeout(opts.timeoutMs ?? 60_000);
        let res: RawResponse;
        try {
          res = await rawRequest(
            `${base}${path}`,
            {
              method,
              body,
              headers: {
                authorization: `Bearer ${typeof opts.token === 'function' ? opts.token() : opts.token}`,
                'content-type': contentType,
                ...(credential !== undefined ? { [NODE_CREDENTIAL_HEADER]: credential } : {}),
                ...extra,
              },
              signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
            },
            opts.fetch,
          );
        } catch (e) {
          if (signal?.aborted) throw e;
          const cause = (e as { cause?: { code?: string } }).cause;
          throw new OutputLinkError(`cannot reach the server at ${base} (${cause?.code ?? (e as Error).message})`, false);
        }
        if (!res.ok) {
          const text = res.body.toString('utf8');
          let code: string | undefined;
          let message = text.slice(0, 300);
          try {
            const err = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
            code = err?.code;
            message = err?.message ?? message;
          } catch {
            // not JSON: the raw text
          }
          throw new OutputLinkError(message, res.status !== 503 && res.status < 500 && !(code !== undefined && TRANSIENT.has(code)));
        }
        return res;
      },
      (o) => !o.ok && !(o.error instanceof OutputLinkError && o.error.permanent) && signal?.aborted !== true,
    );
  };
  const json = async <T>(path: string, body: unknown, signal?: AbortSignal): Promise<T> =>
    JSON.parse((await call('POST', path, Buffer.from(JSON.stringify(body)), 'application/json', {}, signal)).body.toString('utf8')) as T;
  return {
    async missing(ref, hashes, signal) {
      return (await json<{ missing: string[] }>('/v1/agent/outputs/missing-chunks', { ...ref, hashes }, signal)).missing;
    },
    async send(ref, hash, data, encoding, signal) {
      const q = new URLSearchParams({ nodeId: ref.nodeId, taskId: ref.taskId, attempt: String(ref.attempt) });
      await call('POST', `/v1/agent/outputs/chunks/${hash}?${q}`, data, 'application/octet-stream', { [ENCODING_HEADER]: encoding }, signal);
    },
    async commit(ref, outputs, signal) {
      return (await json<{ versions: CommittedVersion[] }>('/v1/agent/outputs/commit', { ...ref, outputs }, signal)).versions;
    },
  };
}
