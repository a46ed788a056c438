// A real full disk for the fault suite and the fault campaign (issue 9): a small tmpfs mounted on
// a folder (root only), and a file that fills it to the last byte. No vitest here: the campaign
// (scripts/fault-campaign.ts) runs outside it.
import { execFile } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Mounts a tmpfs of `size` (e.g. "24m") on `dir`, made if missing; throws the reason when the host refuses. */
export async function mountTmpfs(dir: string, size: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await run('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir]);
}

/** Lazily unmounts what `mountTmpfs` mounted; never throws. */
export async function unmount(dir: string): Promise<void> {
  // Not mounted (any more): nothing to undo, and a clean-up must not throw.
  await run('umount', ['-l', dir]).catch(() => {});
}

/** Fills the filesystem of `file` to the last byte; returns how many bytes it took. */
export function fill(file: string): number {
  const fd = openSync(file, 'w');
  let n = 0;
  try {
    for (const size of [1 << 20, 1 << 12, 1]) {
      const buf = Buffer.alloc(size, 0x61);
      for (;;) {
        try {
          n += writeSync(fd, buf);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw e;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return n;
}
