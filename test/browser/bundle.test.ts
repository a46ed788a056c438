// First load stays small: the JS and CSS that index.html pulls in, gzipped, ≤ 300 KB (the
// chart library loads later, on the Utilisation page). Needs `npm run build:web` first (part
// of `npm run build`, which `npm test` runs).
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const WEB = join(import.meta.dirname, '..', '..', 'dist', 'web');

describe('web bundle', () => {
  it('first load, JS + CSS gzipped, is at most 300 KB', () => {
    expect(existsSync(join(WEB, 'index.html')), 'dist/web is missing: run `npm run build:web`').toBe(true);
    const html = readFileSync(join(WEB, 'index.html'), 'utf8');
    const refs = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+\.(?:js|css))"/g)].map((m) => m[1]!);
    expect(refs.some((r) => r.endsWith('.js'))).toBe(true);
    let total = gzipSync(html).length;
    const files: Record<string, number> = {};
    for (const r of refs) {
      const gz = gzipSync(readFileSync(join(WEB, r)), { level: 9 }).length;
      files[r] = gz;
      total += gz;
    }
    const kb = total / 1024;
    mkdirSync(join(import.meta.dirname, '..', '..', 'test-artifacts', 'browser'), { recursive: true });
    writeFileSync(join(import.meta.dirname, '..', '..', 'test-artifacts', 'browser', 'bundle.json'), JSON.stringify({ firstLoadGzipKB: +kb.toFixed(1), files }, null, 2));
    console.log(`first load: ${kb.toFixed(1)} KB gzipped`, files);
    expect(kb).toBeLessThanOrEqual(300);
  });
});
