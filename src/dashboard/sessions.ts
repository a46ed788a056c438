// Dashboard sessions: a browser trades an API token (or a one-time login code minted for it)
// for an opaque session id kept in an HttpOnly cookie. The token itself stays on the server, in
// memory: each API call made with the cookie is authenticated as that token, so revoking the
// token ends its sessions too. Sessions do not survive a server restart (the page asks again).
import { randomBytes } from 'node:crypto';
import type { Clock } from '../core/types.js';

export const SESSION_COOKIE = 'fastgpu_session';
const CODE_PREFIX = 'fgl_';

interface Session {
  token: string;
  expiresAt: number;
}

interface LoginCode {
  token: string;
  expiresAt: number;
}

export interface SessionBookOptions {
  clock: Clock;
  /** How long a session lasts without use; each use extends it. Default 12 h. */
  ttlMs?: number;
  /** How long a one-time login code stays valid. Default 10 minutes (`fastgpu dashboard` prints a fresh one). */
  codeTtlMs?: number;
  /** Most sessions kept in all; past it a new one is refused (never another principal's evicted). Default 10,000. */
  maxSessions?: number;
  /** Most sessions one token holds; a new one past it ends that token's oldest. Default 20. */
  maxPerToken?: number;
  /** Most unused login codes kept; past it the oldest go. Default 1,000. */
  maxCodes?: number;
}

/** Thrown by `open` when every session slot is taken by live sessions. */
export class SessionsFull extends Error {}

export class SessionBook {
  private readonly sessions = new Map<string, Session>();
  private readonly codes = new Map<string, LoginCode>();
  private readonly clock: Clock;
  readonly ttlMs: number;
  private readonly codeTtlMs: number;
  private readonly maxSessions: number;
  private readonly maxPerToken: number;
  private readonly maxCodes: number;

  constructor(opts: SessionBookOptions) {
    this.clock = opts.clock;
    this.ttlMs = opts.ttlMs ?? 12 * 3600_000;
    this.codeTtlMs = opts.codeTtlMs ?? 10 * 60_000;
    this.maxSessions = opts.maxSessions ?? 10_000;
    this.maxPerToken = opts.maxPerToken ?? 20;
    this.maxCodes = opts.maxCodes ?? 1_000;
  }

  /** How long a login code stays valid. */
  get codeTtl(): number {
    return this.codeTtlMs;
  }

  /** A single-use code that logs a browser in as `token` (what `fastgpu up` prints in its URL). */
  issueLoginCode(token: string): string {
    const code = CODE_PREFIX + randomBytes(24).toString('base64url');
    const now = this.clock.now();
    for (const [c, v] of this.codes) if (v.expiresAt <= now) this.codes.delete(c);
    while (this.codes.size >= this.maxCodes) this.codes.delete(this.codes.keys().next().value!);
    this.codes.set(code, { token, expiresAt: now + this.codeTtlMs });
    return code;
  }

  /**
   * The API token a login secret stands for: a one-time code is consumed (null when unknown,
   * used or expired); anything else is taken as an API token, to be checked by the caller.
   */
  redeem(secret: string): string | null {
    if (!secret.startsWith(CODE_PREFIX)) return secret;
    const c = this.codes.get(secret);
    this.codes.delete(secret);
    if (!c || c.expiresAt <= this.clock.now()) return null;
    return c.token;
  }

  /** Opens a session for a verified token; answers its id (the cookie value). */
  open(token: string): string {
    // A token past its own cap loses its own oldest session; nobody else's is touched.
    const mine = [...this.sessions].filter(([, s]) => s.token === token);
    if (mine.length >= this.maxPerToken) this.sessions.delete(mine[0]![0]);
    if (this.sessions.size >= this.maxSessions) {
      const now = this.clock.now();
      for (const [id, s] of this.sessions) if (s.expiresAt <= now) this.sessions.delete(id);
      if (this.sessions.size >= this.maxSessions) throw new SessionsFull(`all ${this.maxSessions} dashboard sessions are in use; try again later`);
    }
    const id = randomBytes(32).toString('base64url');
    this.sessions.set(id, { token, expiresAt: this.clock.now() + this.ttlMs });
    return id;
  }

  /** The token behind a live session (and extends it), or null. */
  tokenOf(id: string | undefined): string | null {
    if (!id) return null;
    const s = this.sessions.get(id);
    if (!s) return null;
    const now = this.clock.now();
    if (s.expiresAt <= now) {
      this.sessions.delete(id);
      return null;
    }
    s.expiresAt = now + this.ttlMs;
    return s.token;
  }

  close(id: string | undefined): void {
    if (id) this.sessions.delete(id);
  }

  get size(): number {
    return this.sessions.size;
  }
}

/** The value of one cookie from a `Cookie` header. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** `Set-Cookie` for the session: HttpOnly, SameSite=Strict, whole site; maxAgeS 0 clears it. */
export function sessionCookie(value: string, maxAgeS: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${secure ? '; Secure' : ''}`;
}
