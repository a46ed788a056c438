// Group commit's grouping: one write in flight, everything that arrives meanwhile in the next
// group, groups capped by size without splitting an item, a failed group retried item by item.
import { describe, expect, it } from 'vitest';
import { GroupCommit } from './group-commit.js';

/** A writer whose writes finish only when the test says so. */
function heldWriter(fails: (items: readonly number[]) => boolean = () => false) {
  const writes: { items: number[]; finish: () => void }[] = [];
  return {
    writes,
    write: (items: readonly number[]) =>
      new Promise<void>((resolve, reject) => {
        writes.push({ items: [...items], finish: () => (fails(items) ? reject(new Error(`cannot write ${items.join(',')}`)) : resolve()) });
      }),
  };
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('GroupCommit', () => {
  it('writes one group at a time; what arrives meanwhile waits and goes in the next group, capped without splitting an item', async () => {
    const w = heldWriter();
    const gc = new GroupCommit<number>({ write: w.write, size: (n) => n, maxSize: 10 });
    const done: number[] = [];
    const add = (n: number): Promise<void> => gc.add(n).then(() => void done.push(n));
    const first = [add(1), add(2)];
    await turn();
    expect(w.writes.map((x) => x.items)).toEqual([[1, 2]]);
    expect(gc.busy).toBe(true);
    // While [1, 2] is written: five more, one larger than the cap.
    const rest = [add(3), add(4), add(5), add(12), add(6)];
    await turn();
    expect(w.writes).toHaveLength(1);
    w.writes[0]!.finish();
    await Promise.all(first);
    await turn();
    // 3 + 4 = 7, and 5 would pass 10: the group stops.
    expect(w.writes.map((x) => x.items)).toEqual([[1, 2], [3, 4]]);
    w.writes[1]!.finish();
    await turn();
    expect(w.writes[2]!.items).toEqual([5]);
    w.writes[2]!.finish();
    await turn();
    // An item larger than the cap is a group of its own.
    expect(w.writes[3]!.items).toEqual([12]);
    w.writes[3]!.finish();
    await turn();
    expect(w.writes[4]!.items).toEqual([6]);
    w.writes[4]!.finish();
    await Promise.all(rest);
    await gc.idle();
    expect(gc.busy).toBe(false);
    expect(done).toEqual([1, 2, 3, 4, 5, 12, 6]);
  });

  it('a failed group is written again one item at a time: only the bad item fails, with its own error', async () => {
    const w = heldWriter((items) => items.includes(13));
    const failed: number[] = [];
    const gc = new GroupCommit<number>({ write: w.write, size: () => 1, maxSize: 100, onFailed: (n) => failed.push(n) });
    const results = [1, 13, 2].map((n) => gc.add(n).then(
      () => 'ok',
      (e: unknown) => (e as Error).message,
    ));
    for (let i = 0; i < 4; i++) {
      await turn();
      w.writes.at(-1)?.finish();
    }
    expect(await Promise.all(results)).toEqual(['ok', 'cannot write 13', 'ok']);
    expect(w.writes.map((x) => x.items)).toEqual([[1, 13, 2], [1], [13], [2]]);
    expect(failed).toEqual([13]);
  });

  it('a group of one that fails is not written again', async () => {
    const w = heldWriter(() => true);
    const gc = new GroupCommit<number>({ write: w.write, size: () => 1, maxSize: 100 });
    const r = gc.add(7).catch((e: unknown) => (e as Error).message);
    await turn();
    w.writes[0]!.finish();
    expect(await r).toBe('cannot write 7');
    expect(w.writes).toHaveLength(1);
  });
});
