// `client.admin`: tenants and tokens (admin tokens only). Thin wrappers over /v1/admin/*.
import type { Requester } from './requester.js';

/** A tenant as the API shows it: GPUs as numbers (2.5), milli-GPU beside them, money as strings. */
export interface TenantView {
  name: string;
  /** GPUs it is guaranteed (0: none). */
  guarantee: number;
  guaranteeMilli: number;
  /** GPUs it may never exceed; null: no limit beyond the pool. */
  limit: number | null;
  limitMilli: number | null;
  weight: number;
  /** Spend allowed, e.g. "500.00"; null: unlimited. */
  budget: string | null;
  /** Time limit of its tasks that set none, e.g. "2h"; null: the pool's `--default-time-limit`. */
  defaultTimeLimit: string | null;
  defaultTimeLimitMs: number | null;
  createdAt: string;
}

/** What `tenants.create` accepts: GPUs as numbers or strings (2, 0.5, "500m"), budget as "500.00". */
export interface TenantInput {
  name: string;
  guarantee?: number | string;
  limit?: number | string;
  weight?: number | string;
  budget?: number | string;
  /** Time limit of its tasks that set none ("2h", or seconds); overrides the pool's, a task's own overrides it. */
  defaultTimeLimit?: number | string;
}

/** What `tenants.update` accepts: only the fields to change; null resets one to its default. */
export type TenantUpdate = { [K in Exclude<keyof TenantInput, 'name'>]?: TenantInput[K] | null };

/** `agent`: for `fastgpu agent`; `metrics`: reads GET /metrics only (for a Prometheus scraper). */
export type TokenRole = 'admin' | 'member' | 'viewer' | 'agent' | 'metrics';

/** A token without its secret. */
export interface TokenView {
  id: string;
  name: string;
  tenant: string;
  role: TokenRole;
  createdAt: string;
  revokedAt: string | null;
}

/** A new token: `token` is the secret, shown this once. */
export interface CreatedToken extends TokenView {
  token: string;
}

export class AdminApi {
  readonly tenants: TenantsApi;
  readonly tokens: TokensApi;

  constructor(client: Requester) {
    this.tenants = new TenantsApi(client);
    this.tokens = new TokensApi(client);
  }
}

export class TenantsApi {
  constructor(private readonly client: Requester) {}

  /** Creates the tenant, or replaces the quota, weight, budget and default time limit of an existing one. */
  async create(input: TenantInput): Promise<TenantView> {
    return this.client.request<TenantView>('POST', '/v1/admin/tenants', { body: input });
  }

  /**
   * Changes only the fields given; null resets one to its default (no limit, no budget, the pool's
   * default time limit).
   * @example await fg.admin.tenants.update('research', { defaultTimeLimit: '2h' })
   */
  async update(name: string, changes: TenantUpdate): Promise<TenantView> {
    return this.client.request<TenantView>('PATCH', `/v1/admin/tenants/${encodeURIComponent(name)}`, { body: changes });
  }

  async list(): Promise<TenantView[]> {
    return (await this.client.request<{ tenants: TenantView[] }>('GET', '/v1/admin/tenants')).tenants;
  }

  async get(name: string): Promise<TenantView> {
    return this.client.request<TenantView>('GET', `/v1/admin/tenants/${encodeURIComponent(name)}`);
  }

  /**
   * Deletes a tenant that has no unfinished tasks and no vGPUs (else CONFLICT, saying what is
   * left); its tokens are revoked, its history kept. `default` cannot be deleted.
   */
  async delete(name: string): Promise<{ name: string; revokedTokens: number }> {
    return this.client.request<{ name: string; revokedTokens: number }>('DELETE', `/v1/admin/tenants/${encodeURIComponent(name)}`);
  }
}

export class TokensApi {
  constructor(private readonly client: Requester) {}

  /**
   * A new token for `tenant` with `role` (default member).
   * @example const {token} = await fg.admin.tokens.create({tenant: 'research', role: 'viewer'})
   */
  async create(input: { tenant: string; role?: TokenRole; name?: string }): Promise<CreatedToken> {
    return this.client.request<CreatedToken>('POST', '/v1/admin/tokens', { body: input });
  }

  /** Every token (secrets are never returned); `tenant` filters. */
  async list(opts: { tenant?: string } = {}): Promise<TokenView[]> {
    return (await this.client.request<{ tokens: TokenView[] }>('GET', '/v1/admin/tokens', { query: { tenant: opts.tenant } })).tokens;
  }

  /** Revokes at once; revoking a revoked token is a no-op that answers it again. */
  async revoke(id: string, opts: { force?: boolean } = {}): Promise<TokenView> {
    // The server refuses the last live admin token, and the caller's own token unless forced.
    return this.client.request<TokenView>('POST', `/v1/admin/tokens/${encodeURIComponent(id)}/revoke${opts.force ? '?force=1' : ''}`);
  }
}
