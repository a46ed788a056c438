// Idempotent submits: a client that sends `Idempotency-Key: K` with a submit and retries it (a
// dropped connection, a timeout) gets the tasks the first request made, never new ones; the same
// key with a different body is a 409. Keys are per token, kept for 24 h in the server's memory
// (at most MAX_KEYS, the oldest go first): a server restart forgets them.
import { createHash } from 'node:crypto';
import { conflict, invalid } from '../core/errors.js';
import type { Clock } from '../core/types.js';

export const IDEMPOTENCY_HEADER = 'idempotency-key';
export const IDEMPOTENCY_TTL_MS = 24 * 3600_000;
const MAX_KEYS = 100_000;
const KEY_RE = /^[\x21-\x7e]{1,200}$/;

interface Entry {
  hash: string;
  expiresAt: number;
  /** The task ids the first request made; pending while it runs. */
  result: Promise<string[]>;
}

/** The key of a request's header, checked; undefined when absent. */
export function idempotencyKeyOf(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  const k = Array.isArray(header) ? header[0] : header;
  if (k === undefined || !KEY_RE.test(k)) throw invalid('idempotency-key', 'must be 1 to 200 printable ASCII characters (a UUID, say)');
  return k;
}

export class IdempotencyBook {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly clock: Clock) {}

  /**
   * Runs `create` once per (token, key): a repeat with the same request answers the first one's
   * task ids (waiting for it if it still runs); a repeat with another request is a CONFLICT. A
   * `create` that fails leaves no entry, so the request may be retried.
   */
  async once(tokenId: string, key: string, request: unknown, create: () => Promise<string[]>): Promise<{ ids: string[]; replayed: boolean }> {
    const now = this.clock.now();
    const id = `${tokenId}\n${key}`;
    const hash = createHash('sha256').update(JSON.stringify(request) ?? '').digest('hex');
    const hit = this.entries.get(id);
    if (hit && hit.expiresAt > now) {
      if (hit.hash !== hash) throw conflict(`idempotency-key ${JSON.stringify(key)} was used with a different request in the last 24 h: use a new key for a new submit`);
      return { ids: await hit.result, replayed: true };
    }
    this.prune(now);
    const result = create();
    const entry: Entry = { hash, expiresAt: now + IDEMPOTENCY_TTL_MS, result };
    this.entries.set(id, entry);
    try {
      return { ids: await result, replayed: false };
    } catch (e) {
      if (this.entries.get(id) === entry) this.entries.delete(id);
      throw e;
    }
  }

  private prune(now: number): void {
    for (const [k, e] of this.entries) {
      if (e.expiresAt > now && this.entries.size < MAX_KEYS) break;
      this.entries.delete(k);
    }
  }
}
