// Joining machines (issue 11; the Nomad 1.11 "introduction token" design). An admin makes a
// short-lived join token limited in uses; an agent trades it once for a per-node credential (a
// bearer secret bound to the node's name, with an expiry) and renews that before it expires.
// Revoking a node kills its credentials at once and requeues its tasks. Only sha256 hashes of
// secrets reach the store.
import { FastGpuError, invalid } from '../core/errors.js';
import { parseDuration } from '../core/quantity.js';
import type { Clock } from '../core/types.js';
import type { JoinRequest, JoinResponse } from '../protocol/join.js';
import { checkProtocolVersion } from '../protocol/version.js';
import type { JoinRefusal, JoinTokenRecord, NodeCredentialRecord } from '../store/join-port.js';
import type { Store } from '../store/port.js';
import { hashToken } from './auth.js';
import { newId, randomBase32 } from './ids.js';

/** Join tokens: 15 minutes unless told, at most 30 days. */
export const DEFAULT_JOIN_TTL_MS = 15 * 60_000;
const MAX_JOIN_TTL_MS = 30 * 86_400_000;
const MAX_USES = 100_000;
/** Node credentials live 7 days unless the server is told otherwise; agents renew at 2/3 of that. */
export const DEFAULT_CREDENTIAL_TTL_MS = 7 * 86_400_000;

const joinSecret = (): string => `fgj_${randomBase32(40)}`;
const credentialSecret = (): string => `fgn_${randomBase32(40)}`;

export interface JoinTokenInput {
  /** A duration (`15m`, `2h`), or a bare number of seconds (as every duration in the API). */
  ttl?: string | number;
  labels?: Record<string, string>;
  uses?: number;
}

export interface CreatedJoinToken {
  record: JoinTokenRecord;
  /** The secret, shown once. */
  token: string;
}

const REFUSED: Record<JoinRefusal, string> = {
  unknown: 'unknown join token',
  expired: 'join token expired',
  'used-up': 'join token used up',
  revoked: 'join token revoked',
};

export class JoinService {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly credentialTtlMs: number = DEFAULT_CREDENTIAL_TTL_MS,
  ) {}

  /** A new join token; `uses` defaults to 1. */
  async createToken(input: JoinTokenInput): Promise<CreatedJoinToken> {
    const ttlMs = input.ttl === undefined ? DEFAULT_JOIN_TTL_MS : parseDuration(input.ttl, 'ttl', MAX_JOIN_TTL_MS);
    const uses = input.uses ?? 1;
    if (!Number.isInteger(uses) || uses < 1 || uses > MAX_USES) throw invalid('uses', `must be a whole number from 1 to ${MAX_USES}, got ${uses}`);
    const now = this.clock.now();
    const token = joinSecret();
    const record: JoinTokenRecord = { id: newId('jt'), hash: hashToken(token), labels: input.labels ?? {}, maxUses: uses, uses: 0, createdAt: now, expiresAt: now + ttlMs, revokedAt: null };
    await this.store.insertJoinToken(record);
    return { record, token };
  }

  /** Trades a join token for a node credential (one use of the token). */
  async join(req: JoinRequest): Promise<JoinResponse> {
    checkProtocolVersion(req.protocolVersion, req.agentVersion);
    const now = this.clock.now();
    const r = await this.store.redeemJoinToken(hashToken(req.joinToken), now);
    if (!r.ok) {
      const t = r.token;
      const detail = r.why === 'expired' && t ? ` at ${new Date(t.expiresAt).toISOString()}` : r.why === 'used-up' && t ? ` (${t.maxUses} of ${t.maxUses} uses)` : '';
      throw new FastGpuError('UNAUTHENTICATED', `${REFUSED[r.why]}${detail}: ask an admin for a new one (fastgpu admin join-token create)`);
    }
    return { ...(await this.issue(req.name, r.token.id, now)), labels: r.token.labels };
  }

  /** A fresh credential for the node the caller's credential speaks for; the old one dies. */
  async renew(node: string, oldCredentialId: string): Promise<JoinResponse> {
    const now = this.clock.now();
    const out = await this.issue(node, null, now);
    await this.store.revokeNodeCredentials(node, now, oldCredentialId);
    return { ...out, labels: {} };
  }

  /** Kills every credential of the node; returns how many were live. */
  async revokeNode(node: string): Promise<number> {
    return this.store.revokeNodeCredentials(node, this.clock.now());
  }

  private async issue(node: string, joinTokenId: string | null, now: number): Promise<Omit<JoinResponse, 'labels'>> {
    const credential = credentialSecret();
    const rec: NodeCredentialRecord = { id: newId('nc'), hash: hashToken(credential), node, joinTokenId, createdAt: now, expiresAt: now + this.credentialTtlMs, revokedAt: null };
    await this.store.insertNodeCredential(rec);
    return { credential, node, expiresAt: rec.expiresAt, renewAt: now + Math.floor((this.credentialTtlMs * 2) / 3) };
  }
}
