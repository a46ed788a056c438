// Quantities people type: sizes (MiB), durations (ms) and CPU (milli-cores). Each parser
// takes the field it reads so that its error names the field, as every 400 must.
import { invalid } from './errors.js';

const MIB_PER_GIB = 1024;
const MIB_PER_TIB = 1024 * 1024;
/** The largest size accepted anywhere: more than any single machine has. */
export const MAX_SIZE_MIB = 64 * MIB_PER_TIB;

const MS_PER_S = 1000;
const MS_PER_M = 60 * MS_PER_S;
const MS_PER_H = 60 * MS_PER_M;
const MS_PER_D = 24 * MS_PER_H;
/** The longest duration accepted: a year. */
export const MAX_DURATION_MS = 365 * MS_PER_D;

/** The most CPU one request may name, in milli-cores (100,000 cores). */
export const MAX_CPU_MILLI = 100_000 * 1000;

// MiB per unit. Memory is always binary here: `G`/`GB` mean GiB, as Kubernetes users
// nearly always mean when they write `20G` for a GPU or RAM size, and the difference (7 %)
// would only surprise them. Keys are lower-case.
const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1 / (1024 * 1024),
  k: 1 / 1024,
  kb: 1 / 1024,
  ki: 1 / 1024,
  kib: 1 / 1024,
  m: 1,
  mb: 1,
  mi: 1,
  mib: 1,
  g: MIB_PER_GIB,
  gb: MIB_PER_GIB,
  gi: MIB_PER_GIB,
  gib: MIB_PER_GIB,
  t: MIB_PER_TIB,
  tb: MIB_PER_TIB,
  ti: MIB_PER_TIB,
  tib: MIB_PER_TIB,
};

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: MS_PER_S,
  m: MS_PER_M,
  h: MS_PER_H,
  d: MS_PER_D,
};

const NUMBER = String.raw`(?:\d+(?:\.\d*)?|\.\d+)`;
// eslint-disable-next-line no-restricted-syntax -- a constant pattern without the g/y flags: no state.
const SIZE_RE = new RegExp(String.raw`^(${NUMBER})\s*([a-z]*)$`, 'i');
// eslint-disable-next-line no-restricted-syntax -- its lastIndex is reset before each (synchronous) use, so no call sees another's.
const DURATION_PART_RE = new RegExp(String.raw`(${NUMBER})(ms|s|m|h|d)`, 'gy');
// eslint-disable-next-line no-restricted-syntax -- a constant pattern without the g/y flags: no state.
const PLAIN_NUMBER_RE = new RegExp(String.raw`^${NUMBER}$`);

function describe(input: unknown): string {
  return typeof input === 'string' ? JSON.stringify(input) : String(input);
}

/**
 * A memory size in MiB, rounded up to a whole MiB. A bare number is MiB.
 * @example parseSize('20GiB', 'resources.memory') // 20480; '20G', '20Gi', '20GB' are the same
 */
export function parseSize(input: string | number, field: string): number {
  const allowed = 'use a positive size such as 512MiB, 20GiB or 1.5TiB (a bare number is MiB)';
  let mib: number;
  if (typeof input === 'number') {
    mib = input;
  } else if (typeof input === 'string') {
    const m = SIZE_RE.exec(input.trim());
    const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
    if (!m || unit === undefined) throw invalid(field, `cannot read size ${describe(input)}; ${allowed}`);
    mib = Number(m[1]) * unit;
  } else {
    throw invalid(field, `expected a size, got ${typeof input}; ${allowed}`);
  }
  if (!Number.isFinite(mib) || mib <= 0) throw invalid(field, `size ${describe(input)} must be positive; ${allowed}`);
  if (mib > MAX_SIZE_MIB) throw invalid(field, `size ${describe(input)} is larger than the 64 TiB allowed`);
  return Math.ceil(mib);
}

/**
 * A duration in ms, rounded up to a whole ms. A bare number is seconds; units ms, s, m, h, d
 * may be combined. At most `maxMs` (default a year; a retention window may allow longer).
 * @example parseDuration('1h30m', 'timeLimit') // 5_400_000
 */
export function parseDuration(input: string | number, field: string, maxMs: number = MAX_DURATION_MS): number {
  const allowed = 'use a positive duration such as 500ms, 90s, 2h, 1h30m or 1d (a bare number is seconds)';
  let ms: number;
  if (typeof input === 'number') {
    ms = input * MS_PER_S;
  } else if (typeof input === 'string') {
    const s = input.trim().toLowerCase();
    if (PLAIN_NUMBER_RE.test(s)) {
      ms = Number(s) * MS_PER_S;
    } else {
      ms = 0;
      let pos = 0;
      DURATION_PART_RE.lastIndex = 0;
      for (let m = DURATION_PART_RE.exec(s); m; m = DURATION_PART_RE.exec(s)) {
        ms += Number(m[1]) * DURATION_UNITS[m[2]!]!;
        pos = DURATION_PART_RE.lastIndex;
      }
      if (s.length === 0 || pos !== s.length) throw invalid(field, `cannot read duration ${describe(input)}; ${allowed}`);
    }
  } else {
    throw invalid(field, `expected a duration, got ${typeof input}; ${allowed}`);
  }
  if (!Number.isFinite(ms) || ms <= 0) throw invalid(field, `duration ${describe(input)} must be positive; ${allowed}`);
  if (ms > maxMs) {
    const most = maxMs % MS_PER_D === 0 ? `${maxMs / MS_PER_D} days` : formatDuration(maxMs);
    throw invalid(field, `duration ${describe(input)} is longer than the ${most} allowed`);
  }
  return Math.ceil(ms);
}

/**
 * CPU in milli-cores. A number (or numeric string) is cores; `500m` is milli-cores.
 * @example parseCpu(0.5, 'resources.cpu') // 500; parseCpu('250m', 'resources.cpu') // 250
 */
export function parseCpu(input: string | number, field: string): number {
  const allowed = 'use cores such as 2 or 0.5, or milli-cores such as "500m"';
  let milli: number;
  if (typeof input === 'number') {
    milli = input * 1000;
  } else if (typeof input === 'string') {
    const s = input.trim();
    if (PLAIN_NUMBER_RE.test(s)) milli = Number(s) * 1000;
    else if (s.endsWith('m') && PLAIN_NUMBER_RE.test(s.slice(0, -1))) milli = Number(s.slice(0, -1));
    else throw invalid(field, `cannot read CPU ${describe(input)}; ${allowed}`);
  } else {
    throw invalid(field, `expected a CPU amount, got ${typeof input}; ${allowed}`);
  }
  if (!Number.isFinite(milli) || milli <= 0) throw invalid(field, `CPU ${describe(input)} must be positive; ${allowed}`);
  if (milli > MAX_CPU_MILLI) throw invalid(field, `CPU ${describe(input)} is more than the 100000 cores allowed`);
  const rounded = Math.round(milli);
  if (rounded < 1) throw invalid(field, `CPU ${describe(input)} is less than the smallest unit, 1m (0.001 core)`);
  return rounded;
}

function trimNumber(n: number): string {
  return String(Math.round(n * 100) / 100);
}

/** A size for people: `512 MiB`, `20 GiB`, `1.5 TiB` (two decimals at most). */
export function formatMiB(mib: number): string {
  if (mib >= MIB_PER_TIB) return `${trimNumber(mib / MIB_PER_TIB)} TiB`;
  if (mib >= MIB_PER_GIB) return `${trimNumber(mib / MIB_PER_GIB)} GiB`;
  return `${trimNumber(mib)} MiB`;
}

/**
 * A duration for people, in the syntax `parseDuration` reads back: `1h30m`, `1m30s`, `2d`,
 * `500ms`, `1s500ms`. Zero is `0s`.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms <= 0) return '0s';
  let rest = Math.round(ms);
  let out = '';
  for (const [unit, size] of [['d', MS_PER_D], ['h', MS_PER_H], ['m', MS_PER_M], ['s', MS_PER_S], ['ms', 1]] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out;
}
