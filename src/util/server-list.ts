// Several server URLs (`--server http://a:7070,http://b:7070`, FASTGPU_URL likewise): clients and
// agents send to one, and move to the next when it cannot be reached or answers 503 (a server
// stopping, or a follower with no leader to forward to). Any server answers the whole API, so
// the order is only a preference; the last one that worked is tried first next time.

/** Splits a comma-separated list of URLs; empty items are an error naming the list. */
export function splitServerUrls(raw: string): string[] {
  const parts = raw.split(',').map((s) => s.trim());
  if (parts.length === 0 || parts.some((p) => p === '')) throw new Error(`${JSON.stringify(raw)} has an empty server address (separate several with commas, no empty items)`);
  return parts;
}

/** The outcome of one try, for `failover` to judge. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

export class ServerList {
  private i = 0;

  constructor(readonly urls: readonly string[]) {
    if (urls.length === 0) throw new Error('ServerList: no server URL');
  }

  /** The URL tried first. */
  get current(): string {
    return this.urls[this.i] ?? this.urls[0]!;
  }

  /** All of them, as given: `http://a:7070,http://b:7070`. */
  toString(): string {
    return this.urls.join(',');
  }

  /**
   * Runs `attempt` on the current URL, then on each other one in turn while `failover` says the
   * outcome is the server's fault; returns (or throws) the first outcome it accepts, or the last.
   * @example await list.run((base) => fetch(base + '/healthz'), (o) => !o.ok || o.value.status === 503)
   */
  async run<T>(attempt: (base: string) => Promise<T>, failover: (o: Outcome<T>) => boolean): Promise<T> {
    let last: Outcome<T> = { ok: false, error: new Error('no server tried') };
    for (let k = 0; k < this.urls.length; k++) {
      const idx = (this.i + k) % this.urls.length;
      const base = this.urls[idx]!;
      try {
        last = { ok: true, value: await attempt(base) };
      } catch (error) {
        last = { ok: false, error };
      }
      if (!failover(last) || this.urls.length === 1) {
        this.i = idx;
        break;
      }
    }
    if (!last.ok) throw last.error;
    return last.value;
  }
}
