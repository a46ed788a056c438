// Attempts that ended LOST with their node, and the wait before their tasks are placed again
// (Nomad's "unknown" allocations of a disconnected client).
//
// A node whose lease ran out has fenced its tasks (src/protocol/lease.ts), but what happened
// before the fence is not known yet: a task may have exited 0 while its node was cut off, and
// its supervisor recorded that. Placed again at once, such a task runs a second time, and the
// exit its node reports on its return loses. So a LOST attempt whose task went back to PENDING
// is held from placement for `holdMs` after the LOST (by default one more lease, and never less
// than an agent restart, `holdAfterLease`: Kubernetes waits five minutes before it evicts the pods
// of a NotReady node):
//   - an exit its node reports meanwhile decides (src/server/control.ts `lateExit`): a real end
//     wins (SUCCEEDED is never run again), a fenced or failed one releases the hold at once;
//   - a node that comes back and still lists the attempt (its restarted agent found the exit on
//     disk and ships the logs first) is waited for, one more hold at most;
//   - once the hold runs out, the task is placed wherever there is room.
// The wait is also a margin on top of the lease's own for a supervisor that fences late (a
// loaded host, a slow clock): the task never runs twice at the same time.
//
// The records are durable (src/store/lost-port.ts): every change goes into the caller's
// transaction through a `LostWrites` map, so a restarted server, or a new leader, loads them
// (`restore`) and keeps both the hold and the late-exit rule.
import type { Task } from '../core/types.js';
import type { LostAttemptRecord, LostAttemptWrites } from '../store/lost-port.js';

export type LostAttempt = LostAttemptRecord;

/** What a transaction writes: the record as it is now, by task id (null: deleted). */
export type LostWrites = Map<string, LostAttemptRecord | null>;

/** A transaction's changes as the store's batch takes them. */
export function lostWrites(w: LostWrites): LostAttemptWrites {
  const put: LostAttemptRecord[] = [];
  const del: string[] = [];
  for (const [id, r] of w) {
    if (r) put.push(r);
    else del.push(id);
  }
  return { put, delete: del };
}

/**
 * The shortest default wait for a lost node, whatever its lease. A killed agent is back only once
 * it is restarted, has loaded, scanned its state dir and registered: the fault campaign
 * (scripts/fault-campaign.ts) measured 3-7 s from spawn to registration on a loaded 2-core box,
 * and a supervisor such as systemd restarts it a few seconds after the crash. A wait of one
 * 8 s lease left under 5 s of that, and finished tasks ran again when the host was busy.
 */
export const MIN_HOLD_MS = 15_000;

/** The default wait after a LOST: one more lease, and at least MIN_HOLD_MS. */
export function holdAfterLease(leaseMs: number): number {
  return Math.max(leaseMs, MIN_HOLD_MS);
}

/** A LOST attempt's late exit counts for a day at most. */
const KEEP_MS = 86_400_000;

export class LostAttempts {
  private readonly byTask = new Map<string, LostAttempt>();
  /** Holds not yet seen to run out (`expired`). */
  private readonly holding = new Set<string>();

  /** `holdMs`: how long a requeued task waits for its lost node's report before it is placed again. */
  constructor(readonly holdMs: number) {
    if (!Number.isFinite(holdMs) || holdMs < 0) throw new Error(`the hold after a lost node must be a duration ≥ 0, got ${holdMs}`);
  }

  /** The stored records, on load: holds still running count again. */
  restore(records: readonly LostAttemptRecord[]): void {
    for (const r of records) {
      this.byTask.set(r.taskId, { ...r });
      // `expired` drops the ones that ran out while no server ran (and says so once).
      if (r.task.state === 'PENDING') this.holding.add(r.taskId);
    }
  }

  /** Records a LOST attempt; `hold`: its task (if it went back to PENDING) waits `holdMs` before it is placed again. */
  record(taskId: string, l: { attempt: number; nodeId: string; at: number; task: Task }, hold: boolean, w: LostWrites): LostAttempt {
    const held = hold && l.task.state === 'PENDING' && this.holdMs > 0;
    const entry: LostAttempt = { taskId, ...l, holdUntil: held ? l.at + this.holdMs : l.at, awaited: false };
    this.byTask.set(taskId, entry);
    w.set(taskId, { ...entry });
    if (held) this.holding.add(taskId);
    else this.holding.delete(taskId);
    this.prune(l.at, w);
    return entry;
  }

  get(taskId: string): LostAttempt | undefined {
    return this.byTask.get(taskId);
  }

  /** Forgets it (a new attempt was placed, or its late exit decided the task). */
  delete(taskId: string, w: LostWrites): void {
    if (this.byTask.delete(taskId)) w.set(taskId, null);
    this.holding.delete(taskId);
  }

  /** Its node's report decided nothing (a fenced or failed end): the task may be placed now. */
  release(taskId: string, now: number, w: LostWrites): void {
    const l = this.byTask.get(taskId);
    if (l && l.holdUntil > now) {
      l.holdUntil = now;
      w.set(taskId, { ...l });
    }
    this.holding.delete(taskId);
  }

  /** Whether a PENDING task must not be placed yet. */
  held(taskId: string, now: number): boolean {
    const l = this.byTask.get(taskId);
    return l !== undefined && now < l.holdUntil;
  }

  /**
   * The lost attempt's node is back and lists the attempt as still there: a restarted agent
   * found its exit on disk and reports it once the logs are shipped. While the task was not
   * placed again, it waits for that (one more `holdMs` at most). True when it does.
   */
  awaitExit(taskId: string, attempt: number, nodeId: string, now: number, w: LostWrites): boolean {
    const l = this.byTask.get(taskId);
    if (!l || l.attempt !== attempt || l.nodeId !== nodeId || l.task.state !== 'PENDING' || this.holdMs === 0) return false;
    if (!l.awaited) {
      l.awaited = true;
      l.holdUntil = Math.max(l.holdUntil, now + this.holdMs);
      this.holding.add(taskId);
      w.set(taskId, { ...l });
    }
    return now < l.holdUntil;
  }

  /** Tasks whose hold ran out since the last call (each once): a scheduling cycle may place them. */
  expired(now: number): string[] {
    const out: string[] = [];
    for (const id of this.holding) {
      const l = this.byTask.get(id);
      if (!l || now >= l.holdUntil) {
        this.holding.delete(id);
        out.push(id);
      }
    }
    return out;
  }

  /** The earliest end of a hold still running, if any. */
  nextExpiry(): number | undefined {
    let next: number | undefined;
    for (const id of this.holding) {
      const u = this.byTask.get(id)?.holdUntil;
      if (u !== undefined && (next === undefined || u < next)) next = u;
    }
    return next;
  }

  private prune(now: number, w: LostWrites): void {
    for (const [id, l] of this.byTask) if (now - l.at > KEEP_MS) this.delete(id, w);
  }
}
