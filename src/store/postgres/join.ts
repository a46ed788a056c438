// Joining on Postgres (issue 11; the port is ../join-port.ts), as ../sqlite/join.ts. A
// redemption is one guarded UPDATE, so two agents (or two servers) racing for a token's last
// use cannot both get it: the row lock orders them and the loser's guard fails.
import type pg from 'pg';
import { refusalOf, type JoinRedeem, type JoinTokenRecord, type NodeCredentialRecord } from '../join-port.js';
import { translate } from './db.js';

interface JoinTokenRow {
  id: string;
  hash: string;
  labels: Record<string, string>;
  max_uses: number;
  uses: number;
  created_at: string;
  expires_at: string;
  revoked_at: string | null;
}

interface CredentialRow {
  id: string;
  hash: string;
  node: string;
  join_token_id: string | null;
  created_at: string;
  expires_at: string;
  revoked_at: string | null;
}

const num = (v: string | null): number | null => (v === null ? null : Number(v));

const toToken = (r: JoinTokenRow): JoinTokenRecord => ({
  id: r.id,
  hash: r.hash,
  labels: r.labels,
  maxUses: r.max_uses,
  uses: r.uses,
  createdAt: Number(r.created_at),
  expiresAt: Number(r.expires_at),
  revokedAt: num(r.revoked_at),
});

const toCredential = (r: CredentialRow): NodeCredentialRecord => ({
  id: r.id,
  hash: r.hash,
  node: r.node,
  joinTokenId: r.join_token_id,
  createdAt: Number(r.created_at),
  expiresAt: Number(r.expires_at),
  revokedAt: num(r.revoked_at),
});

export class PgJoin {
  constructor(private readonly pool: pg.Pool) {}

  async insertJoinToken(t: JoinTokenRecord): Promise<void> {
    try {
      await this.pool.query(
        'INSERT INTO join_tokens (id, hash, labels, max_uses, uses, created_at, expires_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
        [t.id, t.hash, JSON.stringify(t.labels), t.maxUses, t.uses, t.createdAt, t.expiresAt, t.revokedAt],
      );
    } catch (err) {
      throw translate(err, `join token ${t.id}`);
    }
  }

  async listJoinTokens(): Promise<JoinTokenRecord[]> {
    return (await this.pool.query<JoinTokenRow>('SELECT * FROM join_tokens ORDER BY created_at, id')).rows.map(toToken);
  }

  async revokeJoinToken(id: string, at: number): Promise<boolean> {
    return (await this.pool.query('UPDATE join_tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2', [at, id])).rowCount === 1;
  }

  async redeemJoinToken(hash: string, now: number): Promise<JoinRedeem> {
    const res = await this.pool.query<JoinTokenRow>(
      'UPDATE join_tokens SET uses = uses + 1 WHERE hash = $1 AND revoked_at IS NULL AND expires_at > $2 AND uses < max_uses RETURNING *',
      [hash, now],
    );
    const row = res.rows[0];
    if (row) return { ok: true, token: toToken(row) };
    const t = (await this.pool.query<JoinTokenRow>('SELECT * FROM join_tokens WHERE hash = $1', [hash])).rows[0];
    return refusalOf(t ? toToken(t) : null, now);
  }

  async insertNodeCredential(c: NodeCredentialRecord): Promise<void> {
    try {
      await this.pool.query(
        'INSERT INTO node_credentials (id, hash, node, join_token_id, created_at, expires_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7)',
        [c.id, c.hash, c.node, c.joinTokenId, c.createdAt, c.expiresAt, c.revokedAt],
      );
    } catch (err) {
      throw translate(err, `node credential ${c.id}`);
    }
  }

  async findNodeCredentialByHash(hash: string): Promise<NodeCredentialRecord | null> {
    const row = (await this.pool.query<CredentialRow>({ name: 'fgpu_find_node_credential', text: 'SELECT * FROM node_credentials WHERE hash = $1', values: [hash] })).rows[0];
    return row ? toCredential(row) : null;
  }

  async revokeNodeCredentials(node: string, at: number, id?: string): Promise<number> {
    const res =
      id === undefined
        ? await this.pool.query('UPDATE node_credentials SET revoked_at = $1 WHERE node = $2 AND revoked_at IS NULL', [at, node])
        : await this.pool.query('UPDATE node_credentials SET revoked_at = $1 WHERE node = $2 AND id = $3 AND revoked_at IS NULL', [at, node, id]);
    return res.rowCount ?? 0;
  }
}
