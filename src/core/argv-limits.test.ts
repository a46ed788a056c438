import { describe, expect, it } from 'vitest';
import { MAX_ARG_STRLEN, utf8Bytes } from './argv-limits.js';
import { parseTaskSpec } from './spec.js';

const parse = (input: unknown) => () => parseTaskSpec(input, { tenant: 'default' });

describe('execve limits at submit', () => {
  it('counts UTF-8 bytes as Linux does', () => {
    for (const s of ['', 'abc', 'é', '€', '😀', 'a😀é€\ud800x', '\udc00']) expect(utf8Bytes(s), s).toBe(Buffer.byteLength(s, 'utf8'));
  });

  it('refuses one argument over MAX_ARG_STRLEN (131072 bytes with its NUL), accepts one at it', () => {
    expect(parse({ command: ['echo', 'a'.repeat(MAX_ARG_STRLEN - 1)] })).not.toThrow();
    expect(parse({ command: ['echo', 'a'.repeat(MAX_ARG_STRLEN)] })).toThrow(/^command\.1: is 128 KiB \(131073 bytes with its NUL\); Linux refuses any single argument over MAX_ARG_STRLEN = 131072 bytes/);
    // Counted in bytes: 65536 two-byte characters are 131072 bytes, plus the NUL.
    expect(parse({ command: ['echo', 'é'.repeat(65_536)] })).toThrow(/MAX_ARG_STRLEN/);
    // A string command is one argument of `sh -c`.
    expect(parse({ command: `echo ${'b'.repeat(MAX_ARG_STRLEN)}` })).toThrow(/^command: .*MAX_ARG_STRLEN/);
  });

  it('refuses an environment string over MAX_ARG_STRLEN as KEY=value', () => {
    expect(parse({ command: 'true', env: { DATA: 'x'.repeat(MAX_ARG_STRLEN - 6) } })).not.toThrow();
    expect(parse({ command: 'true', env: { DATA: 'x'.repeat(MAX_ARG_STRLEN - 5) } })).toThrow(/^env\.DATA: .*MAX_ARG_STRLEN = 131072/);
  });

  it('refuses arguments and environment over 1 MiB together', () => {
    const args = Array.from({ length: 9 }, () => 'c'.repeat(120_000));
    expect(parse({ command: ['echo', ...args] })).toThrow(/^command: arguments and environment take .* together; at most 1024 KiB/);
    expect(parse({ command: ['echo', ...args.slice(0, 8)] })).not.toThrow();
    expect(parse({ command: ['echo', ...args.slice(0, 5)], env: { A: 'd'.repeat(120_000), B: 'd'.repeat(120_000), C: 'd'.repeat(120_000), D: 'd'.repeat(120_000) } })).toThrow(/together/);
  });
});
