// The lint config is a boundary: each probe here is one form the layering or purity rules must
// refuse (or, for clean-*, accept). If a config change opens a gap, the probe for it passes lint and
// this test fails. A probe's first lines say which path it is linted as and which rule must fire.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const dir = import.meta.dirname;

interface Probe {
  name: string;
  as: string;
  expect: string; // a rule id, or 'none' for a probe that must pass
  text: string;
}

function probes(): Probe[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.probe'))
    .sort()
    .map((f) => {
      const text = readFileSync(join(dir, f), 'utf8');
      const as = /^\/\/ as: (\S+)$/m.exec(text)?.[1];
      const rule = /^\/\/ expect: (\S+)$/m.exec(text)?.[1];
      if (!as || !rule) throw new Error(`${f}: needs "// as: <path>" and "// expect: <rule|none>" lines`);
      return { name: f, as, expect: rule, text };
    });
}

// The probes are not part of any tsconfig, so lint them without type information: the rules under
// test are all syntactic, and the two type-aware rules are switched off for them.
const eslint = new ESLint({
  cwd: root,
  overrideConfig: {
    languageOptions: { parserOptions: { project: null, projectService: false } },
    rules: { '@typescript-eslint/no-floating-promises': 'off', '@typescript-eslint/no-misused-promises': 'off' },
  },
});

describe('lint probes', () => {
  const all = probes();
  it('cover every banned form (and a clean file per room)', () => {
    expect(all.filter((p) => p.expect !== 'none').length).toBeGreaterThanOrEqual(35);
    expect(all.filter((p) => p.expect === 'none').length).toBeGreaterThanOrEqual(3);
  });
  for (const p of all) {
    it(`${p.name} ${p.expect === 'none' ? 'passes' : `fails with ${p.expect}`}`, async () => {
      const [r] = await eslint.lintText(p.text, { filePath: join(root, p.as) });
      const errors = r!.messages.filter((m) => m.severity === 2);
      if (p.expect === 'none') expect(errors.map((m) => `${m.ruleId}: ${m.message}`)).toEqual([]);
      else expect(errors.map((m) => m.ruleId)).toContain(p.expect);
    });
  }
});
