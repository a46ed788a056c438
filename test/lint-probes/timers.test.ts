// Issue 20's done-when rule, kept by a test: outside their tests, src/server and src/agent take
// every timer and every duration from the clock port (src/util/clock.ts), so tests can drive their
// time with a ManualClock. This is the grep
//   grep -rnE 'performance\.now\(\)|setTimeout\(|setInterval\(' src/server src/agent --include='*.ts' --exclude='*.test.ts'
// run on every test run; test fixtures under those folders count too (their task programs live in
// test/fixtures/tasks). The probe below makes sure the scan itself can fail.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const RAW_TIME = /performance\.now\(\)|setTimeout\(|setInterval\(/;

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...tsFiles(p));
    else if (e.endsWith('.ts') && !e.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

/** `file:line: text` of every raw timer or performance.now() in `text`. */
export function rawTimers(file: string, text: string): string[] {
  return text.split('\n').flatMap((l, i) => (RAW_TIME.test(l) ? [`${file}:${i + 1}: ${l.trim()}`] : []));
}

describe('time in src/server and src/agent comes from the clock port', () => {
  it('no raw timer or performance.now() outside tests', () => {
    const hits = ['src/server', 'src/agent'].flatMap((d) => tsFiles(join(root, d))).flatMap((f) => rawTimers(relative(root, f), readFileSync(f, 'utf8')));
    expect(hits).toEqual([]);
  });

  it('the scan finds each banned form', () => {
    const probe = ['const t0 = performance.now();', 'setTimeout(done, 10);', 'const h = setInterval(tick, 5);', 'clock.timeout(done, 10);'].join('\n');
    expect(rawTimers('probe.ts', probe)).toEqual(['probe.ts:1: const t0 = performance.now();', 'probe.ts:2: setTimeout(done, 10);', 'probe.ts:3: const h = setInterval(tick, 5);']);
  });
});
