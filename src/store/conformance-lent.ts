// Store conformance for nodes that providers lent (issue 12), run on both adapters from
// storeConformance: a save inserts or fills in what is still unset (the first time wins), and
// the list returns the nodes lent at some time in a period, oldest request first.
import { describe, expect, it } from 'vitest';
import type { LentNodeRecord } from './lent-port.js';
import type { Store } from './port.js';

const T0 = 1_700_000_000_000;

const lent = (providerId: string, o: Partial<LentNodeRecord> = {}): LentNodeRecord => ({
  provider: 'slurm',
  providerId,
  nodeName: `slurm-${providerId}`,
  shape: 'gpu:4xA100-80GB:8c:8000m',
  hourlyMicros: 3_500_000n,
  requestedAt: T0,
  joinedAt: null,
  drainingAt: null,
  releasedAt: null,
  releaseReason: null,
  ...o,
});

export function lentConformance(store: () => Store): void {
  describe('lent nodes', () => {
    it('stores a node as given, then fills in its times once each: a later or repeated write moves none', async () => {
      const s = store();
      await s.saveLentNode(lent('41'));
      expect(await s.listLentNodes()).toEqual([lent('41')]);
      await s.saveLentNode(lent('41', { joinedAt: T0 + 5_000 }));
      await s.saveLentNode(lent('41', { joinedAt: T0 + 9_000, drainingAt: T0 + 60_000 }));
      await s.saveLentNode(lent('41', { joinedAt: T0 + 9_000, releasedAt: T0 + 70_000, releaseReason: 'drained and empty' }));
      await s.saveLentNode(lent('41', { releasedAt: T0 + 99_000, releaseReason: 'ended: CANCELLED' }));
      expect(await s.listLentNodes()).toEqual([lent('41', { joinedAt: T0 + 5_000, drainingAt: T0 + 60_000, releasedAt: T0 + 70_000, releaseReason: 'drained and empty' })]);
    });

    it('keeps providers apart, prices as given (none included), and lists oldest request first', async () => {
      const s = store();
      await s.saveLentNode(lent('7', { requestedAt: T0 + 2 }));
      await s.saveLentNode(lent('7', { provider: 'local', nodeName: 'local-7', hourlyMicros: null, requestedAt: T0 + 1 }));
      await s.saveLentNode(lent('8', { hourlyMicros: 123_456_789_012n }));
      expect((await s.listLentNodes()).map((n) => [n.provider, n.providerId, n.hourlyMicros])).toEqual([
        ['slurm', '8', 123_456_789_012n],
        ['local', '7', null],
        ['slurm', '7', 3_500_000n],
      ]);
    });

    it('lists the nodes lent at some time in [from, to)', async () => {
      const s = store();
      await s.saveLentNode(lent('a', { requestedAt: T0, releasedAt: T0 + 100 }));
      await s.saveLentNode(lent('b', { requestedAt: T0 + 50, releasedAt: T0 + 200 }));
      await s.saveLentNode(lent('c', { requestedAt: T0 + 300 }));
      const ids = async (from?: number, to?: number) =>
        (await s.listLentNodes({ ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}) })).map((n) => n.providerId);
      expect(await ids()).toEqual(['a', 'b', 'c']);
      expect(await ids(T0 + 100)).toEqual(['b', 'c']);
      expect(await ids(T0 + 100, T0 + 300)).toEqual(['b']);
      expect(await ids(undefined, T0 + 50)).toEqual(['a']);
      expect(await ids(T0 + 1_000)).toEqual(['c']);
    });
  });
}
