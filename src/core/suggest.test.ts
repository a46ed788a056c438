import { describe, expect, it } from 'vitest';
import { closest, editDistance } from './suggest.js';

describe('closest', () => {
  it('suggests a near name, and none for a far one', () => {
    expect(closest('priorty', ['priority', 'name'])).toBe('priority');
    expect(closest('tflop', ['tflops', 'memory'])).toBe('tflops');
    expect(closest('Memroy', ['memory'])).toBe('memory');
    expect(closest('colour', ['priority', 'name', 'command'])).toBeUndefined();
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });
});
