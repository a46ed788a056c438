// Lock-out-proof administration (issue 21): the last live admin token cannot be revoked, nor the
// caller's own token without ?force=1, nor a tenant deleted that holds every live admin token.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeHarness, type Harness } from './testing.js';

let h: Harness;
beforeEach(async () => {
  h = await makeHarness();
});
afterEach(async () => {
  await h.close();
});

const as = (token: string, method: string, url: string, body?: unknown) => h.req(method, url, body, { authorization: `Bearer ${token}` });

describe('revoking admin tokens', () => {
  it('refuses the lock-out sequence: the only admin token revoking itself answers 409, force or not, and it still works', async () => {
    const list = await h.req('GET', '/v1/admin/tokens');
    expect(list.status).toBe(200);
    const admins = list.body.tokens.filter((t: { role: string }) => t.role === 'admin');
    expect(admins).toHaveLength(1);
    for (const q of ['', '?force=1']) {
      const r = await h.req('POST', `/v1/admin/tokens/${admins[0].id}/revoke${q}`);
      expect(r.status).toBe(409);
      expect(r.body.error.code).toBe('CONFLICT');
      expect(r.body.error.message).toMatch(/last live admin token/);
      expect(r.body.error.message).toMatch(/fastgpu admin token recover --data-dir/);
    }
    expect((await h.req('GET', '/v1/admin/tokens')).status).toBe(200);
    expect((await h.store.getToken(admins[0].id))!.revokedAt).toBeNull();
  });

  it('revokes the caller’s own token only with ?force=1 once another admin token lives', async () => {
    const second = await h.req('POST', '/v1/admin/tokens', { tenant: 'default', role: 'admin', name: 'second' });
    expect(second.status).toBe(201);
    const mine = (await h.req('GET', '/v1/admin/tokens')).body.tokens.find((t: { name: string }) => t.name === 'admin');
    const plain = await h.req('POST', `/v1/admin/tokens/${mine.id}/revoke`);
    expect(plain.status).toBe(409);
    expect(plain.body.error.message).toMatch(/the token this request is made with: add \?force=1/);
    const forced = await h.req('POST', `/v1/admin/tokens/${mine.id}/revoke?force=1`);
    expect(forced.status).toBe(200);
    expect(forced.body.revokedAt).not.toBeNull();
    expect((await h.req('GET', '/v1/admin/tokens')).status).toBe(401);
    // The second admin is now the last: it can revoke neither itself nor be revoked.
    const last = await as(second.body.token, 'POST', `/v1/admin/tokens/${second.body.id}/revoke?force=1`);
    expect(last.status).toBe(409);
    expect(last.body.error.message).toMatch(/last live admin token/);
    // Revoking an already revoked token still answers it (no lock-out check on a no-op).
    expect((await as(second.body.token, 'POST', `/v1/admin/tokens/${mine.id}/revoke`)).status).toBe(200);
  });

  it('revokes another admin token without force while one stays live, and concurrent revokes never take the last', async () => {
    const b = await h.req('POST', '/v1/admin/tokens', { tenant: 'default', role: 'admin' });
    const c = await h.req('POST', '/v1/admin/tokens', { tenant: 'default', role: 'admin' });
    const mine = (await h.req('GET', '/v1/admin/tokens')).body.tokens.find((t: { name: string }) => t.name === 'admin');
    // b revokes c, c revokes b, and the first admin revokes itself (forced), all at once: one must be refused.
    const rs = await Promise.all([
      as(b.body.token, 'POST', `/v1/admin/tokens/${c.body.id}/revoke`),
      as(c.body.token, 'POST', `/v1/admin/tokens/${b.body.id}/revoke`),
      h.req('POST', `/v1/admin/tokens/${mine.id}/revoke?force=1`),
    ]);
    const live = (await h.store.listTokens()).filter((t) => t.role === 'admin' && t.revokedAt === null);
    expect(live.length).toBeGreaterThanOrEqual(1);
    expect(rs.some((r) => r.status === 409)).toBe(true);
  });

  it('refuses to delete a tenant that holds every live admin token', async () => {
    expect((await h.req('POST', '/v1/admin/tenants', { name: 'ops' })).status).toBe(201);
    const opsAdmin = await h.req('POST', '/v1/admin/tokens', { tenant: 'ops', role: 'admin' });
    const mine = (await h.req('GET', '/v1/admin/tokens')).body.tokens.find((t: { name: string }) => t.name === 'admin');
    expect((await h.req('POST', `/v1/admin/tokens/${mine.id}/revoke?force=1`)).status).toBe(200);
    const del = await as(opsAdmin.body.token, 'DELETE', '/v1/admin/tenants/ops');
    expect(del.status).toBe(409);
    expect(del.body.error.message).toMatch(/holds every live admin token/);
  });
});
