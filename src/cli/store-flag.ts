// `--store` (and FASTGPU_STORE) for `fastgpu server` and `fastgpu admin migrate`: the store
// spec parsed by the store's own parser, its error turned into a usage error naming the flag.
import { FastGpuError } from '../core/errors.js';
import type { StoreOptions } from '../store/index.js';
import { parseStoreSpec } from '../store/select.js';
import type { CliContext } from './context.js';
import { UsageError } from './flags.js';

/** The flag's value, else FASTGPU_STORE, parsed; undefined when neither is set (the SQLite default). */
export function storeFlag(raw: string | undefined, ctx: Pick<CliContext, 'env' | 'cwd'>, flag = '--store'): StoreOptions | undefined {
  const given = raw ?? ctx.env.FASTGPU_STORE;
  if (given === undefined || given.trim() === '') {
    if (raw !== undefined) throw new UsageError(`${flag}: is empty`);
    return undefined;
  }
  const name = raw !== undefined ? flag : 'FASTGPU_STORE';
  try {
    return parseStoreSpec(given, ctx.cwd, name);
  } catch (e) {
    if (e instanceof FastGpuError) throw new UsageError(`${name}: ${e.message.replace(/^[\w.-]+: /, '')}`);
    throw e;
  }
}
