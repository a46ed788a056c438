// Before each lent node joined with a join token of its own (autoscale-join.ts), `--autoscale`
// kept one agent token for all of them in `<dataDir>/autoscale.token`. Nothing reads that file
// any more, but the token it holds would still let anyone who has the file register a node. At
// start the server revokes exactly that token (found by the file's hash, never by name) and
// removes the file.
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../core/types.js';
import type { Store } from '../store/port.js';
import { hashToken } from './auth.js';

export const LEGACY_AUTOSCALE_TOKEN_FILE = 'autoscale.token';

/** Revokes the token of an old `autoscale.token` and removes the file; says what it did. */
export async function retireSharedAutoscaleToken(dataDir: string, store: Store, clock: Clock, log: (line: string) => void): Promise<void> {
  const file = join(dataDir, LEGACY_AUTOSCALE_TOKEN_FILE);
  let secret: string;
  try {
    secret = (await readFile(file, 'utf8')).trim();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  const token = secret === '' ? null : await store.findTokenByHash(hashToken(secret));
  // Only an agent token: a file that somehow holds another token's secret is left alone, and said.
  if (token && token.role !== 'agent') {
    log(`warning: ${file} holds the secret of ${token.role} token ${token.id}, not the old shared autoscale token: left as it is`);
    return;
  }
  if (token && token.revokedAt === null) await store.revokeToken(token.id, clock.now());
  await rm(file, { force: true });
  log(`revoked the old shared autoscale agent token${token ? ` ${token.id}` : ''} and removed ${file}: lent nodes now join with a token of their own`);
}
