// The control plane's copy of the tenants (quota, weight, budget, default time limit), so that a
// submit does not read its tenant from the store: at 2,000 submits/s two reads each were the
// largest share of the store's round trips (issue 10). Correct because every tenant write goes
// through the admin API of the server that runs the control plane (a follower forwards it to the
// leader, and a new leader builds a new control plane that reads the tenants afresh), and that
// route calls `changed()` before it answers: the next submit sees the change. `getTenant` is the
// store's name, so that whatever reads one tenant from the store (specContextFor) reads it here.
//
// Two reads may overlap (the periodic refresh, and the one `changed()` starts): each carries a
// generation, and a read that began before the latest `changed()` never replaces the newer one.
// While a change has not been read yet, lookups go to the store.
import type { Store, TenantRecord } from '../store/port.js';

export class TenantCache {
  private map = new Map<string, TenantRecord>();
  /** Bumped by `changed()`: a read begun under an older generation is stale. */
  private generation = 0;
  /** Whether `map` holds the store's tenants as of the latest change (false until the first read). */
  private valid = false;
  /** Reads of one tenant in flight, by generation and name. */
  private readonly reading = new Map<string, Promise<TenantRecord | null>>();

  constructor(private readonly store: Pick<Store, 'listTenants' | 'getTenant'>) {}

  /** Every tenant as last read (the scheduler's and the metrics' view); empty before the first read. */
  get all(): ReadonlyMap<string, TenantRecord> {
    return this.map;
  }

  /**
   * One tenant: from memory when it is current, else from the store. A name memory does not know
   * is asked of the store too (no submit path relies on a tenant being absent, and an absent one
   * is rare: a wrong `?tenant=`).
   */
  async getTenant(name: string): Promise<TenantRecord | null> {
    if (this.valid) {
      const t = this.map.get(name);
      if (t) return t;
    }
    // Submits that arrive together for a tenant memory lacks share one read.
    const key = `${this.generation}:${name}`;
    let read = this.reading.get(key);
    if (!read) {
      const gen = this.generation;
      read = this.store.getTenant(name).then((t) => {
        // One made after the last full read: remembered, unless a change came in meanwhile (then
        // the read `changed()` started brings it).
        if (t && this.valid && gen === this.generation) this.map.set(name, t);
        return t;
      });
      this.reading.set(key, read);
      const done = (): void => void this.reading.delete(key);
      read.then(done, done);
    }
    return read;
  }

  /** Reads every tenant again; a read overtaken by a later `changed()` is dropped. */
  async refresh(): Promise<void> {
    const gen = this.generation;
    const list = await this.store.listTenants();
    if (gen !== this.generation) return;
    this.map = new Map(list.map((t) => [t.name, t]));
    this.valid = true;
  }

  /**
   * The tenants changed in the store: lookups read the store until the new state is read (which
   * this does before it resolves).
   */
  async changed(): Promise<void> {
    this.generation++;
    this.valid = false;
    await this.refresh();
  }
}
