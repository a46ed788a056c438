// `fastgpu admin token recover --data-dir DIR` end to end through bin/fastgpu (a real child
// process over the real SQLite file): while the server runs, and while it is stopped.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../server/main.js';

const run = promisify(execFile);
const BIN = resolve(import.meta.dirname, '../../../bin/fastgpu');

async function fastgpu(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', FASTGPU_HOME: dir } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

const lastLine = (s: string): string => s.trim().split('\n').at(-1) ?? '';

async function get(server: RunningServer, token: string, path: string): Promise<number> {
  return (await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${token}` } })).status;
}

let dir: string;
let dataDir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'fastgpu-recover-'));
  dataDir = join(dir, 'data');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('fastgpu admin token recover', () => {
  it('mints a working admin token into the store of a running server, then of a stopped one', async () => {
    let server = await startServer({ dataDir, port: 0, tickMs: 0, log: () => {} });
    try {
      const live = await fastgpu(['admin', 'token', 'recover', '--data-dir', dataDir]);
      expect(live.code, live.stderr).toBe(0);
      const secret = lastLine(live.stdout);
      expect(secret).not.toBe(server.adminToken);
      expect(await get(server, secret, '/v1/admin/tokens')).toBe(200);
      expect(readFileSync(join(dataDir, 'admin.token'), 'utf8').trim()).toBe(secret);
      // With the recovered token the original one can now be revoked (it is no longer the last).
      const list = (await (await fetch(`${server.url}/v1/admin/tokens`, { headers: { authorization: `Bearer ${secret}` } })).json()) as { tokens: { id: string; name: string }[] };
      const original = list.tokens.find((t) => t.name === 'admin')!;
      const rv = await fetch(`${server.url}/v1/admin/tokens/${original.id}/revoke`, { method: 'POST', headers: { authorization: `Bearer ${secret}` } });
      expect(rv.status).toBe(200);
      expect(await get(server, server.adminToken, '/v1/admin/tokens')).toBe(401);
    } finally {
      await server.close();
    }
    const stopped = await fastgpu(['admin', 'token', 'recover', '--data-dir', dataDir]);
    expect(stopped.code, stopped.stderr).toBe(0);
    const secret2 = lastLine(stopped.stdout);
    server = await startServer({ dataDir, port: 0, tickMs: 0, log: () => {} });
    try {
      // The next start reads admin.token: it is the recovered secret, and it works.
      expect(server.adminToken).toBe(secret2);
      expect(await get(server, secret2, '/v1/admin/tenants')).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('refuses a data dir without a database, creating nothing', async () => {
    const empty = join(dir, 'typo');
    const r = await fastgpu(['admin', 'token', 'recover', '--data-dir', empty]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/no FastGPU database at .*typo\/fastgpu\.db/);
    expect(existsSync(empty)).toBe(false);
  });
});
