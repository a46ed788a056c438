// `fastgpu admin token recover`: a new admin token written straight into the store of a data dir,
// for an operator on the server host who has no live admin token left. It opens the SQLite file
// beside a running server (WAL: readers and one writer at a time, busy_timeout waits its turn) or
// with none running; the server sees the token on its next lookup (tokens are not cached as absent
// beyond a few seconds).
import { existsSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { invalid } from '../core/errors.js';
import type { Clock } from '../core/types.js';
import { openStore } from '../store/index.js';
import type { TokenRecord } from '../store/port.js';
import { hashToken } from './auth.js';
import { newId, newSecret } from './ids.js';
import { ensureDefaultTenant } from './routes/admin.js';

export interface RecoveredToken {
  id: string;
  secret: string;
  /** `<dataDir>/admin.token`, now holding the new secret (what the next start prints a login link for). */
  file: string;
}

export async function recoverAdminToken(dataDir: string, clock: Clock): Promise<RecoveredToken> {
  const db = join(dataDir, 'fastgpu.db');
  // Never create an empty database by mistake (a typo in --data-dir): the store must exist.
  if (!existsSync(db)) throw invalid('--data-dir', `no FastGPU database at ${db}: give the data dir of the server (fastgpu server --data-dir …)`);
  const store = openStore({ kind: 'sqlite', path: db });
  try {
    await store.init();
    await ensureDefaultTenant(store, clock);
    const secret = newSecret();
    const rec: TokenRecord = { id: newId('tok'), hash: hashToken(secret), tenant: 'default', role: 'admin', name: 'admin-recovered', createdAt: clock.now(), revokedAt: null };
    await store.insertToken(rec);
    // admin.token follows, so that a restart uses (and prints a login link for) a live token.
    const file = join(dataDir, 'admin.token');
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, `${secret}\n`, { mode: 0o600 });
    await rename(tmp, file);
    return { id: rec.id, secret, file };
  } finally {
    await store.close();
  }
}
