import { describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { jsonNestingError, MAX_NESTING, valueNestingError, yamlNestingError } from './nesting.js';

const nest = (n: number, open: string, close: string, leaf = '1'): string => open.repeat(n) + leaf + close.repeat(n);

describe('nesting limits', () => {
  it('JSON: counts brackets outside strings only', () => {
    expect(jsonNestingError(nest(MAX_NESTING, '[', ']'))).toBeNull();
    expect(jsonNestingError(nest(MAX_NESTING + 1, '[', ']'))).toMatch(/deeper than 64/);
    expect(jsonNestingError('['.repeat(5000))).toMatch(/deeper/);
    expect(jsonNestingError(nest(100, '{"a":', '}'))).toMatch(/deeper/);
    // Brackets inside strings (escaped quotes included) are text, not nesting.
    expect(jsonNestingError(JSON.stringify({ a: '['.repeat(500), b: '"\\"[[[' }))).toBeNull();
    // A closing bracket hidden in a string does not let nesting through.
    expect(jsonNestingError('[ "]" '.repeat(100))).toMatch(/deeper/);
  });

  it('YAML: flow and block nesting, scalars and quotes ignored', () => {
    expect(yamlNestingError('['.repeat(5000))).toMatch(/deeper/);
    expect(yamlNestingError('{'.repeat(5000))).toMatch(/deeper/);
    expect(yamlNestingError('- '.repeat(5000))).toMatch(/deeper/);
    expect(yamlNestingError('[ "]", '.repeat(100))).toMatch(/deeper/);
    let block = '';
    for (let i = 0; i < 80; i++) block += `${' '.repeat(i)}k${i}:\n`;
    expect(yamlNestingError(block)).toMatch(/deeper/);
    const spec = 'command: |\n  echo [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\nenv:\n  A: "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["\n  B: [a, {b: c}]\nresources: {gpu: 1}\n';
    expect(yamlNestingError(spec)).toBeNull();
    expect(parseDocument(spec).errors).toEqual([]);
  });

  it('YAML: aliases are limited', () => {
    const text = 'a: &x 1\n' + Array.from({ length: 101 }, (_, i) => `b${i}: *x`).join('\n');
    expect(yamlNestingError(text)).toMatch(/more than 100 aliases/);
    expect(yamlNestingError('a: &x 1\nb: *x\n')).toBeNull();
  });

  it('values: aliases cannot nest deeper than the limit', () => {
    let v: unknown = 1;
    for (let i = 0; i < MAX_NESTING + 1; i++) v = [v];
    expect(valueNestingError(v)).toMatch(/deeper/);
    expect(valueNestingError({ a: [{ b: 1 }] })).toBeNull();
  });
});
