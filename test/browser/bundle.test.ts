// First load stays small: the JS and CSS that index.html pulls in, gzipped, ≤ 300 KB (the
// chart library loads later, on the Utilisation page). Needs `npm run build:web` first (part
// of `npm run build`, which `npm test` runs). Byte counts are deterministic, so this one is a test.
import { describe, expect, it } from 'vitest';
import { existsSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { firstLoadGzip, WEB_DIST } from './bundle-size.js';
import { ARTIFACTS } from './browser.js';

describe('web bundle', () => {
  it('first load, JS + CSS gzipped, is at most 300 KB', () => {
    expect(existsSync(join(WEB_DIST, 'index.html')), 'dist/web is missing: run `npm run build:web`').toBe(true);
    const { totalBytes, files } = firstLoadGzip();
    expect(Object.keys(files).some((r) => r.endsWith('.js'))).toBe(true);
    const kb = totalBytes / 1024;
    mkdirSync(ARTIFACTS, { recursive: true });
    writeFileSync(join(ARTIFACTS, 'bundle.json'), JSON.stringify({ firstLoadGzipKB: +kb.toFixed(1), files }, null, 2));
    console.log(`first load: ${kb.toFixed(1)} KB gzipped`, files);
    expect(kb).toBeLessThanOrEqual(300);
  });
});
