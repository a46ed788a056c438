// The part of the store port for joining machines (issue 11): join tokens, traded once by an
// agent for a per-node credential, and those credentials. Only sha256 hashes of the secrets are
// stored. Both adapters implement it (sqlite/join.ts, postgres/join.ts), held to
// conformance-join.ts.

/** A join token: `fastgpu admin join-token create`. */
export interface JoinTokenRecord {
  id: string;
  /** sha256 hex of the secret. */
  hash: string;
  /** Labels every node that joins with it gets. */
  labels: Record<string, string>;
  /** How many joins it allows in all. */
  maxUses: number;
  /** How many joins it has allowed so far. */
  uses: number;
  createdAt: number;
  /** It allows no join at or after this time. */
  expiresAt: number;
  revokedAt: number | null;
}

/** Why a join token allowed no join. */
export type JoinRefusal = 'unknown' | 'expired' | 'used-up' | 'revoked';

/** The outcome of `redeemJoinToken`: the token with its use counted, or why not. */
export type JoinRedeem = { ok: true; token: JoinTokenRecord } | { ok: false; why: JoinRefusal; token?: JoinTokenRecord };

/** A node credential: the bearer secret one joined agent speaks the agent protocol with. */
export interface NodeCredentialRecord {
  id: string;
  /** sha256 hex of the secret. */
  hash: string;
  /** The node name it speaks for. */
  node: string;
  /** The join token it came from (null: renewed from an earlier credential). */
  joinTokenId: string | null;
  createdAt: number;
  expiresAt: number;
  revokedAt: number | null;
}

export interface JoinStore {
  /** A duplicate id or hash rejects with CONFLICT. */
  insertJoinToken(t: JoinTokenRecord): Promise<void>;
  /** Oldest first. */
  listJoinTokens(): Promise<JoinTokenRecord[]>;
  /** False when there is no such token; revoking twice keeps the first time. */
  revokeJoinToken(id: string, at: number): Promise<boolean>;
  /**
   * Counts one use of the token with this hash, atomically: two agents racing for its last use
   * cannot both have it. Refused (nothing counted) when unknown, revoked, expired at `now`, or used up.
   */
  redeemJoinToken(hash: string, now: number): Promise<JoinRedeem>;
  /** A duplicate id or hash rejects with CONFLICT. */
  insertNodeCredential(c: NodeCredentialRecord): Promise<void>;
  findNodeCredentialByHash(hash: string): Promise<NodeCredentialRecord | null>;
  /**
   * Revokes the node's live credentials (all, or only the one with `id`) at `at`; returns how many.
   */
  revokeNodeCredentials(node: string, at: number, id?: string): Promise<number>;
}

/** Why a token that allowed no join was refused (read after the guarded update changed nothing). */
export function refusalOf(t: JoinTokenRecord | null, now: number): Exclude<JoinRedeem, { ok: true }> {
  if (!t) return { ok: false, why: 'unknown' };
  if (t.revokedAt !== null) return { ok: false, why: 'revoked', token: t };
  if (t.expiresAt <= now) return { ok: false, why: 'expired', token: t };
  return { ok: false, why: 'used-up', token: t };
}
