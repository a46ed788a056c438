// The SQLite side of joining (issue 11; the port is ../join-port.ts): join tokens and node
// credentials. store.ts delegates to it. A redemption is one UPDATE guarded by its own
// conditions, so two agents racing for a token's last use cannot both get it.
import type Database from 'better-sqlite3';
import { conflict } from '../../core/errors.js';
import { refusalOf, type JoinRedeem, type JoinTokenRecord, type NodeCredentialRecord } from '../join-port.js';

interface JoinTokenRow {
  id: string;
  hash: string;
  labels: string;
  max_uses: number;
  uses: number;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
}

interface CredentialRow {
  id: string;
  hash: string;
  node: string;
  join_token_id: string | null;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
}

const toToken = (r: JoinTokenRow): JoinTokenRecord => ({
  id: r.id,
  hash: r.hash,
  labels: JSON.parse(r.labels) as Record<string, string>,
  maxUses: r.max_uses,
  uses: r.uses,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  revokedAt: r.revoked_at,
});

const toCredential = (r: CredentialRow): NodeCredentialRecord => ({
  id: r.id,
  hash: r.hash,
  node: r.node,
  joinTokenId: r.join_token_id,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  revokedAt: r.revoked_at,
});

function uniqueOr(err: unknown, what: string): unknown {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('SQLITE_CONSTRAINT') ? conflict(`${what} already exists`) : err;
}

function prepareJoin(db: Database.Database) {
  const p = <R = unknown>(sql: string) => db.prepare<unknown[], R>(sql);
  return {
    insertToken: p(`INSERT INTO join_tokens (id, hash, labels, max_uses, uses, created_at, expires_at, revoked_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
    listTokens: p<JoinTokenRow>('SELECT * FROM join_tokens ORDER BY created_at, id'),
    revokeToken: p('UPDATE join_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?'),
    redeem: p<JoinTokenRow>(`UPDATE join_tokens SET uses = uses + 1
      WHERE hash = ? AND revoked_at IS NULL AND expires_at > ? AND uses < max_uses RETURNING *`),
    tokenByHash: p<JoinTokenRow>('SELECT * FROM join_tokens WHERE hash = ?'),
    insertCredential: p(`INSERT INTO node_credentials (id, hash, node, join_token_id, created_at, expires_at, revoked_at)
      VALUES (?, ?, ?, ?, ?, ?, ?)`),
    credentialByHash: p<CredentialRow>('SELECT * FROM node_credentials WHERE hash = ?'),
    revokeAll: p('UPDATE node_credentials SET revoked_at = ? WHERE node = ? AND revoked_at IS NULL'),
    revokeOne: p('UPDATE node_credentials SET revoked_at = ? WHERE node = ? AND id = ? AND revoked_at IS NULL'),
  };
}

export class SqliteJoin {
  private prepared: ReturnType<typeof prepareJoin> | null = null;

  constructor(private readonly db: Database.Database) {}

  /** Prepared on first use: a store opened with fewer migrations (upgrade tests) has no such tables. */
  private get s(): ReturnType<typeof prepareJoin> {
    return (this.prepared ??= prepareJoin(this.db));
  }

  insertJoinToken(t: JoinTokenRecord): void {
    try {
      this.s.insertToken.run(t.id, t.hash, JSON.stringify(t.labels), t.maxUses, t.uses, t.createdAt, t.expiresAt, t.revokedAt);
    } catch (err) {
      throw uniqueOr(err, `join token ${t.id}`);
    }
  }

  listJoinTokens(): JoinTokenRecord[] {
    return this.s.listTokens.all().map(toToken);
  }

  revokeJoinToken(id: string, at: number): boolean {
    return this.s.revokeToken.run(at, id).changes === 1;
  }

  redeemJoinToken(hash: string, now: number): JoinRedeem {
    const row = this.s.redeem.get(hash, now);
    if (row) return { ok: true, token: toToken(row) };
    const t = this.s.tokenByHash.get(hash);
    return refusalOf(t ? toToken(t) : null, now);
  }

  insertNodeCredential(c: NodeCredentialRecord): void {
    try {
      this.s.insertCredential.run(c.id, c.hash, c.node, c.joinTokenId, c.createdAt, c.expiresAt, c.revokedAt);
    } catch (err) {
      throw uniqueOr(err, `node credential ${c.id}`);
    }
  }

  findNodeCredentialByHash(hash: string): NodeCredentialRecord | null {
    const row = this.s.credentialByHash.get(hash);
    return row ? toCredential(row) : null;
  }

  revokeNodeCredentials(node: string, at: number, id?: string): number {
    return (id === undefined ? this.s.revokeAll.run(at, node) : this.s.revokeOne.run(at, node, id)).changes;
  }
}
