// Caches that placement policies keep between calls, held by the caller (the scheduler, the
// simulator) rather than by the policy modules, so that `core` keeps no state between calls and
// two pools in one process never share (or leak) each other's memos. A policy given no memos
// computes from scratch: slower, same result.
import type { PolicyMemoStore } from './types.js';

/** One store per scheduler or simulator run; each policy keeps its memos under its own key. */
export class PlacementMemos implements PolicyMemoStore {
  private readonly byKey = new Map<string, unknown>();

  get<T>(key: string, make: () => T): T {
    let v = this.byKey.get(key) as T | undefined;
    if (v === undefined) {
      v = make();
      this.byKey.set(key, v);
    }
    return v;
  }
}
