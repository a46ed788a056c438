import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FastGpuError } from './errors.js';
import { formatDuration, formatMiB, MAX_DURATION_MS, parseCpu, parseDuration, parseSize } from './quantity.js';

function errorOf(fn: () => unknown): FastGpuError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(FastGpuError);
    return e as FastGpuError;
  }
  throw new Error('expected a FastGpuError');
}

describe('parseSize', () => {
  it.each([
    ['512MiB', 512],
    ['20GiB', 20480],
    ['1.5TiB', 1.5 * 1024 * 1024],
    ['20GB', 20480],
    ['20G', 20480],
    ['20g', 20480],
    ['100M', 100],
    ['512Mi', 512],
    ['20Gi', 20480],
    [' 4 GiB ', 4096],
    ['1024KiB', 1],
    ['1K', 1], // rounded up to a whole MiB
    ['1B', 1],
    ['0.5GiB', 512],
    ['.5G', 512],
    ['2048', 2048],
    [2048, 2048],
    [0.3, 1],
  ] as const)('%j → %d MiB', (input, mib) => {
    expect(parseSize(input, 'resources.memory')).toBe(mib);
  });

  it.each(['', 'abc', '20XB', '-1GiB', '0', '0GiB', 'GiB', '1.2.3G', '20 Gib extra', 'NaN', 'Infinity', '1e3'])(
    'rejects %j naming the field',
    (input) => {
      const e = errorOf(() => parseSize(input, 'resources.memory'));
      expect(e.code).toBe('INVALID_ARGUMENT');
      expect(e.field).toBe('resources.memory');
      expect(e.message).toMatch(/^resources\.memory: /);
      expect(e.message).toMatch(/MiB|GiB/);
    },
  );

  it.each([0, -5, Number.NaN, Number.POSITIVE_INFINITY])('rejects number %d', (n) => {
    expect(errorOf(() => parseSize(n, 'm')).field).toBe('m');
  });

  it('rejects absurd sizes above 64 TiB but takes 64 TiB', () => {
    expect(parseSize('64TiB', 'x')).toBe(64 * 1024 * 1024);
    expect(errorOf(() => parseSize('65TiB', 'x')).message).toMatch(/64 TiB/);
    expect(errorOf(() => parseSize(1e300, 'x')).message).toMatch(/64 TiB/);
  });

  it('rejects non-string, non-number values', () => {
    expect(errorOf(() => parseSize({} as unknown as string, 'x')).message).toMatch(/expected a size/);
  });

  it('always returns a positive integer or a FastGpuError', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.double()), (input) => {
        try {
          const v = parseSize(input, 'f');
          expect(Number.isInteger(v) && v > 0).toBe(true);
        } catch (e) {
          expect(e).toBeInstanceOf(FastGpuError);
        }
      }),
    );
  });
});

describe('parseDuration', () => {
  it.each([
    ['90s', 90_000],
    ['2h', 7_200_000],
    ['1h30m', 5_400_000],
    ['500ms', 500],
    ['1d', 86_400_000],
    ['1m30s', 90_000],
    ['1s500ms', 1500],
    ['1.5h', 5_400_000],
    ['2H', 7_200_000],
    ['90', 90_000],
    [90, 90_000],
    [0.0001, 1], // rounded up, never to zero
    ['365d', MAX_DURATION_MS],
  ] as const)('%j → %d ms', (input, ms) => {
    expect(parseDuration(input, 'timeLimit')).toBe(ms);
  });

  it.each(['', 'h', '1x', '1h 30m', '-1s', '0s', '0', 'abc', '1h30', '366d', '1y'])('rejects %j', (input) => {
    const e = errorOf(() => parseDuration(input, 'timeLimit'));
    expect(e.field).toBe('timeLimit');
    expect(e.message).toMatch(/^timeLimit: /);
  });

  it.each([0, -1, Number.NaN, 366 * 86400])('rejects number %d', (n) => {
    expect(errorOf(() => parseDuration(n, 'timeLimit')).field).toBe('timeLimit');
  });

  it('takes a longer or shorter limit when the caller gives one, and says what it is', () => {
    expect(parseDuration('400d', 'retention', 3650 * 86_400_000)).toBe(400 * 86_400_000);
    expect(errorOf(() => parseDuration('400d', 'retention')).message).toBe('retention: duration "400d" is longer than the 365 days allowed');
    expect(errorOf(() => parseDuration('2h', 'grace', 5_400_000)).message).toBe('grace: duration "2h" is longer than the 1h30m allowed');
  });
});

describe('parseCpu', () => {
  it.each([
    [2, 2000],
    [0.5, 500],
    ['0.5', 500],
    ['500m', 500],
    ['2', 2000],
    ['1.5m', 2],
    [100000, 100_000_000],
  ] as const)('%j → %d milli', (input, milli) => {
    expect(parseCpu(input, 'resources.cpu')).toBe(milli);
  });

  it.each([0, -1, Number.NaN, 100001, 0.0001, '0m', 'two', '', '5 cores', '-2'])('rejects %j', (input) => {
    const e = errorOf(() => parseCpu(input, 'resources.cpu'));
    expect(e.field).toBe('resources.cpu');
    expect(e.message).toMatch(/^resources\.cpu: /);
  });
});

describe('formatMiB', () => {
  it.each([
    [512, '512 MiB'],
    [20480, '20 GiB'],
    [1536, '1.5 GiB'],
    [1024 * 1024 * 1.5, '1.5 TiB'],
    [81559, '79.65 GiB'],
  ])('%d → %s', (mib, text) => {
    expect(formatMiB(mib)).toBe(text);
  });
});

describe('formatDuration', () => {
  it.each([
    [5_400_000, '1h30m'],
    [90_000, '1m30s'],
    [30_000, '30s'],
    [500, '500ms'],
    [86_400_000, '1d'],
    [0, '0s'],
  ])('%d → %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it('is read back by parseDuration', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: MAX_DURATION_MS }), (ms) => {
        expect(parseDuration(formatDuration(ms), 'x')).toBe(ms);
      }),
    );
  });
});
