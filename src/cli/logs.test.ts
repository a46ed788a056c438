import { describe, expect, it } from 'vitest';
import { LastLines, logWriter } from './logs.js';

function capture(): { ctx: { stdout: { write(s: string): void }; stderr: { write(s: string): void } }; out: () => string; err: () => string } {
  let o = '';
  let e = '';
  return { ctx: { stdout: { write: (s) => (o += s) }, stderr: { write: (s) => (e += s) } }, out: () => o, err: () => e };
}

describe('logWriter', () => {
  it('stamps each line once, even split across chunks, per stream', () => {
    const c = capture();
    const w = logWriter(c.ctx, true);
    w.write({ stream: 'stdout', data: 'a\nb', at: 'T1' });
    w.write({ stream: 'stderr', data: 'x\n', at: 'T2' });
    w.write({ stream: 'stdout', data: 'c\nd\n', at: 'T3' });
    w.write({ stream: 'stdout', data: 'e', at: 'T4' });
    w.flush();
    expect(c.out()).toBe('T1 a\nT1 bc\nT3 d\nT4 e\n');
    expect(c.err()).toBe('T2 x\n');
  });

  it('writes chunks as they are without timestamps', () => {
    const c = capture();
    const w = logWriter(c.ctx, false);
    w.write({ stream: 'stdout', data: 'a\nb', at: 'T1' });
    w.flush();
    expect(c.out()).toBe('a\nb');
  });
});

describe('LastLines', () => {
  it('keeps the last n lines across chunks and streams, joining a line split over chunks', () => {
    const l = new LastLines(3);
    l.add({ stream: 'stdout', data: '1\n2\n3' });
    l.add({ stream: 'stdout', data: 'x\n4\n' });
    l.add({ stream: 'stderr', data: 'e\n' });
    expect(l.chunks().map((c) => c.data)).toEqual(['3x\n', '4\n', 'e\n']);
    expect(new LastLines(0).chunks()).toEqual([]);
  });

  it('holds only the tail of a long history', () => {
    const l = new LastLines(2);
    for (let i = 0; i < 10_000; i++) l.add({ stream: 'stdout', data: `${i}\n` });
    expect(l.chunks().map((c) => c.data)).toEqual(['9998\n', '9999\n']);
  });
});
