// Where the openb trace lives: `<repo>/data/openb` (shipped with the repo, CC BY 4.0; see its README).
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is `<repo>/src/sim/data.ts`). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export const OPENB_DIR = resolve(REPO_ROOT, 'data', 'openb');

export const OPENB = {
  nodes: join(OPENB_DIR, 'openb_node_list_gpu_node.csv'),
  pods: join(OPENB_DIR, 'openb_pod_list_default.csv'),
  publishedAllocation: join(OPENB_DIR, 'fgd_published_allo_discrete.csv'),
  publishedFragRatio: join(OPENB_DIR, 'fgd_published_frag_ratio_discrete.csv'),
};

/** Throws a clear message when the openb data is absent. */
export function requireOpenb(): typeof OPENB {
  for (const f of Object.values(OPENB)) {
    if (!existsSync(f)) {
      throw new Error(`openb trace data not found: ${f}\n(the repository ships it in ${OPENB_DIR}; restore it with git checkout -- data/openb)`);
    }
  }
  return OPENB;
}

export function openbAvailable(): boolean {
  return Object.values(OPENB).every((f) => existsSync(f));
}
