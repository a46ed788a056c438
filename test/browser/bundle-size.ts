// The first load's weight: index.html and the JS and CSS it pulls in, gzipped (level 9). Shared
// by the bundle test (≤ 300 KB) and `npm run bench:web`.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

export const WEB_DIST = join(import.meta.dirname, '..', '..', 'dist', 'web');

/** Gzipped bytes of index.html and of each asset it references, and their total. */
export function firstLoadGzip(web: string = WEB_DIST): { totalBytes: number; files: Record<string, number> } {
  const html = readFileSync(join(web, 'index.html'), 'utf8');
  const refs = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+\.(?:js|css))"/g)].map((m) => m[1]!);
  const files: Record<string, number> = {};
  let totalBytes = gzipSync(html).length;
  for (const r of refs) {
    const gz = gzipSync(readFileSync(join(web, r)), { level: 9 }).length;
    files[r] = gz;
    totalBytes += gz;
  }
  return { totalBytes, files };
}
