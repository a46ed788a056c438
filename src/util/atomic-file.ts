// A small file replaced whole: written beside itself under a name no other writer uses, then
// renamed over it. Readers see the old text or the new, never part of one; two writers at once
// (an agent's watch loop and its stop, say) each rename their own whole file, and the last wins.
import { chmod, rename, rm, writeFile } from 'node:fs/promises';

let seq = 0;

/** Writes `data` to `path` atomically; `mode` (e.g. 0o600) is set before the file appears. */
export async function writeFileAtomic(path: string, data: string, mode?: number): Promise<void> {
  const tmp = `${path}.${process.pid}.${++seq}.tmp`;
  try {
    await writeFile(tmp, data, mode !== undefined ? { mode } : {});
    // The umask may have narrowed the mode asked for: say it again.
    if (mode !== undefined) await chmod(tmp, mode);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}
