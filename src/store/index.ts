// The store factory: the one place that knows which adapters exist. The server and the CLI
// call `openStore` with a compiled option and never import an adapter themselves.
import type { Store } from './port.js';
import { PgStore } from './postgres/store.js';
import type { StoreOptions } from './select.js';
import { SqliteStore } from './sqlite/store.js';

export type { Store } from './port.js';
export { SchemaTooNewError } from './migrations.js';
export type { StoreOptions } from './select.js';
export { FENCED, PgLeadership } from './postgres/leader.js';

/**
 * Makes a store; call `init()` on it before use (it creates or migrates the schema).
 * @example const store = openStore({ kind: 'sqlite', path: join(dataDir, 'fastgpu.db') }); await store.init();
 */
export function openStore(opts: StoreOptions): Store {
  switch (opts.kind) {
    case 'sqlite':
      return new SqliteStore({
        path: opts.path,
        ...(opts.busyTimeoutMs !== undefined ? { busyTimeoutMs: opts.busyTimeoutMs } : {}),
        ...(opts.backgroundCheckpointMs !== undefined ? { backgroundCheckpointMs: opts.backgroundCheckpointMs } : {}),
        ...(opts.log !== undefined ? { log: opts.log } : {}),
      });
    case 'postgres':
      return new PgStore({
        url: opts.url,
        ...(opts.schema !== undefined ? { schema: opts.schema } : {}),
        ...(opts.maxConnections !== undefined ? { maxConnections: opts.maxConnections } : {}),
        ...(opts.exclusive !== undefined ? { exclusive: opts.exclusive } : {}),
        ...(opts.fenceEpoch !== undefined ? { fenceEpoch: opts.fenceEpoch } : {}),
      });
    default: {
      // Exhaustiveness: adding a kind without a case is a compile error here.
      const never: never = opts;
      throw new Error(`unknown store kind ${String((never as { kind: unknown }).kind)}`);
    }
  }
}
export { ledgerWrites, linesToPricedUsage, pricedUsageToLines } from './ledger.js';
