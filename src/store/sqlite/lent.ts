// The SQLite side of lent nodes (issue 12; the port is ../lent-port.ts). store.ts delegates to it.
// A save is one upsert whose times only fill what is still unset, so a repeated or late write
// never moves a time that was recorded.
import type Database from 'better-sqlite3';
import type { LentNodeFilter, LentNodeRecord } from '../lent-port.js';

interface LentRow {
  provider: string;
  provider_id: string;
  node_name: string;
  shape: string;
  hourly_micros: number | bigint | null;
  requested_at: number;
  joined_at: number | null;
  draining_at: number | null;
  released_at: number | null;
  release_reason: string | null;
}

const toRecord = (r: LentRow): LentNodeRecord => ({
  provider: r.provider,
  providerId: r.provider_id,
  nodeName: r.node_name,
  shape: r.shape,
  hourlyMicros: r.hourly_micros === null ? null : BigInt(r.hourly_micros),
  requestedAt: r.requested_at,
  joinedAt: r.joined_at,
  drainingAt: r.draining_at,
  releasedAt: r.released_at,
  releaseReason: r.release_reason,
});

function prepareLent(db: Database.Database) {
  const p = <R = unknown>(sql: string) => db.prepare<unknown[], R>(sql);
  return {
    save: p(`INSERT INTO lent_nodes (provider, provider_id, node_name, shape, hourly_micros, requested_at, joined_at, draining_at, released_at, release_reason)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (provider, provider_id) DO UPDATE SET
        joined_at = COALESCE(lent_nodes.joined_at, excluded.joined_at),
        draining_at = COALESCE(lent_nodes.draining_at, excluded.draining_at),
        released_at = COALESCE(lent_nodes.released_at, excluded.released_at),
        release_reason = COALESCE(lent_nodes.release_reason, excluded.release_reason)`),
    list: p<LentRow>(`SELECT * FROM lent_nodes WHERE requested_at < ? AND (released_at IS NULL OR released_at > ?)
      ORDER BY requested_at, provider, provider_id`),
  };
}

export class SqliteLent {
  private prepared: ReturnType<typeof prepareLent> | null = null;

  constructor(private readonly db: Database.Database) {}

  /** Prepared on first use: a store opened with fewer migrations (upgrade tests) has no such table. */
  private get s(): ReturnType<typeof prepareLent> {
    return (this.prepared ??= prepareLent(this.db));
  }

  saveLentNode(n: LentNodeRecord): void {
    this.s.save.run(n.provider, n.providerId, n.nodeName, n.shape, n.hourlyMicros, n.requestedAt, n.joinedAt, n.drainingAt, n.releasedAt, n.releaseReason);
  }

  listLentNodes(f: LentNodeFilter = {}): LentNodeRecord[] {
    return this.s.list.all(f.to ?? Number.MAX_SAFE_INTEGER, f.from ?? Number.MIN_SAFE_INTEGER).map(toRecord);
  }
}
