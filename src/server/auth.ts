// Bearer-token auth. Tokens are looked up by their sha256 hash; the secret is never stored.
// Lookups are cached briefly to keep the store off the hot path, and `invalidate()` drops the
// cache so that a revocation made through this server takes effect at once.
import { createHash } from 'node:crypto';
import type { Clock } from '../core/types.js';
import { FastGpuError } from '../core/errors.js';
import type { Store, TokenRecord } from '../store/port.js';

/** Who is calling: kept on every authenticated request (roles and tenants build on it). */
export interface Principal {
  tokenId: string;
  role: TokenRecord['role'];
  tenant: string;
}

export function hashToken(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

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
    if (!rec || rec.revokedAt !== null) {
      this.cache.delete(hash);
      throw new FastGpuError('UNAUTHENTICATED', rec ? 'token revoked' : 'unknown token');
    }
    const principal: Principal = { tokenId: rec.id, role: rec.role, tenant: rec.tenant };
    if (this.cache.size >= CACHE_MAX) this.cache.clear();
    this.cache.set(hash, { principal, until: now + CACHE_MS });
    return principal;
  }

  /** Forget cached lookups (call after revoking or changing a token). */
  invalidate(): void {
    this.cache.clear();
  }
}
