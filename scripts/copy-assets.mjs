// Copies the non-TypeScript files the runtime needs (SQL migrations, shell scripts, fixtures,
// web assets) from src/ to dist/, keeping their paths. Run by `npm run build`.
import { cpSync, readdirSync, statSync, mkdirSync, chmodSync } from 'node:fs';
import { join, dirname, extname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const keep = new Set(['.sql', '.sh', '.json', '.csv', '.txt', '.html', '.css', '.svg', '.png', '.ico', '.mjs', '.mts']);

function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    // Test fixtures (fake nvidia-smi scripts and the like) are not part of the package.
    if (st.isDirectory()) {
      if (name !== 'fixtures') walk(p);
    }
    else if (keep.has(extname(name)) || (st.mode & 0o111 && !name.endsWith('.ts'))) {
      const to = join(root, 'dist', p.slice(join(root, 'src').length + 1));
      mkdirSync(dirname(to), { recursive: true });
      cpSync(p, to);
      chmodSync(to, st.mode & 0o777);
    }
  }
}
walk(join(root, 'src'));
