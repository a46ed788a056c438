// `fastgpu admin tenant|token` against a real server started in-process (real HTTP, SQLite).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../server/main.js';
import { cliHarness, type CliHarness } from '../testing.js';

let dir: string;
let server: RunningServer;
let admin: CliHarness;
const as = (token: string): CliHarness => cliHarness({ FASTGPU_HOME: dir, FASTGPU_URL: server.url, FASTGPU_TOKEN: token, PATH: '' }, dir);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fastgpu-admin-cli-'));
  server = await startServer({ dataDir: join(dir, 'data'), port: 0, tickMs: 0, log: () => {} });
  admin = as(server.adminToken);
});

afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('fastgpu admin tenant', () => {
  it('creates tenants with GPUs as typed (fractions too) and lists them', async () => {
    const made = await admin.run(['admin', 'tenant', 'create', 'research', '--guarantee', '2', '--limit', '4.5', '--weight', '2', '--budget', '500']);
    expect(made.code, made.stderr).toBe(0);
    expect(made.stdout).toMatch(/research\s+2\s+4\.5\s+2\s+500\.00/);
    expect((await admin.run(['admin', 'tenant', 'create', 'web', '--guarantee', '0.5'])).code).toBe(0);
    const ls = await admin.run(['admin', 'tenant', 'ls', '--output', 'json']);
    expect(ls.code).toBe(0);
    const list = JSON.parse(ls.stdout) as { name: string; guaranteeMilli: number; limitMilli: number | null; weight: number; budget: string | null }[];
    expect(list.map((t) => t.name)).toEqual(['default', 'research', 'web']);
    expect(list[1]).toMatchObject({ guaranteeMilli: 2000, limitMilli: 4500, weight: 2, budget: '500.00' });
    expect(list[2]).toMatchObject({ guaranteeMilli: 500, limitMilli: null, weight: 1, budget: null });
    const table = await admin.run(['admin', 'tenant', 'ls']);
    expect(table.stdout.split('\n')[0]).toMatch(/^NAME\s+GUARANTEE\s+LIMIT\s+WEIGHT\s+BUDGET/);
  });

  it('names the flag when a value is wrong (exit 2, nothing sent)', async () => {
    const r = await admin.run(['admin', 'tenant', 'create', 'x', '--guarantee', 'lots']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--guarantee');
    const lim = await admin.run(['admin', 'tenant', 'create', 'x', '--guarantee', '2', '--limit', '1']);
    expect(lim.code).toBe(2);
    expect(lim.stderr).toContain('--limit');
    expect(JSON.parse((await admin.run(['admin', 'tenant', 'ls', '-o', 'json'])).stdout).map((t: { name: string }) => t.name)).not.toContain('x');
  });
});

describe('fastgpu admin tenant: default time limit', () => {
  it('create sets it, update changes only what it is given, none goes back to the pool’s; a member’s untimed task gets it', async () => {
    const made = await admin.run(['admin', 'tenant', 'create', 'batch', '--guarantee', '1', '--budget', '20', '--default-time-limit', '45m']);
    expect(made.code, made.stderr).toBe(0);
    expect(made.stdout.split('\n')[0]).toMatch(/^NAME\s+GUARANTEE\s+LIMIT\s+WEIGHT\s+BUDGET\s+DEFAULT TIME LIMIT/);
    expect(made.stdout).toMatch(/batch\s+1\s+-\s+1\s+20\.00\s+45m/);

    const up = await admin.run(['admin', 'tenant', 'update', 'batch', '--default-time-limit', '1h30m', '-o', 'json']);
    expect(up.code, up.stderr).toBe(0);
    expect(JSON.parse(up.stdout)).toMatchObject({ guarantee: 1, budget: '20.00', defaultTimeLimit: '1h30m', defaultTimeLimitMs: 5_400_000 });

    const token = (await admin.run(['admin', 'token', 'create', '--tenant', 'batch'])).stdout.trimEnd().split('\n').at(-1)!;
    const member = as(token);
    const id = (await member.run(['run', '--detach', '--', 'true'])).stdout.trim();
    const task = JSON.parse((await member.run(['get', id, '-o', 'json'])).stdout) as { spec: { timeLimitMs?: number } };
    expect(task.spec.timeLimitMs).toBe(5_400_000);
    const own = (await member.run(['run', '--detach', '--time-limit', '2m', '--', 'true'])).stdout.trim();
    expect((JSON.parse((await member.run(['get', own, '-o', 'json'])).stdout) as { spec: { timeLimitMs?: number } }).spec.timeLimitMs).toBe(120_000);
    await member.run(['cancel', id, own]);

    const none = await admin.run(['admin', 'tenant', 'update', 'batch', '--default-time-limit', 'none', '--budget', 'none']);
    expect(none.code, none.stderr).toBe(0);
    expect(none.stdout).toMatch(/batch\s+1\s+-\s+1\s+-\s+- \(the pool's\)/);
  });

  it('update names the flag when a value is wrong, and says when there is nothing to change (exit 2)', async () => {
    const bad = await admin.run(['admin', 'tenant', 'update', 'default', '--default-time-limit', 'soon']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--default-time-limit: cannot read duration "soon"');
    const weight = await admin.run(['admin', 'tenant', 'update', 'default', '--weight', 'none']);
    expect(weight.code).toBe(2);
    expect(weight.stderr).toContain('--weight: "none" resets --limit, --budget and --default-time-limit only');
    const nothing = await admin.run(['admin', 'tenant', 'update', 'default']);
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toContain('nothing to change');
    const missing = await admin.run(['admin', 'tenant', 'update', 'nobody', '--weight', '2']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('nobody not found');
  });
});

describe('fastgpu admin tenant rm', () => {
  it('refuses while the tenant has work, then deletes it and revokes its tokens; default stays', async () => {
    await admin.run(['admin', 'tenant', 'create', 'short-lived', '--limit', '1']);
    const token = (await admin.run(['admin', 'token', 'create', '--tenant', 'short-lived'])).stdout.trimEnd().split('\n').at(-1)!;
    const member = as(token);
    const job = await member.run(['run', '--detach', '--', 'true']);
    expect(job.code, job.stderr).toBe(0);
    const busy = await admin.run(['admin', 'tenant', 'rm', 'short-lived']);
    expect(busy.code).toBe(1);
    expect(busy.stderr).toContain('tenant short-lived still has 1 unfinished task: cancel them');
    expect((await member.run(['cancel', job.stdout.trim()])).code).toBe(0);

    const rm = await admin.run(['admin', 'tenant', 'rm', 'short-lived']);
    expect(rm.code, rm.stderr).toBe(0);
    expect(rm.stdout).toBe('short-lived deleted; 1 token revoked\n');
    const after = await member.run(['ps']);
    expect(after.code).toBe(1);
    expect(after.stderr).toMatch(/revoked/i);
    expect((await admin.run(['admin', 'tenant', 'ls', '-o', 'json'])).stdout).not.toContain('short-lived');
    // Its history stays: the cancelled task is still listed.
    expect((await admin.run(['ps', '--all', '-o', 'json'])).stdout).toContain(job.stdout.trim());

    const again = await admin.run(['admin', 'tenant', 'rm', 'short-lived']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('short-lived not found');
    const dflt = await admin.run(['admin', 'tenant', 'rm', 'default']);
    expect(dflt.code).toBe(1);
    expect(dflt.stderr).toContain('tenant default cannot be deleted');
  });
});

describe('fastgpu admin token', () => {
  it('prints the token alone on its last line; it works with its role until revoked', async () => {
    await admin.run(['admin', 'tenant', 'create', 'team']);
    const made = await admin.run(['admin', 'token', 'create', '--tenant', 'team', '--role', 'viewer']);
    expect(made.code, made.stderr).toBe(0);
    const lines = made.stdout.trimEnd().split('\n');
    const token = lines.at(-1)!;
    expect(token).toMatch(/^\S+$/);
    const viewer = as(token);
    const ps = await viewer.run(['ps']);
    expect(ps.code, ps.stderr).toBe(0);
    const denied = await viewer.run(['admin', 'tenant', 'ls']);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain('admin');

    const ls = await admin.run(['admin', 'token', 'ls', '--tenant', 'team', '-o', 'json']);
    const tokens = JSON.parse(ls.stdout) as { id: string; role: string }[];
    expect(tokens).toHaveLength(1);
    expect(tokens[0]!.role).toBe('viewer');
    expect(ls.stdout).not.toContain(token);

    const rv = await admin.run(['admin', 'token', 'revoke', tokens[0]!.id]);
    expect(rv.code, rv.stderr).toBe(0);
    expect(rv.stdout).toContain(`${tokens[0]!.id} revoked`);
    const after = await viewer.run(['ps']);
    expect(after.code).toBe(1);
    expect(after.stderr).toMatch(/revoked|401|token/i);
  });

  it('a metrics token reads /metrics (for a Prometheus scraper) and nothing else', async () => {
    const made = await admin.run(['admin', 'token', 'create', '--tenant', 'default', '--role', 'metrics', '--name', 'prometheus']);
    expect(made.code, made.stderr).toBe(0);
    expect(made.stdout).toContain('(metrics)');
    const token = made.stdout.trimEnd().split('\n').at(-1)!;
    const scrape = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    expect(scrape.status).toBe(200);
    expect(await scrape.text()).toContain('fastgpu_');
    const ps = await as(token).run(['ps']);
    expect(ps.code).toBe(1);
    expect(ps.stderr).toContain('a metrics token may only read /metrics');
  });

  it('refuses an unknown role (exit 2) and a tenant that does not exist', async () => {
    const role = await admin.run(['admin', 'token', 'create', '--tenant', 'team', '--role', 'root']);
    expect(role.code).toBe(2);
    expect(role.stderr).toContain('--role');
    const tenant = await admin.run(['admin', 'token', 'create', '--tenant', 'ghost']);
    expect(tenant.code).not.toBe(0);
    expect(tenant.stderr).toContain('ghost');
  });
});
