// Store conformance for joining (issue 11): join tokens and node credentials, run on both
// adapters from storeConformance. Only hashes are stored; a redemption counts one use
// atomically and refuses, without counting, a token that is unknown, revoked, expired or used up.
import { describe, expect, it } from 'vitest';
import type { JoinTokenRecord, NodeCredentialRecord } from './join-port.js';
import type { Store } from './port.js';

const T0 = 1_700_000_000_000;

const token = (id: string, o: Partial<JoinTokenRecord> = {}): JoinTokenRecord => ({
  id,
  hash: `hash-${id}`,
  labels: { rack: 'r1', 'fastgpu.io/zone': 'lab ö' },
  maxUses: 2,
  uses: 0,
  createdAt: T0,
  expiresAt: T0 + 900_000,
  revokedAt: null,
  ...o,
});

const credential = (id: string, node: string, o: Partial<NodeCredentialRecord> = {}): NodeCredentialRecord => ({
  id,
  hash: `chash-${id}`,
  node,
  joinTokenId: 'j1',
  createdAt: T0,
  expiresAt: T0 + 86_400_000,
  revokedAt: null,
  ...o,
});

export function joinConformance(store: () => Store): void {
  describe('join tokens', () => {
    it('stores a token as given and lists oldest first', async () => {
      const s = store();
      await s.insertJoinToken(token('j2', { createdAt: T0 + 1 }));
      await s.insertJoinToken(token('j1'));
      expect(await s.listJoinTokens()).toEqual([token('j1'), token('j2', { createdAt: T0 + 1 })]);
    });

    it('refuses a duplicate id or hash with CONFLICT', async () => {
      const s = store();
      await s.insertJoinToken(token('j1'));
      await expect(s.insertJoinToken(token('j1', { hash: 'other' }))).rejects.toMatchObject({ code: 'CONFLICT' });
      await expect(s.insertJoinToken(token('j9', { hash: 'hash-j1' }))).rejects.toMatchObject({ code: 'CONFLICT' });
    });

    it('counts each use and refuses once used up, counting nothing more', async () => {
      const s = store();
      await s.insertJoinToken(token('j1'));
      const a = await s.redeemJoinToken('hash-j1', T0 + 10);
      expect(a).toEqual({ ok: true, token: token('j1', { uses: 1 }) });
      expect(await s.redeemJoinToken('hash-j1', T0 + 20)).toMatchObject({ ok: true, token: { uses: 2 } });
      expect(await s.redeemJoinToken('hash-j1', T0 + 30)).toMatchObject({ ok: false, why: 'used-up' });
      expect((await s.listJoinTokens())[0]?.uses).toBe(2);
    });

    it('refuses an unknown, expired or revoked token', async () => {
      const s = store();
      await s.insertJoinToken(token('j1'));
      await s.insertJoinToken(token('j2x', { hash: 'h2' }));
      expect(await s.redeemJoinToken('nope', T0)).toEqual({ ok: false, why: 'unknown' });
      expect(await s.redeemJoinToken('hash-j1', T0 + 900_000)).toMatchObject({ ok: false, why: 'expired' });
      expect(await s.revokeJoinToken('j2x', T0 + 5)).toBe(true);
      expect(await s.revokeJoinToken('j2x', T0 + 9)).toBe(true);
      expect(await s.revokeJoinToken('missing', T0 + 9)).toBe(false);
      expect(await s.redeemJoinToken('h2', T0 + 10)).toMatchObject({ ok: false, why: 'revoked', token: { revokedAt: T0 + 5 } });
      expect((await s.listJoinTokens()).map((t) => t.uses)).toEqual([0, 0]);
    });

    it('gives a token with one use left to exactly one of many racing redemptions', async () => {
      const s = store();
      await s.insertJoinToken(token('j1', { maxUses: 3, uses: 2 }));
      const results = await Promise.all(Array.from({ length: 8 }, () => s.redeemJoinToken('hash-j1', T0 + 1)));
      expect(results.filter((r) => r.ok)).toHaveLength(1);
      expect((await s.listJoinTokens())[0]?.uses).toBe(3);
    });
  });

  describe('node credentials', () => {
    it('finds a credential by its hash', async () => {
      const s = store();
      await s.insertNodeCredential(credential('c1', 'gpu-a'));
      await s.insertNodeCredential(credential('c2', 'gpu-b', { joinTokenId: null }));
      expect(await s.findNodeCredentialByHash('chash-c1')).toEqual(credential('c1', 'gpu-a'));
      expect(await s.findNodeCredentialByHash('chash-c2')).toEqual(credential('c2', 'gpu-b', { joinTokenId: null }));
      expect(await s.findNodeCredentialByHash('none')).toBeNull();
      await expect(s.insertNodeCredential(credential('c1', 'gpu-c', { hash: 'x' }))).rejects.toMatchObject({ code: 'CONFLICT' });
    });

    it("revokes one of a node's credentials, or all of them, and only that node's", async () => {
      const s = store();
      await s.insertNodeCredential(credential('c1', 'gpu-a'));
      await s.insertNodeCredential(credential('c2', 'gpu-a'));
      await s.insertNodeCredential(credential('c3', 'gpu-a'));
      await s.insertNodeCredential(credential('c4', 'gpu-b'));
      expect(await s.revokeNodeCredentials('gpu-a', T0 + 1, 'c1')).toBe(1);
      expect(await s.revokeNodeCredentials('gpu-b', T0 + 1, 'c2')).toBe(0);
      expect(await s.revokeNodeCredentials('gpu-a', T0 + 2)).toBe(2);
      expect(await s.revokeNodeCredentials('gpu-a', T0 + 3)).toBe(0);
      expect((await s.findNodeCredentialByHash('chash-c1'))?.revokedAt).toBe(T0 + 1);
      expect((await s.findNodeCredentialByHash('chash-c3'))?.revokedAt).toBe(T0 + 2);
      expect((await s.findNodeCredentialByHash('chash-c4'))?.revokedAt).toBeNull();
    });
  });
}
