// Integer column packing for sealed sample blocks (sample-blocks.ts, body format 2): patched
// frame of reference (PFOR), as columnar time-series stores do. A column of non-negative integers
// (zigzagged deltas) goes in groups of 32: each group packs the low `w` bits of every value, w
// chosen per group to take the fewest bytes, and lists the few values that do not fit ("exceptions":
// a heartbeat's time jump, a utilisation wrap) with their high bits as varints. Steady columns
// (the 5 s heartbeat, an allocation that holds) cost 2 bytes a group; a noisy one its noise's
// bits. Why not deflate: zlib costs ~100 µs a call plus ~300 ns a sample here, which made every
// read and the first compaction pass slow; unpacking a group is a few shifts a value.
//
// Group: byte w (0..24; + 0x80 when a varint divisor g follows), byte e (exceptions), ceil(m × w / 8)
// bytes of low bits (LSB first), then e × (byte position, varint high bits); m = 32, or what is
// left for the last group. Values are signed (deltas): each is divided by the group's greatest
// common divisor g (when above 1: a rollup of identical samples, or values that move in fixed
// steps, as Lucene's GCD compression does), then zigzagged.

/** Values per group. */
const GROUP = 32;
/** Widest packed part: keeps the bit buffer within 31 bits (integer shifts). */
const MAX_W = 24;

/** Largest magnitude packed: its zigzag stays an exact double. */
const LIMIT = 2 ** 52;

const POW2: readonly number[] = Array.from({ length: 54 }, (_, i) => 2 ** i);

/** Bytes appended to a growing buffer. */
export class ByteWriter {
  buf = new Uint8Array(1024);
  len = 0;

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  byte(v: number): void {
    this.room(1);
    this.buf[this.len++] = v;
  }

  /** Unsigned LEB128; values below 2^53 (division, not shifts, past 31 bits). */
  uint(v: number): void {
    this.room(8);
    if (v < 0x80000000) {
      // Int32 bit operations: a double's `%` is a library call (tails and rollups write
      // millions of these).
      let x = v | 0;
      while (x >= 0x80) {
        this.buf[this.len++] = (x & 0x7f) | 0x80;
        x >>>= 7;
      }
      this.buf[this.len++] = x;
      return;
    }
    while (v >= 0x80) {
      this.buf[this.len++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.len++] = v;
  }

  append(bytes: Uint8Array): void {
    this.room(bytes.length);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
  }

  bytes(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }
}

/** Zigzag: small negative deltas stay small. */
export const zig = (v: number): number => (v < 0 ? -2 * v - 1 : 2 * v);

/** Zigzag back to signed; bit operations while the value fits 31 bits. */
export const unzig = (z: number): number => (z < 0x80000000 ? (z >>> 1) ^ -(z & 1) : z % 2 === 1 ? -(z + 1) / 2 : z / 2);

const bitLength = (v: number): number => (v === 0 ? 0 : v < 0x80000000 ? 32 - Math.clz32(v) : Math.floor(Math.log2(v)) + 1);

const gcd = (a: number, b: number): number => {
  // Int32 remainders while both fit: a double's `%` is a library call, and packing takes
  // the divisor of every value of a group.
  if (a < 0x80000000 && b < 0x80000000) {
    let x = a | 0;
    let y = b | 0;
    while (y > 0) {
      const r = x % y;
      x = y;
      y = r;
    }
    return x;
  }
  while (b > 0) {
    const r = a % b;
    a = b;
    b = r;
  }
  return a;
};

/** Per-group scratch of packColumn (encoding is synchronous: one user at a time). */
const groupScratch = { bits: new Int32Array(GROUP), values: new Float64Array(GROUP), counts: new Int32Array(54) };

/** Appends the integers `signed[from..to)` (magnitudes below 2^52) as PFOR groups. */
export function packColumn(w: ByteWriter, signed: ArrayLike<number>, from: number, to: number): void {
  const { bits, values, counts } = groupScratch;
  for (let g = from; g < to; g += GROUP) {
    const m = Math.min(GROUP, to - g);
    let div = 0;
    for (let k = 0; k < m; k++) {
      const v = Math.abs(signed[g + k]!);
      if (!(v <= LIMIT) || !Number.isInteger(v)) throw new Error(`sample block: ${signed[g + k]} is not an integer within ±2^52`);
      if (div !== 1) div = gcd(v, div);
    }
    if (div === 0) div = 1;
    // How many values need each bit length: the cost of a width follows from these alone.
    counts.fill(0);
    let widest = 0;
    for (let k = 0; k < m; k++) {
      values[k] = zig(signed[g + k]! / div);
      const b = bitLength(values[k]!);
      bits[k] = b;
      counts[b]!++;
      if (b > widest) widest = b;
    }
    // The width that costs the fewest bytes: packed bits plus the exceptions above them (a
    // position byte and the high bits as a varint).
    let width = 0;
    let best = Infinity;
    for (let cand = 0; cand <= Math.min(widest, MAX_W); cand++) {
      let cost = Math.ceil((m * cand) / 8);
      for (let b = cand + 1; b <= widest; b++) cost += counts[b]! * (1 + Math.ceil((b - cand) / 7));
      if (cost < best) {
        best = cost;
        width = cand;
      }
    }
    const pw = POW2[width]!;
    w.byte(div > 1 ? width | 0x80 : width);
    if (div > 1) w.uint(div);
    let exceptions = 0;
    for (let k = 0; k < m; k++) if (bits[k]! > width) exceptions++;
    w.byte(exceptions);
    let acc = 0;
    let used = 0;
    for (let k = 0; k < m; k++) {
      const v = values[k]!;
      const low = v < 0x80000000 ? v & (pw - 1) : v - Math.floor(v / pw) * pw;
      acc |= low << used;
      used += width;
      while (used >= 8) {
        w.byte(acc & 0xff);
        acc >>>= 8;
        used -= 8;
      }
    }
    if (used > 0) w.byte(acc & 0xff);
    for (let k = 0; k < m; k++) {
      if (bits[k]! <= width) continue;
      w.byte(k);
      w.uint(Math.floor(values[k]! / pw));
    }
  }
}

/** The zigzagged values of the group unpackGroup read last, its divisor, and whether all are 0. */
const groupValues = new Float64Array(GROUP);
let groupDiv = 1;
let groupZero = false;

/**
 * Reads one group of `m` values at `p` into groupValues (zigzagged, not yet multiplied by the
 * divisor, which goes to groupDiv); returns where the group ends. A group of width 0 without
 * exceptions (a steady column: the 5 s heartbeat's times, an allocation that holds) only sets
 * groupZero. Throws on a malformed or truncated group.
 */
function unpackGroup(buf: Uint8Array, p: number, m: number): number {
  const end = buf.length;
  if (p + 2 > end) throw new Error('sample block: truncated column');
  let width = buf[p++]!;
  let div = 1;
  if (width & 0x80) {
    width &= 0x7f;
    [div, p] = readUint(buf, p);
  }
  if (p >= end) throw new Error('sample block: truncated column');
  const exceptions = buf[p++]!;
  if (width > MAX_W || exceptions > m) throw new Error('sample block: malformed column');
  if (p + ((m * width + 7) >> 3) > end) throw new Error('sample block: truncated column');
  groupDiv = div;
  const z = groupValues;
  if (width === 0) {
    groupZero = exceptions === 0;
    if (groupZero) return p;
    z.fill(0, 0, m);
  } else {
    groupZero = false;
    // The bit buffer holds at most 23 + 8 bits: plain int32 arithmetic.
    const mask = (1 << width) - 1;
    let acc = 0;
    let have = 0;
    for (let k = 0; k < m; k++) {
      while (have < width) {
        acc |= buf[p++]! << have;
        have += 8;
      }
      z[k] = acc & mask;
      acc >>= width;
      have -= width;
    }
  }
  const pw = POW2[width]!;
  for (let x = 0; x < exceptions; x++) {
    if (p >= end) throw new Error('sample block: truncated column');
    const k = buf[p++]!;
    let v = 0;
    let mul = 1;
    for (;;) {
      if (p >= end) throw new Error('sample block: truncated column');
      const b = buf[p++]!;
      v += (b & 0x7f) * mul;
      if (b < 0x80) break;
      mul *= 0x80;
      if (mul > 2 ** 56) throw new Error('sample block: varint too long');
    }
    if (k >= m) throw new Error('sample block: malformed column');
    z[k] = z[k]! + v * pw;
  }
  return p;
}

/**
 * Reads `count` signed values packed by packColumn from `buf` at `p` into `out[o..o + count)`;
 * returns where the column ends. Throws on a malformed or truncated column.
 */
export function unpackColumn(buf: Uint8Array, p: number, out: Float64Array, o: number, count: number): number {
  const z = groupValues;
  for (let g = 0; g < count; g += GROUP) {
    const m = Math.min(GROUP, count - g);
    p = unpackGroup(buf, p, m);
    const base = o + g;
    if (groupZero) out.fill(0, base, base + m);
    else for (let k = 0; k < m; k++) out[base + k] = unzig(z[k]!) * groupDiv;
  }
  return p;
}

/** Steps over a column written by packDeltas without decoding it; returns where it ends. */
export function skipDeltas(buf: Uint8Array, p: number, count: number): number {
  p++;
  for (let g = 0; g < count; g += GROUP) {
    const m = Math.min(GROUP, count - g);
    if (p >= buf.length) throw new Error('sample block: truncated column');
    let width = buf[p++]!;
    if (width & 0x80) {
      width &= 0x7f;
      p = readUint(buf, p)[1];
    }
    if (p >= buf.length) throw new Error('sample block: truncated column');
    const exceptions = buf[p++]!;
    p += Math.ceil((m * width) / 8);
    for (let x = 0; x < exceptions; x++) p = readUint(buf, p + 1)[1];
  }
  if (p > buf.length) throw new Error('sample block: truncated column');
  return p;
}

/** One unsigned varint of `buf` at `p`: [value, next position]. */
export function readUint(buf: Uint8Array, p: number): [number, number] {
  let v = 0;
  let mul = 1;
  for (;;) {
    if (p >= buf.length) throw new Error('sample block: truncated varint');
    const b = buf[p++]!;
    v += (b & 0x7f) * mul;
    if (b < 0x80) return [v, p];
    mul *= 0x80;
    if (mul > 2 ** 56) throw new Error('sample block: varint too long');
  }
}

/** packDeltas' scratch: both transforms of a column. */
let deltaScratch = { d1: new Float64Array(1024), d2: new Float64Array(1024) };

/** How a column's values are turned into small integers before packing. */
const DELTA = 0;
/** Deltas of deltas: a steady heartbeat, or a value climbing at a steady rate, is all zeros. */
const DELTA2 = 1;

/**
 * Appends the integers `values[from..to)` (within ±2^51) as a mode byte and a packed column of deltas,
 * or of deltas of deltas where that takes fewer bytes (the encoder tries both, as TSDBs pick a
 * codec per chunk). The first value is taken from 0, the first step from 0.
 */
export function packDeltas(w: ByteWriter, values: ArrayLike<number>, from: number, to: number): void {
  const m = to - from;
  if (deltaScratch.d1.length < m) deltaScratch = { ...deltaScratch, d1: new Float64Array(m * 2), d2: new Float64Array(m * 2) };
  const { d1, d2 } = deltaScratch;
  let prev = 0;
  let step = 0;
  // Each transform's bits, value by value: the packed size follows them closely enough to
  // pick one, and packing only that one takes a third off the cost of sealing (was: pack both, keep the
  // smaller; on the bench's blocks raw and minute bodies came out 0.1–0.2 % larger than
  // that, hour bodies 3.7 %).
  let bits1 = 0;
  let bits2 = 0;
  let fits = true;
  for (let k = 0; k < m; k++) {
    const v = values[from + k]!;
    const d = v - prev;
    const dd = d - step;
    d1[k] = d;
    d2[k] = dd;
    bits1 += bitLength(zig(d));
    bits2 += bitLength(zig(dd));
    // Deltas of deltas of wide values could pass the packed range: those keep plain deltas.
    if (!(Math.abs(dd) <= LIMIT)) fits = false;
    step = d;
    prev = v;
  }
  const second = fits && bits2 < bits1;
  w.byte(second ? DELTA2 : DELTA);
  packColumn(w, second ? d2 : d1, 0, m);
}

/**
 * Reads a column written by packDeltas into `out[o..o + count)` as `offset + value × scale` (a
 * block's times: its start plus units; values: 0 and 1, exactly the values); returns where it
 * ends. Unpacking, the divisor, zigzag and the running sums go in one pass a group: a read of
 * a day of samples decodes millions of values.
 */
export function unpackDeltas(buf: Uint8Array, p: number, out: Float64Array, o: number, count: number, scale = 1, offset = 0): number {
  if (p >= buf.length) throw new Error('sample block: truncated column');
  const mode = buf[p++]!;
  if (mode !== DELTA && mode !== DELTA2) throw new Error(`sample block: unknown column mode ${mode}`);
  const z = groupValues;
  let v = 0;
  let step = 0;
  for (let g = 0; g < count; g += GROUP) {
    const m = Math.min(GROUP, count - g);
    p = unpackGroup(buf, p, m);
    const base = o + g;
    const div = groupDiv;
    if (mode === DELTA) {
      if (groupZero) out.fill(offset + v * scale, base, base + m);
      else {
        for (let k = 0; k < m; k++) {
          v += unzig(z[k]!) * div;
          out[base + k] = offset + v * scale;
        }
      }
    } else if (groupZero) {
      for (let k = 0; k < m; k++) {
        v += step;
        out[base + k] = offset + v * scale;
      }
    } else {
      for (let k = 0; k < m; k++) {
        step += unzig(z[k]!) * div;
        v += step;
        out[base + k] = offset + v * scale;
      }
    }
  }
  return p;
}
