// The leader's store, as its control plane and API see it: every failure that means "this server
// no longer leads" (the database refused a write fenced with a deposed epoch, or the store was
// closed under a request when the control plane shut down) becomes UNAVAILABLE, a 503. Agents,
// the CLI and the SDKs move to the next server on a 503 at once; a 500 or a 409 would make them
// wait for their next try, or give up (an agent drops log chunks a server refuses for good). The
// control loop also stops retrying such a write: the deposed control plane is closing.
import { FastGpuError } from '../core/errors.js';
import { FENCED } from '../store/index.js';
import type { Store } from '../store/port.js';

/** Whether `e` says the leader was deposed or its store closed (not a fault of the request). */
export function isDeposed(e: unknown): boolean {
  if (e instanceof FastGpuError) return false;
  const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  if (code === FENCED) return true;
  return e instanceof Error && /store is closed/.test(e.message);
}

function translated(e: unknown, epoch: number): unknown {
  if (!isDeposed(e)) return e;
  return new FastGpuError('UNAVAILABLE', `this server no longer leads the pool (its epoch ${epoch} was deposed): retry, another server answers (${(e as Error).message})`);
}

function wrap<T extends object>(target: T, epoch: number): T {
  return new Proxy(target, {
    get(t, key, receiver) {
      const v: unknown = Reflect.get(t, key, receiver);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]): unknown => {
        let r: unknown;
        try {
          r = (v as (...a: unknown[]) => unknown).apply(t, args);
        } catch (e) {
          throw translated(e, epoch);
        }
        if (r instanceof Promise) return r.catch((e: unknown) => Promise.reject(translated(e, epoch)));
        // Sub-stores (`sweeps()`) answer the same way.
        if (key === 'sweeps' && typeof r === 'object' && r !== null) return wrap(r, epoch);
        return r;
      };
    },
  });
}

/** `store` (fenced with `epoch`) with a deposed leader's failures as UNAVAILABLE. */
export function leaderStore(store: Store, epoch: number): Store {
  return wrap(store, epoch);
}
