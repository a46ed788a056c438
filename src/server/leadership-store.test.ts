// A deposed leader's store failures answer 503 (UNAVAILABLE), so callers move to another server;
// every other failure, and every result, passes unchanged.
import { describe, expect, it } from 'vitest';
import { conflict } from '../core/errors.js';
import { FENCED } from '../store/index.js';
import type { Store } from '../store/port.js';
import { isDeposed, leaderStore } from './leadership-store.js';

const fence = (): Error => Object.assign(new Error("fenced: epoch 3 is not the leader's (now 4)"), { code: FENCED });

function fake(): Store {
  const sub = { insertSweep: () => Promise.reject(fence()), getSweep: () => Promise.resolve({ id: 'sw1' }) };
  return {
    getTask: () => Promise.resolve({ id: 't1' }),
    insertTasks: () => Promise.reject(fence()),
    listTasks: () => Promise.reject(new Error('PgStore: init() has not run, or the store is closed')),
    upsertTenant: () => Promise.reject(conflict('tenant x already exists')),
    getMeta: () => Promise.reject(new Error('connection terminated unexpectedly')),
    sweeps: () => sub,
  } as unknown as Store;
}

describe('leaderStore', () => {
  it('turns a fence refusal and a closed store into UNAVAILABLE, naming the deposed epoch', async () => {
    const s = leaderStore(fake(), 3);
    await expect(s.insertTasks([])).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringContaining('epoch 3 was deposed') as unknown });
    await expect(s.listTasks()).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringContaining('store is closed') as unknown });
    await expect(s.sweeps().insertSweep({} as never)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });

  it('passes results, typed errors and other failures through unchanged', async () => {
    const s = leaderStore(fake(), 3);
    expect(await s.getTask('t1')).toEqual({ id: 't1' });
    expect(await s.sweeps().getSweep('sw1')).toEqual({ id: 'sw1' });
    await expect(s.upsertTenant({} as never)).rejects.toMatchObject({ code: 'CONFLICT' });
    // A lost connection is the store's trouble, not a deposition: the control loop retries it.
    const other = await s.getMeta('x').catch((e: unknown) => e);
    expect(other).toBeInstanceOf(Error);
    expect(isDeposed(other)).toBe(false);
    expect((other as { code?: unknown }).code).toBeUndefined();
  });
});
