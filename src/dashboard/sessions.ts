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
  /** How long a one-time login code stays valid. Default 24 h. */
  codeTtlMs?: number;
  /** Most sessions kept; the oldest go first. Default 10,000. */
  maxSessions?: number;
}

export class SessionBook {
  private readonly sessions = new Map<string, Session>();
  private readonly codes = new Map<string, LoginCode>();
  private readonly clock: Clock;
  readonly ttlMs: number;
  private readonly codeTtlMs: number;
  private readonly maxSessions: number;

  constructor(opts: SessionBookOptions) {
    this.clock = opts.clock;
    this.ttlMs = opts.ttlMs ?? 12 * 3600_000;
    this.codeTtlMs = opts.codeTtlMs ?? 24 * 3600_000;
    this.maxSessions = opts.maxSessions ?? 10_000;
  }

  /** A single-use code that logs a browser in as `token` (what `fastgpu up` prints in its URL). */
  issueLoginCode(token: string): string {
    const code = CODE_PREFIX + randomBytes(24).toString('base64url');
    this.codes.set(code, { token, expiresAt: this.clock.now() + this.codeTtlMs });
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
    if (this.sessions.size >= this.maxSessions) {
      const oldest = this.sessions.keys().next();
      if (!oldest.done) this.sessions.delete(oldest.value);
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
