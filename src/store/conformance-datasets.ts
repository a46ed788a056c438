// Conformance tests for datasets (issue 16), registered by storeConformance so both adapters run
// them. Contract points: versions count up per (tenant, name) from 1 and a removed number is never
// given again; the quota check and the insert are one step (concurrent pushes cannot both pass);
// a removal names exactly the chunks no remaining version of the tenant needs.
import { describe, expect, it } from 'vitest';
import type { DatasetManifest } from '../core/data/dataset.js';
import type { DatasetInsert } from './datasets-port.js';
import type { Store } from './port.js';

const h = (c: string): string => c.repeat(64);

/** A version of `files` files, each one chunk of `size` bytes named by the letters given. */
function push(tenant: string, name: string, chunks: string[], size = 10): DatasetInsert {
  const manifest: DatasetManifest = { files: chunks.map((c, i) => ({ path: `f${i}.bin`, size, executable: false, chunks: [{ hash: h(c), size }] })) };
  return { tenant, name, bytes: size * chunks.length, fileCount: chunks.length, createdAt: 1000 + chunks.length, manifest, chunks: [...new Set(chunks.map(h))] };
}

export function datasetConformance(store: () => Store): void {
  describe('datasets', () => {
    it('numbers versions per tenant and name, and reads them back whole', async () => {
      const s = store();
      const v1 = await s.insertDataset(push('a', 'imgs', ['a', 'b']));
      const v2 = await s.insertDataset(push('a', 'imgs', ['a', 'c', 'd']));
      const other = await s.insertDataset(push('b', 'imgs', ['a']));
      expect([v1.version, v2.version, other.version]).toEqual([1, 2, 1]);
      expect(v2).toMatchObject({ tenant: 'a', name: 'imgs', bytes: 30, fileCount: 3, chunkCount: 3, createdAt: 1003 });
      expect(await s.getDataset('a', 'imgs')).toEqual(v2);
      expect(await s.getDataset('a', 'imgs', 1)).toEqual(v1);
      expect((await s.getDataset('a', 'imgs', 1))?.manifest.files[1]).toEqual({ path: 'f1.bin', size: 10, executable: false, chunks: [{ hash: h('b'), size: 10 }] });
      expect(await s.getDataset('a', 'imgs', 3)).toBeNull();
      expect(await s.getDataset('a', 'nope')).toBeNull();
      expect(await s.getDataset('c', 'imgs')).toBeNull();
      expect((await s.listDatasets()).map((d) => `${d.tenant}/${d.name}@${d.version}`)).toEqual(['a/imgs@1', 'a/imgs@2', 'b/imgs@1']);
      expect(await s.listDatasets('b')).toEqual([{ tenant: 'b', name: 'imgs', version: 1, bytes: 10, fileCount: 1, chunkCount: 1, createdAt: 1001 }]);
      expect(await s.datasetBytes('a')).toBe(50);
      expect(await s.datasetBytes('zzz')).toBe(0);
    });

    it('keeps the task that made a version (outputs:), in the version and its listing', async () => {
      const s = store();
      const pushed = await s.insertDataset(push('a', 'out', ['a']));
      const made = await s.insertDataset({ ...push('a', 'out', ['b']), taskId: 't-42' });
      expect(pushed.taskId).toBeUndefined();
      expect(made).toMatchObject({ version: 2, taskId: 't-42' });
      expect(await s.getDataset('a', 'out', 2)).toEqual(made);
      expect((await s.getDataset('a', 'out', 1))?.taskId).toBeUndefined();
      expect((await s.listDatasets('a')).map((d) => [d.version, d.taskId])).toEqual([
        [1, undefined],
        [2, 't-42'],
      ]);
    });

    it('removes a version or a name, naming the chunks nothing else of the tenant needs', async () => {
      const s = store();
      await s.insertDataset(push('a', 'x', ['a', 'b']));
      await s.insertDataset(push('a', 'x', ['b', 'c']));
      await s.insertDataset(push('a', 'y', ['c']));
      await s.insertDataset(push('b', 'x', ['a']));
      expect(await s.deleteDataset('a', 'x', 1)).toEqual({ versions: [1], orphanChunks: [h('a')] });
      expect(await s.chunkReferenced('a', h('a'))).toBe(false);
      expect(await s.chunkReferenced('b', h('a'))).toBe(true);
      expect(await s.deleteDataset('a', 'x', 1)).toBeNull();
      expect(await s.deleteDataset('a', 'x')).toEqual({ versions: [2], orphanChunks: [h('b')] });
      expect(await s.chunkReferenced('a', h('c'))).toBe(true);
      expect(await s.deleteDataset('a', 'x')).toBeNull();
      // A removed number is not given again.
      expect((await s.insertDataset(push('a', 'x', ['a']))).version).toBe(3);
      expect(await s.datasetBytes('a')).toBe(20);
    });

    it('refuses a version over the quota and writes nothing; removal frees room', async () => {
      const s = store();
      expect(await s.getDatasetQuota('a')).toBeNull();
      await s.setDatasetQuota('a', 25);
      expect(await s.getDatasetQuota('a')).toBe(25);
      await s.insertDataset(push('a', 'x', ['a', 'b']));
      await expect(s.insertDataset(push('a', 'y', ['c']))).rejects.toMatchObject({ code: 'RESOURCE_EXHAUSTED', message: expect.stringMatching(/quota of tenant a exceeded: 20 bytes stored \+ 10 new > limit 25/) });
      expect((await s.listDatasets('a')).length).toBe(1);
      expect(await s.chunkReferenced('a', h('c'))).toBe(false);
      // The failed push used no version number.
      await s.deleteDataset('a', 'x');
      expect((await s.insertDataset(push('a', 'y', ['c']))).version).toBe(1);
      await s.setDatasetQuota('a', null);
      expect(await s.getDatasetQuota('a')).toBeNull();
      await s.insertDataset(push('a', 'z', ['d', 'e', 'f']));
    });

    it('lets only as many concurrent pushes pass as the quota holds, each with its own number', async () => {
      const s = store();
      await s.setDatasetQuota('q', 50);
      const tries = await Promise.allSettled(Array.from({ length: 8 }, () => s.insertDataset(push('q', 'n', ['a']))));
      const ok = tries.filter((t) => t.status === 'fulfilled').map((t) => (t as PromiseFulfilledResult<{ version: number }>).value.version);
      expect(ok.sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5]);
      expect(await s.datasetBytes('q')).toBe(50);
    });
  });
}
