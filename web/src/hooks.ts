// Data hooks: fetch once, then again whenever a watched topic changes. One fetch at a time per
// view; a change during a fetch triggers exactly one more.
import { useEffect, useRef, useState } from 'preact/hooks';
import { watch, type Topic } from './live.js';

export interface Live<T> {
  data: T | null;
  error: Error | null;
  /** Fetch again now. */
  reload(): void;
}

export function useLive<T>(fetcher: (signal: AbortSignal) => Promise<T>, topics: readonly Topic[], deps: readonly unknown[]): Live<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const reloadRef = useRef<() => void>(() => {});

  useEffect(() => {
    const ctl = new AbortController();
    let running = false;
    let again = false;
    const run = async (): Promise<void> => {
      if (running) {
        again = true;
        return;
      }
      running = true;
      try {
        do {
          again = false;
          try {
            const v = await fetcher(ctl.signal);
            if (ctl.signal.aborted) return;
            setData(v);
            setError(null);
          } catch (e) {
            if (ctl.signal.aborted) return;
            setError(e instanceof Error ? e : new Error(String(e)));
          }
        } while (again && !ctl.signal.aborted);
      } finally {
        running = false;
      }
    };
    reloadRef.current = () => void run();
    void run();
    const offs = topics.map((t) => watch(t, () => void run()));
    return () => {
      ctl.abort();
      for (const off of offs) off();
    };
  }, deps);

  return { data, error, reload: () => reloadRef.current() };
}

/** The current hash route, e.g. `#/tasks/t_1` → ['tasks', 't_1']. */
export function useRoute(): string[] {
  const parse = (): string[] => {
    const h = location.hash.replace(/^#\/?/, '').split('?')[0] ?? '';
    return h.split('/').filter((s) => s !== '').map(decodeURIComponent);
  };
  const [route, setRoute] = useState(parse);
  useEffect(() => {
    const f = (): void => setRoute(parse());
    addEventListener('hashchange', f);
    return () => removeEventListener('hashchange', f);
  }, []);
  return route;
}

/** Query parameters of the hash route (`#/tasks?state=RUNNING`). */
export function hashQuery(): URLSearchParams {
  const i = location.hash.indexOf('?');
  return new URLSearchParams(i < 0 ? '' : location.hash.slice(i + 1));
}
