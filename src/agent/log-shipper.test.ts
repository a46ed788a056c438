import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LogShipper, utf8Boundary, type ShippedChunk } from './log-shipper.js';
import { tempDir } from './fixtures/helpers.js';
import { ManualClock } from '../util/clock.js';

/** A server's log store: keeps the first chunk per seq, checks duplicates are identical and seqs gap-free. */
class FakeLogStore {
  readonly chunks = new Map<string, ShippedChunk[]>();
  duplicates = 0;
  failNext = 0;
  sent: ShippedChunk[][] = [];
  send = async (batch: ShippedChunk[]): Promise<void> => {
    this.sent.push(batch);
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('server unavailable');
    }
    for (const c of batch) {
      const k = `${c.taskId}/${c.attempt}/${c.stream}`;
      const list = this.chunks.get(k) ?? [];
      const have = list[c.seq];
      if (have) {
        expect(c).toEqual(have);
        this.duplicates++;
      } else {
        expect(c.seq).toBe(list.length);
        list.push(c);
      }
      this.chunks.set(k, list);
    }
    await Promise.resolve();
  };
  text(taskId: string, stream: string, attempt = 1): string {
    return (this.chunks.get(`${taskId}/${attempt}/${stream}`) ?? []).map((c) => c.data).join('');
  }
}

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.cleanup());

describe('utf8Boundary', () => {
  it('never splits a character', () => {
    const b = Buffer.from('aé€😀');
    // a(1) é(2) €(3) 😀(4)
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((n) => utf8Boundary(b, n))).toEqual([1, 1, 3, 3, 3, 6, 6, 6, 6, 10]);
    expect(utf8Boundary(Buffer.from([0x80, 0x80]), 1)).toBe(1);
  });
});

describe('LogShipper', () => {
  it('ships a real 5,000-line output with unicode complete, in order, cut at newlines', async () => {
    const script = 'i=0; while [ $i -lt 5000 ]; do echo "line $i: héllo wörld ✓ 日本語 🚀"; i=$((i+1)); done; echo "to stderr ✗" >&2';
    execFileSync('sh', ['-c', `(${script}) > stdout.log 2> stderr.log`], { cwd: tmp.dir });
    const store = new FakeLogStore();
    const shipper = new LogShipper({ send: store.send, maxChunkBytes: 16 * 1024 });
    await shipper.track('t1', 1, tmp.dir);
    shipper.markFinal('t1', 1);
    for (let i = 0; i < 20 && !(await shipper.drained('t1', 1)); i++) await shipper.pump();
    expect(await shipper.drained('t1', 1)).toBe(true);
    expect(store.text('t1', 'stdout')).toBe(readFileSync(join(tmp.dir, 'stdout.log'), 'utf8'));
    expect(store.text('t1', 'stderr')).toBe('to stderr ✗\n');
    const chunks = store.chunks.get('t1/1/stdout')!;
    expect(chunks.length).toBeGreaterThan(10);
    for (const c of chunks) {
      expect(Buffer.byteLength(c.data)).toBeLessThanOrEqual(16 * 1024);
      expect(c.data.endsWith('\n')).toBe(true);
    }
    expect(chunks.map((c) => c.seq)).toEqual(chunks.map((_, i) => i));
    expect(store.duplicates).toBe(0);
  });

  it('cuts a long line without newlines at character boundaries', async () => {
    const text = '日本語🚀é'.repeat(20_000);
    writeFileSync(join(tmp.dir, 'stdout.log'), text);
    const store = new FakeLogStore();
    const shipper = new LogShipper({ send: store.send, maxChunkBytes: 1000 });
    await shipper.track('t', 1, tmp.dir);
    shipper.markFinal('t', 1);
    while (!(await shipper.drained('t', 1))) await shipper.pump();
    expect(store.text('t', 'stdout')).toBe(text);
    for (const c of store.chunks.get('t/1/stdout')!) {
      expect(c.data).not.toContain('\uFFFD');
      expect(Buffer.byteLength(c.data)).toBeLessThanOrEqual(1000);
    }
  });

  it('holds a partial line briefly, then ships it', async () => {
    const clock = new ManualClock();
    const store = new FakeLogStore();
    const shipper = new LogShipper({ send: store.send, clock, partialFlushMs: 200 });
    await shipper.track('t', 1, tmp.dir);
    writeFileSync(join(tmp.dir, 'stdout.log'), 'first\nprogress 10%');
    await shipper.pump();
    expect(store.text('t', 'stdout')).toBe('first\n');
    clock.advance(100);
    await shipper.pump();
    expect(store.text('t', 'stdout')).toBe('first\n');
    clock.advance(100);
    await shipper.pump();
    expect(store.text('t', 'stdout')).toBe('first\nprogress 10%');
    appendFileSync(join(tmp.dir, 'stdout.log'), ' 20%\ndone\n');
    await shipper.pump();
    expect(store.text('t', 'stdout')).toBe('first\nprogress 10% 20%\ndone\n');
  });

  it('after a crash, re-sends exactly the journalled chunks the server may not have', async () => {
    const clock = new ManualClock();
    writeFileSync(join(tmp.dir, 'stdout.log'), 'a\nb\n');
    const store = new FakeLogStore();
    const first = new LogShipper({ send: store.send, clock });
    await first.track('t', 1, tmp.dir);
    await first.pump();
    // More output; the server is down while it is cut and sent; then the agent dies.
    appendFileSync(join(tmp.dir, 'stdout.log'), 'c\nd\n');
    store.failNext = 1;
    clock.advance(1000);
    await expect(first.pump()).rejects.toThrow('server unavailable');
    const lost = store.sent.at(-1)!;
    expect(lost).toEqual([{ taskId: 't', attempt: 1, stream: 'stdout', seq: 1, at: clock.now(), data: 'c\nd\n' }]);
    // Even more output arrives while no agent runs.
    appendFileSync(join(tmp.dir, 'stdout.log'), 'e\n');

    clock.advance(5000);
    const second = new LogShipper({ send: store.send, clock });
    await second.track('t', 1, tmp.dir);
    await second.pump();
    // seq 1 again with the same bytes and time, then the new output as seq 2; seq 0 not again.
    expect(store.sent.at(-1)!.map((c) => [c.seq, c.data, c.at])).toEqual([
      [1, 'c\nd\n', lost[0]!.at],
      [2, 'e\n', clock.now()],
    ]);
    expect(store.text('t', 'stdout')).toBe('a\nb\nc\nd\ne\n');
    expect(readFileSync(join(tmp.dir, 'stdout.shipped'), 'utf8').trim().split('\n').map((l) => l.split(' ').slice(0, 3).join(' '))).toEqual(['0 0 4', '1 4 8', '2 8 10']);
  });

  it('a send that landed but whose ack was lost is re-sent as the same chunk', async () => {
    writeFileSync(join(tmp.dir, 'stdout.log'), 'x\n');
    const store = new FakeLogStore();
    const a = new LogShipper({ send: store.send });
    await a.track('t', 1, tmp.dir);
    await a.pump();
    // The agent died after the server stored seq 0 but before it wrote stdout.acked.
    writeFileSync(join(tmp.dir, 'stdout.acked'), '-1');
    const b = new LogShipper({ send: store.send });
    await b.track('t', 1, tmp.dir);
    await b.pump();
    expect(store.duplicates).toBe(1);
    expect(store.text('t', 'stdout')).toBe('x\n');
  });

  it('ignores a journal line torn by a crash', async () => {
    writeFileSync(join(tmp.dir, 'stdout.log'), 'one\ntwo\n');
    writeFileSync(join(tmp.dir, 'stdout.shipped'), '0 0 4 1\n1 4');
    const store = new FakeLogStore();
    const s = new LogShipper({ send: store.send });
    await s.track('t', 1, tmp.dir);
    await s.pump();
    expect(store.chunks.get('t/1/stdout')!.map((c) => c.data)).toEqual(['one\n', 'two\n']);
    expect(readFileSync(join(tmp.dir, 'stdout.shipped'), 'utf8')).toMatch(/^0 0 4 1\n1 4 8 \d+\n$/);
  });

  it('pumps asked for while one waits to start share it, and it still covers their output', async () => {
    writeFileSync(join(tmp.dir, 'stdout.log'), 'a\n');
    const store = new FakeLogStore();
    let release: () => void = () => {};
    let inSend: () => void = () => {};
    const sending = new Promise<void>((r) => (inSend = r));
    let sends = 0;
    const shipper = new LogShipper({
      send: async (batch) => {
        sends++;
        if (sends === 1) {
          inSend();
          await new Promise<void>((r) => (release = r)); // the first send hangs
        }
        await store.send(batch);
      },
    });
    await shipper.track('t', 1, tmp.dir);
    const first = shipper.pump();
    await sending; // the first pump is now in its send
    appendFileSync(join(tmp.dir, 'stdout.log'), 'b\n');
    const waiting = Array.from({ length: 20 }, () => shipper.pump());
    expect(new Set(waiting).size).toBe(1);
    expect(waiting[0]).not.toBe(first);
    release();
    await Promise.all([first, ...waiting]);
    expect(sends).toBe(2);
    expect(store.text('t', 'stdout')).toBe('a\nb\n');
    // Once that shared pump started, a new call queues a new one.
    appendFileSync(join(tmp.dir, 'stdout.log'), 'c\n');
    await shipper.pump();
    expect(store.text('t', 'stdout')).toBe('a\nb\nc\n');
  });

  it('stops cutting while the server is down, so memory and journal stay bounded', async () => {
    writeFileSync(join(tmp.dir, 'stdout.log'), 'line\n'.repeat(10_000));
    const store = new FakeLogStore();
    store.failNext = 100;
    const s = new LogShipper({ send: store.send, maxChunkBytes: 100, maxBacklog: 4 });
    await s.track('t', 1, tmp.dir);
    for (let i = 0; i < 5; i++) await expect(s.pump()).rejects.toThrow();
    expect(readFileSync(join(tmp.dir, 'stdout.shipped'), 'utf8').trim().split('\n')).toHaveLength(4);
    store.failNext = 0;
    s.markFinal('t', 1);
    while (!(await s.drained('t', 1))) await s.pump();
    expect(store.text('t', 'stdout')).toBe('line\n'.repeat(10_000));
  });
});
