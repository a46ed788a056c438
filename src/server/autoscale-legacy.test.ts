// An old data dir's shared autoscale agent token (autoscale.token) is revoked at start and its
// file removed; nothing else is touched.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore } from '../store/index.js';
import type { Store } from '../store/port.js';
import { ManualClock } from '../util/clock.js';
import { hashToken } from './auth.js';
import { LEGACY_AUTOSCALE_TOKEN_FILE, retireSharedAutoscaleToken } from './autoscale-legacy.js';
import { ensureAdminToken } from './main.js';

let dir: string;
let store: Store;
const clock = new ManualClock(1_700_000_000_000);
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fastgpu-legacy-'));
  store = openStore({ kind: 'sqlite', path: join(dir, 'fastgpu.db') });
  await store.init();
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const token = async (id: string, secret: string, role: 'agent' | 'admin') =>
  store.insertToken({ id, hash: hashToken(secret), tenant: 'default', role, name: `autoscale-local`, createdAt: clock.now(), revokedAt: null });

describe('the old shared autoscale token', () => {
  it('is revoked at start, found by the file’s secret, and the file removed; other tokens stay', async () => {
    await token('tok_old', 'old-secret', 'agent');
    await token('tok_same_name', 'another-secret', 'agent');
    writeFileSync(join(dir, LEGACY_AUTOSCALE_TOKEN_FILE), 'old-secret\n', { mode: 0o600 });
    const said: string[] = [];
    await ensureAdminToken(dir, store, clock, (l) => said.push(l));
    expect((await store.findTokenByHash(hashToken('old-secret')))?.revokedAt).toBe(clock.now());
    expect((await store.findTokenByHash(hashToken('another-secret')))?.revokedAt).toBeNull();
    expect(existsSync(join(dir, LEGACY_AUTOSCALE_TOKEN_FILE))).toBe(false);
    expect(said.join('\n')).toMatch(/revoked the old shared autoscale agent token tok_old/);
  });

  it('leaves a file holding a token that is not an agent token, and says so', async () => {
    await token('tok_admin', 'admin-secret', 'admin');
    writeFileSync(join(dir, LEGACY_AUTOSCALE_TOKEN_FILE), 'admin-secret\n');
    const said: string[] = [];
    await retireSharedAutoscaleToken(dir, store, clock, (l) => said.push(l));
    expect((await store.findTokenByHash(hashToken('admin-secret')))?.revokedAt).toBeNull();
    expect(existsSync(join(dir, LEGACY_AUTOSCALE_TOKEN_FILE))).toBe(true);
    expect(said.join('\n')).toMatch(/not the old shared autoscale token/);
  });

  it('does nothing, silently, without the file', async () => {
    const said: string[] = [];
    await retireSharedAutoscaleToken(dir, store, clock, (l) => said.push(l));
    expect(said).toEqual([]);
  });
});
