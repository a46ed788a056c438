// The README's TFLOPS table is the catalogue's: a model added or a figure changed shows here.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GPU_CATALOGUE } from '../../src/core/catalogue.js';

describe('README GPU table', () => {
  it('lists every catalogue model with its TFLOPS and memory', () => {
    const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
    expect(readme).toContain('| model | dense BF16 TFLOPS | memory |');
    for (const m of GPU_CATALOGUE) expect(readme).toContain(`| ${m.name} | ${m.tflops} | ${m.memoryMiB / 1024} GiB |`);
  });
});
