// A small work pool: `inParallel(items, n, fn)` runs fn over items with at most n at once.

/** Runs `fn` over `items`, at most `n` at once; the first failure stops new starts and is thrown once all running ones end. */
export async function inParallel<T>(items: readonly T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: { e: unknown } | null = null;
  const worker = async (): Promise<void> => {
    while (failed === null && next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (e) {
        failed ??= { e };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(n, items.length)) }, worker));
  if (failed !== null) throw (failed as { e: unknown }).e;
}
