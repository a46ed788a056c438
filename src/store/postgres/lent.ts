// Lent nodes on Postgres (issue 12; the port is ../lent-port.ts), as ../sqlite/lent.ts: one
// upsert whose times only fill what is still unset.
import type pg from 'pg';
import type { LentNodeFilter, LentNodeRecord } from '../lent-port.js';

interface LentRow {
  provider: string;
  provider_id: string;
  node_name: string;
  shape: string;
  hourly_micros: string | null;
  requested_at: string;
  joined_at: string | null;
  draining_at: string | null;
  released_at: string | null;
  release_reason: string | null;
}

const num = (v: string | null): number | null => (v === null ? null : Number(v));

const toRecord = (r: LentRow): LentNodeRecord => ({
  provider: r.provider,
  providerId: r.provider_id,
  nodeName: r.node_name,
  shape: r.shape,
  hourlyMicros: r.hourly_micros === null ? null : BigInt(r.hourly_micros),
  requestedAt: Number(r.requested_at),
  joinedAt: num(r.joined_at),
  drainingAt: num(r.draining_at),
  releasedAt: num(r.released_at),
  releaseReason: r.release_reason,
});

export class PgLent {
  constructor(private readonly pool: pg.Pool) {}

  async saveLentNode(n: LentNodeRecord): Promise<void> {
    await this.pool.query(
      `INSERT INTO lent_nodes (provider, provider_id, node_name, shape, hourly_micros, requested_at, joined_at, draining_at, released_at, release_reason)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       ON CONFLICT (provider, provider_id) DO UPDATE SET
         joined_at = COALESCE(lent_nodes.joined_at, excluded.joined_at),
         draining_at = COALESCE(lent_nodes.draining_at, excluded.draining_at),
         released_at = COALESCE(lent_nodes.released_at, excluded.released_at),
         release_reason = COALESCE(lent_nodes.release_reason, excluded.release_reason)`,
      [n.provider, n.providerId, n.nodeName, n.shape, n.hourlyMicros === null ? null : n.hourlyMicros.toString(), n.requestedAt, n.joinedAt, n.drainingAt, n.releasedAt, n.releaseReason],
    );
  }

  async listLentNodes(f: LentNodeFilter = {}): Promise<LentNodeRecord[]> {
    const res = await this.pool.query<LentRow>(
      `SELECT * FROM lent_nodes WHERE requested_at < $1 AND (released_at IS NULL OR released_at > $2)
       ORDER BY requested_at, provider, provider_id`,
      [f.to ?? Number.MAX_SAFE_INTEGER, f.from ?? Number.MIN_SAFE_INTEGER],
    );
    return res.rows.map(toRecord);
  }
}
