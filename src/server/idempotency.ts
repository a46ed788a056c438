// Idempotent submits: a client that sends `Idempotency-Key: K` with a submit and retries it (a
// dropped connection, a timeout, a server restart in between) gets the tasks the first request
// made, never new ones; the same key with a different body is a 409. Keys are per token and
// last 24 h. They live in the store (port.ts `IdempotencyRecord`), written in the transaction
// that stores the tasks they answer, so a key is kept exactly when its tasks are: a submit that
// failed leaves none (the request may be retried), one that succeeded is found after a restart,
// and two servers racing on one key store one set of tasks (the loser answers the winner's). A
// submit writes its key without reading first: a stored key fails the write, and the stored
// record answers.
// Expired keys are pruned in the background, at most once an hour.
import { createHash } from 'node:crypto';
import { conflict, FastGpuError, invalid } from '../core/errors.js';
import type { Clock } from '../core/types.js';
import type { IdempotencyRecord, Store } from '../store/port.js';

export const IDEMPOTENCY_HEADER = 'idempotency-key';
export const IDEMPOTENCY_TTL_MS = 24 * 3600_000;
const KEY_RE = /^[\x21-\x7e]{1,200}$/;
const PRUNE_EVERY_MS = 3600_000;
/** Submits of this many tasks or more read their key before writing (see once()). */
const READ_FIRST_FROM = 64;

/** The key of a request's header, checked; undefined when absent. */
export function idempotencyKeyOf(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  const k = Array.isArray(header) ? header[0] : header;
  if (k === undefined || !KEY_RE.test(k)) throw invalid('idempotency-key', 'must be 1 to 200 printable ASCII characters (a UUID, say)');
  return k;
}

export class IdempotencyBook {
  /** Requests of this server still storing their tasks: a repeat waits for the first. */
  private readonly inflight = new Map<string, { hash: string; result: Promise<string[]> }>();
  private lastPrune = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly log: (line: string) => void = () => {},
  ) {}

  /**
   * Makes `taskIds` once per (scope, key): `create(record)` must store the tasks together with
   * `record` (ControlPlane.submit). A repeat of the same request answers the first one's task
   * ids (waiting for it if it still runs); a repeat with another request is a CONFLICT.
   */
  async once(scope: string, key: string, request: unknown, taskIds: string[], create: (record: IdempotencyRecord) => Promise<void>): Promise<{ ids: string[]; replayed: boolean }> {
    const now = this.clock.now();
    const id = `${scope}\n${key}`;
    const hash = createHash('sha256').update(JSON.stringify(request) ?? '').digest('hex');
    const running = this.inflight.get(id);
    if (running) return this.repeat(key, running.hash, hash, running.result);
    // No read first for small submits: almost every key is new, and a submit whose key is already
    // stored (a retry after a lost answer, or another server's request) fails as a whole with
    // CONFLICT, stores nothing, and is answered from the stored record below: one store call per
    // submit, not two. A large one (an array) reads first: a retry of a slow 10,000-element
    // submit is likely, and writing its rows only to roll them back costs more than the read.
    if (taskIds.length >= READ_FIRST_FROM) {
      const stored = await this.store.getIdempotencyKey(scope, key, now);
      if (stored) return this.repeat(key, stored.requestHash, hash, Promise.resolve(stored.taskIds));
      // Another request with the key may have started while the store was read.
      const started = this.inflight.get(id);
      if (started) return this.repeat(key, started.hash, hash, started.result);
    }
    const record: IdempotencyRecord = { scope, key, requestHash: hash, taskIds, createdAt: now, expiresAt: now + IDEMPOTENCY_TTL_MS };
    const entry = { hash, result: create(record).then(() => taskIds) };
    this.inflight.set(id, entry);
    try {
      return { ids: await entry.result, replayed: false };
    } catch (e) {
      // The key was stored first, by an earlier request or another server: its tasks are the answer.
      if (e instanceof FastGpuError && e.code === 'CONFLICT') {
        const winner = await this.store.getIdempotencyKey(scope, key, now);
        if (winner) return this.repeat(key, winner.requestHash, hash, Promise.resolve(winner.taskIds));
      }
      throw e;
    } finally {
      if (this.inflight.get(id) === entry) this.inflight.delete(id);
      this.maybePrune(now);
    }
  }

  private async repeat(key: string, firstHash: string, hash: string, result: Promise<string[]>): Promise<{ ids: string[]; replayed: boolean }> {
    if (firstHash !== hash) throw conflict(`idempotency-key ${JSON.stringify(key)} was used with a different request in the last 24 h: use a new key for a new submit`);
    return { ids: await result, replayed: true };
  }

  private maybePrune(now: number): void {
    if (now - this.lastPrune < PRUNE_EVERY_MS) return;
    this.lastPrune = now;
    this.store.pruneIdempotencyKeys(now).catch((e: unknown) => this.log(`warn: pruning expired idempotency keys failed: ${String(e)}`));
  }
}
