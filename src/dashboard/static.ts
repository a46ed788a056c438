// The built web app (vite output) served from memory: files are read once, with a gzip copy
// for clients that accept it. Hashed assets (`assets/name-HASH.js`) never change, so they are
// cached for a year; index.html is revalidated every time so a new build shows at once.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};
const COMPRESSIBLE = new Set(['.html', '.js', '.css', '.svg', '.json', '.txt', '.map']);

export interface StaticFile {
  type: string;
  body: Buffer;
  gzip: Buffer | null;
  etag: string;
  immutable: boolean;
}

/**
 * Where the built app lies: `dist/web` beside the compiled server (`dist/dashboard/*.js` →
 * `dist/web`), or, running from source (`src/dashboard/*.ts`), the repository's `dist/web`.
 */
export function findWebRoot(here: string = dirname(fileURLToPath(import.meta.url))): string | null {
  const candidates = [join(here, '..', 'web'), join(here, '..', '..', 'dist', 'web')];
  for (const c of candidates) if (existsSync(join(c, 'index.html'))) return c;
  return null;
}

/** Every file under `root`, keyed by URL path (`/index.html`, `/assets/app-1a2b.js`). */
export function loadStaticFiles(root: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) {
        walk(p);
        continue;
      }
      const ext = extname(name);
      const body = readFileSync(p);
      const urlPath = '/' + relative(root, p).split(sep).join('/');
      files.set(urlPath, {
        type: TYPES[ext] ?? 'application/octet-stream',
        body,
        gzip: COMPRESSIBLE.has(ext) && body.length > 512 ? gzipSync(body, { level: 9 }) : null,
        etag: `"${body.length.toString(36)}-${simpleHash(body)}"`,
        immutable: urlPath.startsWith('/assets/'),
      });
    }
  };
  walk(root);
  return files;
}

function simpleHash(buf: Buffer): string {
  // FNV-1a over the bytes: enough to tell builds apart in an ETag.
  let h = 0x811c9dc5;
  for (let i = 0; i < buf.length; i++) {
    h ^= buf[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(36);
}
