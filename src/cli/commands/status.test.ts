import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliHarness, startPool, type TestPool } from '../testing.js';
import { statusText } from './status.js';

let pool: TestPool;
beforeAll(async () => {
  pool = await startPool();
});
afterAll(async () => pool?.close());

describe('fastgpu status', () => {
  it('one server over SQLite: itself, leading, and its store', async () => {
    const r = await cliHarness({ FASTGPU_HOME: pool.dir }).run(['status', '--server', pool.url, '--token', pool.token]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`store   SQLite ${pool.dir}/data/fastgpu.db`);
    expect(r.stdout).toContain('mode    one server');
    expect(r.stdout).toMatch(new RegExp(`this \\*\\s+${pool.url.replace(/[.]/g, '\\.')}\\s+LEADER`));
    const json = await cliHarness({ FASTGPU_HOME: pool.dir }).run(['status', '--server', pool.url, '--token', pool.token, '-o', 'json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ mode: 'single', leader: { url: pool.url, epoch: 0 }, servers: [{ role: 'leader' }] });
  });

  it('says so when no leader is elected, and marks gone servers', () => {
    const text = statusText(
      {
        store: 'PostgreSQL postgres://db/fastgpu',
        mode: 'replicated',
        leader: null,
        servers: [
          { id: 'srv_a', url: 'http://a:7070', role: 'gone', startedAt: 0, seenAt: 50_000 },
          { id: 'srv_b', url: 'http://b:7070', role: 'follower', startedAt: 0, seenAt: 99_000 },
        ],
        answeredBy: 'srv_b',
      },
      100_000,
    );
    expect(text).toContain('leader  no leader elected');
    expect(text).toMatch(/srv_a\s+http:\/\/a:7070\s+GONE/);
    expect(text).toMatch(/srv_b \*\s+http:\/\/b:7070\s+FOLLOWER/);
  });
});
