// Conformance tests for idempotency keys (issue 9: a retried submit answers the first one's
// tasks, also after a server restart), registered by storeConformance so every adapter runs them.
//
// Contract points the port's types do not spell out, and that this suite pins down:
// - A key is written by commitBatch with the tasks it answers, all or nothing: a live duplicate
//   (same scope and key) fails the whole batch with CONFLICT and none of its tasks is stored.
// - A record counts until its expiresAt (exclusive); an expired one reads as absent and is
//   replaced by the next batch that carries the key.
// - Keys of different scopes never meet; `pruneIdempotencyKeys` deletes expired records only,
//   at most `limit` of them.
import { describe, expect, it } from 'vitest';
import type { Task } from '../core/types.js';
import type { IdempotencyRecord, Store } from './port.js';

const T0 = Date.UTC(2025, 2, 1);
const DAY = 86_400_000;

const rec = (key: string, o: Partial<IdempotencyRecord> = {}): IdempotencyRecord => ({
  scope: 'tok-1',
  key,
  requestHash: 'a'.repeat(64),
  taskIds: ['t-a'],
  createdAt: T0,
  expiresAt: T0 + DAY,
  ...o,
});

/** `fixtureTask`: conformance.ts's task fixture (passed in: that file registers this one). */
export function idempotencyConformance(store: () => Store, fixtureTask: (id: string) => Task): void {
  describe('idempotency keys', () => {
    it('are stored with their tasks and read back until they expire', async () => {
      const s = store();
      const r = rec('k-1', { taskIds: ['t-a', 't-b'] });
      await s.commitBatch({ newTasks: [fixtureTask('t-a'), fixtureTask('t-b')], idempotencyKeys: [r] });
      expect(await s.getIdempotencyKey('tok-1', 'k-1', T0 + 1)).toEqual(r);
      expect(await s.getIdempotencyKey('tok-1', 'k-1', T0 + DAY - 1)).toEqual(r);
      expect(await s.getIdempotencyKey('tok-1', 'k-1', T0 + DAY)).toBeNull();
      // Another scope, another key: nothing.
      expect(await s.getIdempotencyKey('tok-2', 'k-1', T0)).toBeNull();
      expect(await s.getIdempotencyKey('tok-1', 'k-2', T0)).toBeNull();
    });

    it('a live duplicate fails the whole batch with CONFLICT: none of its tasks is stored', async () => {
      const s = store();
      await s.commitBatch({ newTasks: [fixtureTask('t-a')], idempotencyKeys: [rec('k-1')] });
      await expect(s.commitBatch({ newTasks: [fixtureTask('t-c')], idempotencyKeys: [rec('k-1', { taskIds: ['t-c'], createdAt: T0 + 5 })] })).rejects.toMatchObject({
        code: 'CONFLICT',
      });
      expect(await s.getTask('t-c')).toBeNull();
      expect((await s.getIdempotencyKey('tok-1', 'k-1', T0 + 10))?.taskIds).toEqual(['t-a']);
      // The same key under another scope is another key.
      await s.commitBatch({ newTasks: [fixtureTask('t-d')], idempotencyKeys: [rec('k-1', { scope: 'tok-2', taskIds: ['t-d'] })] });
      expect((await s.getIdempotencyKey('tok-2', 'k-1', T0 + 10))?.taskIds).toEqual(['t-d']);
    });

    it('a batch of several submits with events, one key of it held: nothing stored, the held key named', async () => {
      const s = store();
      await s.commitBatch({ newTasks: [fixtureTask('t-a')], idempotencyKeys: [rec('k-1')] });
      const before = (await s.listEvents(0, 1000)).length;
      const submitted = (taskId: string) => ({ at: T0 + 5, type: 'task.submitted' as const, taskId, data: {} });
      await expect(
        s.commitBatch({
          newTasks: [fixtureTask('t-f'), fixtureTask('t-g')],
          idempotencyKeys: [rec('k-2', { taskIds: ['t-f'], createdAt: T0 + 5 }), rec('k-1', { taskIds: ['t-g'], createdAt: T0 + 5 })],
          events: [submitted('t-f'), submitted('t-g')],
        }),
      ).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringContaining('"k-1"') as unknown });
      expect(await s.getTask('t-f')).toBeNull();
      expect(await s.getTask('t-g')).toBeNull();
      expect(await s.getIdempotencyKey('tok-1', 'k-2', T0 + 10)).toBeNull();
      expect(await s.listEvents(0, 1000)).toHaveLength(before);
      // The same batch without the held key goes in whole, events numbered after the earlier ones.
      const r = await s.commitBatch({
        newTasks: [fixtureTask('t-f')],
        idempotencyKeys: [rec('k-2', { taskIds: ['t-f'], createdAt: T0 + 5 })],
        events: [submitted('t-f')],
      });
      expect(r.events.map((e) => e.taskId)).toEqual(['t-f']);
      expect((await s.getIdempotencyKey('tok-1', 'k-2', T0 + 10))?.taskIds).toEqual(['t-f']);
    });

    it('an expired key is replaced by the next batch that carries it', async () => {
      const s = store();
      await s.commitBatch({ newTasks: [fixtureTask('t-a')], idempotencyKeys: [rec('k-1')] });
      const again = rec('k-1', { taskIds: ['t-e'], requestHash: 'b'.repeat(64), createdAt: T0 + DAY, expiresAt: T0 + 2 * DAY });
      await s.commitBatch({ newTasks: [fixtureTask('t-e')], idempotencyKeys: [again] });
      expect(await s.getIdempotencyKey('tok-1', 'k-1', T0 + DAY + 1)).toEqual(again);
    });

    it('pruning deletes expired records only, at most `limit` at a time', async () => {
      const s = store();
      const keys = [rec('old-1', { expiresAt: T0 + 10 }), rec('old-2', { expiresAt: T0 + 20 }), rec('old-3', { expiresAt: T0 + 30 }), rec('live')];
      await s.commitBatch({ newTasks: [fixtureTask('t-a')], idempotencyKeys: keys });
      expect(await s.pruneIdempotencyKeys(T0 + 100, 2)).toBe(2);
      expect(await s.pruneIdempotencyKeys(T0 + 100)).toBe(1);
      expect(await s.pruneIdempotencyKeys(T0 + 100)).toBe(0);
      expect((await s.getIdempotencyKey('tok-1', 'live', T0 + 100))?.key).toBe('live');
    });
  });
}
