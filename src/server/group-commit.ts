// Group commit for submits: every submit that arrives while one store transaction is being
// written goes into the next one, so N concurrent submits cost about one transaction (one fsync,
// one round trip) instead of N. One transaction is in flight at a time: that is what lets the next
// group grow while the store works (several small transactions queued behind each other would
// each pay the round trip, which is what the server did before: 3,000 submits made 2,780
// transactions). A group that fails is retried one submit at a time, so that one bad submit (a
// duplicate id, a key taken meanwhile) fails alone, with its own error, and nothing half-written:
// each write is one transaction, all or nothing.

interface Entry<T> {
  item: T;
  resolve: () => void;
  reject: (e: unknown) => void;
}

export interface GroupCommitOptions<T> {
  /** Writes a group in one transaction; rejects with nothing written. */
  write: (items: readonly T[]) => Promise<void>;
  /** The size of an item (tasks in a submit): a group stops growing at `maxSize`, never splitting an item. */
  size: (item: T) => number;
  maxSize: number;
  /** How a submit that failed on its own is logged. */
  onFailed?: (item: T, e: unknown) => void;
}

export class GroupCommit<T> {
  private queue: Entry<T>[] = [];
  private running: Promise<void> | null = null;

  constructor(private readonly o: GroupCommitOptions<T>) {}

  /** Resolves once `item` is written (in some group), rejects with its own error. */
  add(item: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      // The first of a burst waits for the I/O callbacks of this turn of the event loop (the other
      // requests already read), so that even the first group is not a group of one.
      this.running ??= new Promise<void>((r) => setImmediate(r)).then(() => this.run());
    });
  }

  /** Submits queued or being written. */
  get busy(): boolean {
    return this.running !== null;
  }

  /** Resolves once every submit added so far is written or failed. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async run(): Promise<void> {
    try {
      while (this.queue.length > 0) await this.writeGroup(this.take());
    } finally {
      this.running = null;
    }
  }

  /** The next group: queued submits, oldest first, up to maxSize (at least one). */
  private take(): Entry<T>[] {
    let size = 0;
    let n = 0;
    while (n < this.queue.length && (n === 0 || size + this.o.size(this.queue[n]!.item) <= this.o.maxSize)) {
      size += this.o.size(this.queue[n]!.item);
      n++;
    }
    return this.queue.splice(0, n);
  }

  private async writeGroup(group: Entry<T>[]): Promise<void> {
    try {
      await this.o.write(group.map((e) => e.item));
      for (const e of group) e.resolve();
      return;
    } catch (e) {
      if (group.length === 1) {
        this.o.onFailed?.(group[0]!.item, e);
        group[0]!.reject(e);
        return;
      }
    }
    // One bad submit must not sink the others: each on its own.
    for (const e of group) {
      try {
        await this.o.write([e.item]);
        e.resolve();
      } catch (err) {
        this.o.onFailed?.(e.item, err);
        e.reject(err);
      }
    }
  }
}
