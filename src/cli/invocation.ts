// How to type `fastgpu` here: the banner of `up` prints commands to copy, and they must work
// where they are printed. From a clone, `fastgpu` is not on PATH; from a package installed into
// a project, `npx fastgpu` finds it.
import { accessSync, constants } from 'node:fs';
import { delimiter, dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root: this file is dist/cli/invocation.js (or src/cli/invocation.ts in tests). */
export const PACKAGE_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The command that runs this CLI from `cwd`: `fastgpu` when it is on PATH, `npx fastgpu` inside
 * a project that installed the package, `bin/fastgpu` (or a relative path to it) from a clone.
 * @example cliCommand({PATH: '/usr/bin'}, '/home/me/fastgpu') // 'bin/fastgpu' from the clone's root
 */
export function cliCommand(env: Readonly<Record<string, string | undefined>>, cwd: string, root = PACKAGE_ROOT): string {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    // npx and npm scripts put a project's node_modules/.bin on PATH for their child only: the
    // user's own shell does not have it.
    if (dir === '' || dir.split(sep).slice(-2).join('/') === 'node_modules/.bin') continue;
    if (executable(join(dir, 'fastgpu'))) return 'fastgpu';
  }
  const segments = root.split(sep);
  const nm = segments.lastIndexOf('node_modules');
  if (nm > 0) {
    // Installed into a project: npx finds it from anywhere inside that project.
    const project = segments.slice(0, nm).join(sep) || sep;
    const fromProject = relative(project, cwd);
    return fromProject === '' || !fromProject.startsWith('..') ? 'npx fastgpu' : join(root, 'bin', 'fastgpu');
  }
  const rel = relative(cwd, root);
  if (rel === '') return 'bin/fastgpu';
  return rel.startsWith('..') ? join(root, 'bin', 'fastgpu') : join(rel, 'bin', 'fastgpu');
}
