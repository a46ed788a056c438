// The control plane's tenant copy: current after every change, never overwritten by a read that
// began before the change, and never stale while the change is being read.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../store/index.js';
import type { Store, TenantRecord } from '../store/port.js';
import { TenantCache } from './tenant-cache.js';

const open: { store: Store; dir: string }[] = [];
afterEach(async () => {
  for (const o of open.splice(0)) {
    await o.store.close();
    rmSync(o.dir, { recursive: true, force: true });
  }
});

async function sqlite(): Promise<Store> {
  const dir = mkdtempSync(join(tmpdir(), 'fastgpu-tenant-cache-'));
  const store = openStore({ kind: 'sqlite', path: join(dir, 'fastgpu.db') });
  await store.init();
  open.push({ store, dir });
  return store;
}

/** Awaits `cond` (a read reaching its gate), yielding to the event loop; no timers. */
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 10_000 && !cond(); i++) await new Promise<void>((r) => setImmediate(r));
  expect(cond()).toBe(true);
}

const tenant = (name: string, budget: bigint | null): TenantRecord => ({ name, guaranteeMilli: 0, limitMilli: null, weight: 1, budget, createdAt: 1 });

/**
 * A store whose listTenants reads at once but answers only on `release(i)` (the i-th read, from 0):
 * a slow read that answers what the store held when it began.
 */
function slowLists(store: Store): { store: Pick<Store, 'listTenants' | 'getTenant'>; release(i: number): void; reads: number; readonly gates: number } {
  const gates: (() => void)[] = [];
  const out = {
    reads: 0,
    get gates() {
      return gates.length;
    },
    release: (i: number) => gates[i]!(),
    store: {
      getTenant: (n: string) => {
        out.reads++;
        return store.getTenant(n);
      },
      listTenants: async () => {
        const list = await store.listTenants();
        await new Promise<void>((r) => gates.push(r));
        return list;
      },
    },
  };
  return out;
}

/** A cache over a store holding tenant `a` (budget 100), after its first read. */
async function loaded(): Promise<{ store: Store; s: ReturnType<typeof slowLists>; cache: TenantCache }> {
  const store = await sqlite();
  await store.upsertTenant(tenant('a', 100n));
  const s = slowLists(store);
  const cache = new TenantCache(s.store);
  const first = cache.refresh();
  await until(() => s.gates === 1);
  s.release(0);
  await first;
  return { store, s, cache };
}

describe('TenantCache', () => {
  it('answers from memory once read, and a tenant made after the read is read once', async () => {
    const { store, s, cache } = await loaded();
    expect((await cache.getTenant('a'))?.budget).toBe(100n);
    expect(s.reads).toBe(0);
    await store.upsertTenant(tenant('late', null));
    expect((await cache.getTenant('late'))?.name).toBe('late');
    expect((await cache.getTenant('late'))?.name).toBe('late');
    expect(s.reads).toBe(1);
    // An unknown name is asked of the store every time (never remembered as absent).
    expect(await cache.getTenant('nobody')).toBeNull();
    expect(await cache.getTenant('nobody')).toBeNull();
    expect(s.reads).toBe(3);
  });

  it('a read begun before a change never replaces what the change read, and lookups meanwhile go to the store', async () => {
    const { store, s, cache } = await loaded();
    // A periodic refresh reads the old budget...
    const stale = cache.refresh();
    await until(() => s.gates === 2);
    // ...then an admin changes the budget, and the change's read begins.
    await store.upsertTenant(tenant('a', 0n));
    const change = cache.changed();
    // Until the change is read, a lookup asks the store.
    expect((await cache.getTenant('a'))?.budget).toBe(0n);
    expect(s.reads).toBe(1);
    await until(() => s.gates === 3);
    // The change's read answers first, the stale one last: the stale one must be dropped.
    s.release(2);
    await change;
    s.release(1);
    await stale;
    expect((await cache.getTenant('a'))?.budget).toBe(0n);
    expect(cache.all.get('a')?.budget).toBe(0n);
    expect(s.reads).toBe(1);
  });
});
