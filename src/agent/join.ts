// The agent's side of joining (issue 11; server: src/server/join.ts). With `--join-token` the
// agent trades the token once for a node credential and keeps it, 0600, in its state dir
// (`join.json`); a restarted agent uses the stored one and needs no token. It renews the
// credential from its `renewAt` on, and retries with backoff until it expires.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic-file.js';
import type { Clock } from '../core/types.js';
import { JoinResponseSchema, type JoinResponse } from '../protocol/join.js';
import { AGENT_PROTOCOL_VERSION } from '../protocol/version.js';
import type { TimerClock, Timer } from '../util/clock.js';
import type { FetchFn } from '../util/tls.js';

export const JOIN_FILE = 'join.json';

/** What `join.json` holds: the server's answer and which server gave it. */
export interface StoredJoin extends JoinResponse {
  server: string;
}

export interface JoinOptions {
  serverUrl: string;
  stateDir: string;
  name: string;
  agentVersion: string;
  joinToken?: string;
  clock: Clock;
  fetch?: FetchFn;
  log?: (line: string) => void;
}

const fileOf = (stateDir: string): string => join(stateDir, JOIN_FILE);

async function readStored(stateDir: string): Promise<StoredJoin | undefined> {
  let text: string;
  try {
    text = await readFile(fileOf(stateDir), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    const { server, ...rest } = JSON.parse(text) as { server?: unknown };
    const parsed = JoinResponseSchema.safeParse(rest);
    if (parsed.success && typeof server === 'string') return { ...parsed.data, server };
  } catch {
    // fall through: a damaged file is the same as none, said below
  }
  throw new Error(`${fileOf(stateDir)} is damaged: delete it and join again with a new --join-token`);
}

async function writeStored(stateDir: string, s: StoredJoin): Promise<void> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const file = fileOf(stateDir);
  await writeFileAtomic(file, `${JSON.stringify(s)}\n`, 0o600);
}

async function post(f: FetchFn, url: string, body: unknown, bearer: string | undefined): Promise<JoinResponse> {
  const res = await f(url, {
    method: 'POST',
    headers: { ...(bearer !== undefined ? { authorization: `Bearer ${bearer}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  if (!res.ok) {
    let message = text.slice(0, 300);
    try {
      message = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? message;
    } catch {
      // not JSON: keep the raw text
    }
    throw Object.assign(new Error(`${url}: ${res.status} ${message}`), { status: res.status });
  }
  return JoinResponseSchema.parse(JSON.parse(text));
}

/**
 * The node credential to speak with: the stored one while it is valid for this server and name,
 * else a new one for `joinToken`. Throws, saying what to do, when there is neither.
 */
export async function joinedCredential(o: JoinOptions): Promise<StoredJoin> {
  const base = o.serverUrl.replace(/\/+$/, '');
  const stored = await readStored(o.stateDir);
  const now = o.clock.now();
  if (stored && stored.server === base && stored.node === o.name && stored.expiresAt > now) {
    o.log?.(`agent ${o.name}: using the node credential in ${fileOf(o.stateDir)} (expires ${new Date(stored.expiresAt).toISOString()})`);
    return stored;
  }
  if (!o.joinToken) {
    const why = !stored ? 'has no node credential' : stored.expiresAt <= now ? 'holds an expired node credential' : `holds the credential of node ${stored.node} on ${stored.server}`;
    throw new Error(`agent state dir ${o.stateDir} ${why}: join with --join-token (fastgpu admin join-token create)`);
  }
  const got = await post(o.fetch ?? fetch, `${base}/v1/agent/join`, { joinToken: o.joinToken, name: o.name, agentVersion: o.agentVersion, protocolVersion: AGENT_PROTOCOL_VERSION }, undefined);
  const s: StoredJoin = { ...got, server: base };
  await writeStored(o.stateDir, s);
  o.log?.(`agent ${o.name}: joined ${base}; node credential stored in ${fileOf(o.stateDir)} (0600)`);
  return s;
}

/**
 * Renews the stored credential from its `renewAt` on (retrying every `retryMs` until it expires)
 * and hands each new one to `onRenewed`. Timers come from `clock`; `stop()` ends it.
 */
export class CredentialRenewer {
  private timer: Timer | null = null;
  private stopped = false;

  constructor(
    private current: StoredJoin,
    private readonly o: { stateDir: string; clock: TimerClock; fetch?: FetchFn; log?: (line: string) => void; onRenewed: (s: StoredJoin) => void; retryMs?: number },
  ) {}

  get credential(): string {
    return this.current.credential;
  }

  start(): void {
    this.schedule(Math.max(0, this.current.renewAt - this.o.clock.now()));
  }

  stop(): void {
    this.stopped = true;
    this.timer?.clear();
    this.timer = null;
  }

  /** Renews now; resolves once the new credential is stored and in use. */
  async renew(): Promise<void> {
    const got = await post(this.o.fetch ?? fetch, `${this.current.server}/v1/agent/renew`, undefined, this.current.credential);
    const next: StoredJoin = { ...got, labels: this.current.labels, server: this.current.server };
    await writeStored(this.o.stateDir, next);
    this.current = next;
    this.o.onRenewed(next);
    this.o.log?.(`node ${next.node}: credential renewed until ${new Date(next.expiresAt).toISOString()}`);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = this.o.clock.timeout(() => {
      this.timer = null;
      this.renew().then(
        () => this.schedule(Math.max(0, this.current.renewAt - this.o.clock.now())),
        (e: unknown) => {
          const left = this.current.expiresAt - this.o.clock.now();
          this.o.log?.(`node ${this.current.node}: renewing the credential failed (${(e as Error).message}); ${left > 0 ? `retrying, it expires in ${Math.round(left / 1000)} s` : 'it has expired: join again with a new --join-token'}`);
          if (left > 0) this.schedule(Math.min(this.o.retryMs ?? 30_000, left));
        },
      );
    }, ms).unref();
  }
}
