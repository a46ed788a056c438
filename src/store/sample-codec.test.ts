import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../core/placement/rng.js';
import { ByteWriter, packColumn, packDeltas, skipDeltas, unpackColumn, unpackDeltas } from './sample-codec.js';

const rng = mulberry32;

/** Columns of every shape the codec meets: constant, steady steps, noise, rare jumps, huge values, multiples. */
function columns(seed: number): number[][] {
  const r = rng(seed);
  const n = 1 + Math.floor(r() * 200);
  const int = (lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
  const at = (f: (k: number) => number): number[] => Array.from({ length: n }, (_, k) => f(k));
  const jumpy = at(() => (r() < 0.05 ? int(-(2 ** 40), 2 ** 40) : int(-3, 3)));
  return [
    at(() => 7),
    at((k) => k * 5000 + int(0, 3)),
    at(() => int(0, 1000)),
    at(() => int(-(2 ** 51), 2 ** 51)),
    at((k) => (k % 2 === 0 ? 2 ** 51 : -(2 ** 51))),
    jumpy,
    at(() => int(-50, 50) * 120),
    at((k) => (k * 7) % 101),
    at(() => 0),
  ];
}

describe('sample column codec', () => {
  it('gives back every column it packs, raw and as deltas, on random data', () => {
    for (let seed = 1; seed <= 200; seed++) {
      for (const col of columns(seed)) {
        const w = new ByteWriter();
        packColumn(w, col, 0, col.length);
        packDeltas(w, col, 0, col.length);
        const buf = w.bytes();
        const a = new Float64Array(col.length + 3);
        const b = new Float64Array(col.length + 3);
        const p = unpackColumn(buf, 0, a, 3, col.length);
        expect(unpackDeltas(buf, p, b, 3, col.length)).toBe(buf.length);
        // Stepping over a column lands where decoding it does.
        expect(skipDeltas(buf, p, col.length)).toBe(buf.length);
        expect([...a.subarray(3)]).toEqual(col);
        expect([...b.subarray(3)]).toEqual(col);
      }
    }
  });

  it('packs steady and stepped columns to a few bytes, and noise to its bits', () => {
    const size = (col: number[]): number => {
      const w = new ByteWriter();
      packDeltas(w, col, 0, col.length);
      return w.len;
    };
    const n = 960;
    // A 5 s heartbeat: deltas of deltas all zero, two bytes a group of 32.
    expect(size(Array.from({ length: n }, (_, k) => k * 5000))).toBeLessThanOrEqual(80);
    // Whole percent in tenths: steps are multiples of 10, divided out.
    expect(size(Array.from({ length: n }, (_, k) => ((k * 37) % 13) * 10))).toBeLessThanOrEqual(n * 0.6);
    // Uniform noise of 8 bits takes about its 8 bits a value.
    const r = rng(7);
    expect(size(Array.from({ length: n }, () => Math.floor(r() * 256)))).toBeLessThanOrEqual(n * 1.2);
  });

  it('refuses a truncated or malformed column with a clear error', () => {
    const col = Array.from({ length: 100 }, (_, k) => k * k);
    const w = new ByteWriter();
    packDeltas(w, col, 0, col.length);
    const buf = w.bytes();
    const out = new Float64Array(100);
    expect(() => unpackDeltas(buf.subarray(0, buf.length - 3), 0, out, 0, 100)).toThrow(/truncated/);
    expect(() => skipDeltas(buf.subarray(0, buf.length - 3), 0, 100)).toThrow(/truncated/);
    expect(() => unpackDeltas(Uint8Array.of(9, ...buf.subarray(1)), 0, out, 0, 100)).toThrow(/unknown column mode 9/);
    expect(() => unpackColumn(Uint8Array.of(30, 0), 0, out, 0, 1)).toThrow(/malformed/);
  });
});
