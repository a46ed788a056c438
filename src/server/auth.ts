// Bearer-token auth. Tokens are looked up by their sha256 hash; the secret is never stored.
// Lookups are cached briefly to keep the store off the hot path, and `invalidate()` drops the
// cache so that a revocation made through this server takes effect at once.
import { createHash } from 'node:crypto';
import type { Clock } from '../core/types.js';
import { FastGpuError } from '../core/errors.js';
import { authorize as authorizeCore, DEFAULT_TENANT, visibleTenants as visibleCore, type Action } from '../core/tenancy/index.js';
import type { Store, TokenRecord } from '../store/port.js';

/** Who is calling: kept on every authenticated request (roles and tenants build on it). */
export interface Principal {
  tokenId: string;
  role: TokenRecord['role'];
  tenant: string;
  /** Set for a joined node's credential (issue 11, join.ts): the only node name it speaks for. */
  node?: string;
}

export function hashToken(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

// Short, so that a revocation made through another server (if several share a store) bites soon.
const CACHE_MS = 5_000;
const CACHE_MAX = 10_000;

export class Authenticator {
  private cache = new Map<string, { principal: Principal; until: number }>();

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
  ) {}

  /** The principal for an `Authorization` header value; throws UNAUTHENTICATED. */
  async authenticate(header: string | undefined): Promise<Principal> {
    if (!header) throw new FastGpuError('UNAUTHENTICATED', 'missing bearer token: send "Authorization: Bearer <token>" (the admin token is in <data-dir>/admin.token)');
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) throw new FastGpuError('UNAUTHENTICATED', 'malformed Authorization header: expected "Bearer <token>"');
    const hash = hashToken(m[1]!);
    const now = this.clock.now();
    const hit = this.cache.get(hash);
    if (hit && hit.until > now) return hit.principal;
    const rec = await this.store.findTokenByHash(hash);
    if (!rec) return this.nodeCredential(hash, now);
    if (rec.revokedAt !== null) {
      this.cache.delete(hash);
      throw new FastGpuError('UNAUTHENTICATED', 'token revoked');
    }
    return this.remember(hash, { tokenId: rec.id, role: rec.role, tenant: rec.tenant }, now + CACHE_MS);
  }

  /** A joined node's credential (join.ts): an agent principal bound to its node, until it expires. */
  private async nodeCredential(hash: string, now: number): Promise<Principal> {
    const c = await this.store.findNodeCredentialByHash(hash);
    if (!c || c.revokedAt !== null || c.expiresAt <= now) {
      this.cache.delete(hash);
      const why = !c ? 'unknown token' : c.revokedAt !== null ? `node credential of ${c.node} revoked` : `node credential of ${c.node} expired at ${new Date(c.expiresAt).toISOString()}: join again with a new join token`;
      throw new FastGpuError('UNAUTHENTICATED', why);
    }
    return this.remember(hash, { tokenId: c.id, role: 'agent', tenant: DEFAULT_TENANT.name, node: c.node }, Math.min(now + CACHE_MS, c.expiresAt));
  }

  private remember(hash: string, principal: Principal, until: number): Principal {
    if (this.cache.size >= CACHE_MAX) this.cache.clear();
    this.cache.set(hash, { principal, until });
    return principal;
  }

  /** The principal for a request to `url` (a route pattern): authenticates, then `gate`s. */
  async authenticateFor(url: string, header: string | undefined): Promise<Principal> {
    const p = await this.authenticate(header);
    gate(p, url);
    return p;
  }

  /** Forget cached lookups (call after revoking or changing a token). */
  invalidate(): void {
    this.cache.clear();
  }
}

const AGENT_PREFIX = '/v1/agent/';
const METRICS = '/metrics';

/**
 * Route-level access, before any handler: agent tokens only speak the agent protocol, the agent
 * protocol only takes agent or admin tokens, and `/metrics` (every tenant's numbers) is for
 * admins and for `metrics` tokens, which can read nothing else (give those to a Prometheus
 * scraper rather than an admin token). Everything finer (tenants, read-only viewers) is the
 * handlers' `authorize`.
 */
export function gate(p: Principal, url: string): void {
  const agentRoute = url.startsWith(AGENT_PREFIX);
  if (agentRoute && p.role !== 'agent' && p.role !== 'admin') throw new FastGpuError('FORBIDDEN', `${url} is the agent protocol: it needs an agent or admin token`);
  if (!agentRoute && p.role === 'agent') throw new FastGpuError('FORBIDDEN', `an agent token may only call ${AGENT_PREFIX}*`);
  if (url === METRICS && p.role !== 'admin' && p.role !== 'metrics') throw new FastGpuError('FORBIDDEN', `${url} needs an admin or metrics token`);
  if (url !== METRICS && p.role === 'metrics') throw new FastGpuError('FORBIDDEN', `a metrics token may only read ${METRICS}`);
}

/**
 * The core's `authorize` for a server principal: throws NOT_FOUND for another tenant's item,
 * FORBIDDEN otherwise. Agent tokens act on nothing here (the gate keeps them out already).
 * @example authorize(principal, 'task.get', task.spec.tenant, {what: 'task', id: task.id})
 */
export function authorize(p: Principal, action: Action, resourceTenant: string | null, item?: { what: string; id: string }): void {
  if (p.role === 'agent' || p.role === 'metrics') throw new FastGpuError('FORBIDDEN', `${action} is not for ${p.role} tokens`);
  authorizeCore({ role: p.role, tenant: p.tenant }, action, resourceTenant, item);
}

/** Whether `p` may see a resource of `tenant` (lists filter with it; admins see all). */
export function sees(p: Principal, tenant: string): boolean {
  if (p.role === 'agent' || p.role === 'metrics') return false;
  const v = visibleCore({ role: p.role, tenant: p.tenant });
  return v === null || v.includes(tenant);
}

/**
 * The tenant a listing is limited to: the caller's own for members and viewers (asking for another
 * is FORBIDDEN), `requested` or every tenant (null) for admins.
 */
export function listScope(p: Principal, action: Action, requested: string | undefined): string | null {
  if (requested !== undefined) {
    authorize(p, action, requested);
    return requested;
  }
  authorize(p, action, p.role === 'admin' ? null : p.tenant);
  return p.role === 'admin' ? null : p.tenant;
}
