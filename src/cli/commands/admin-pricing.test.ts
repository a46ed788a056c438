// `fastgpu admin price|promo`, `fastgpu usage` and the dry-run quote against a real server
// started in-process (real HTTP, SQLite).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
  dir = mkdtempSync(join(tmpdir(), 'fastgpu-pricing-cli-'));
  server = await startServer({ dataDir: join(dir, 'data'), port: 0, tickMs: 0, log: () => {} });
  admin = as(server.adminToken);
});

afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('fastgpu admin price and promo', () => {
  it('sets prices and lists the book', async () => {
    const r = await admin.run(['admin', 'price', 'set', 'H100', '2.50']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/H100-80GB\s+2\.5 USD/);
    const ls = JSON.parse((await admin.run(['admin', 'price', 'ls', '--output', 'json'])).stdout);
    expect(ls).toEqual({ currency: 'USD', default: '0', prices: { 'H100-80GB': '2.5' } });
    const bad = await admin.run(['admin', 'price', 'set', 'H100', 'cheap']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--price');
  });

  it('creates promotions and lists them as JSON', async () => {
    const r = await admin.run(['admin', 'promo', 'create', '--name', 'night', '--discount', '30%', '--from', '2020-01-01T00:00:00Z', '--to', '2099-01-01T00:00:00Z', '--models', 'H100,A100', '--tenants', 'a,b', '--hours', '22-06']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^NAME\s+DISCOUNT/);
    const list = JSON.parse((await admin.run(['admin', 'promo', 'ls', '--output', 'json'])).stdout);
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ name: 'night', discount: '30%', from: '2020-01-01T00:00:00.000Z', to: '2099-01-01T00:00:00.000Z', models: ['H100-80GB', 'A100-80GB'], tenants: ['a', 'b'], hours: '22:00-06:00', priority: 0 });
    expect(['active', 'off-hours']).toContain(list[0].status);
    const dup = await admin.run(['admin', 'promo', 'create', '--name', 'night', '--discount', '10%', '--from', '2020-01-01', '--to', '2021-01-01']);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toContain('exists');
  });

  it('names the flag when a value is wrong (exit 2)', async () => {
    const cases: [string[], string][] = [
      [['--discount', 'lots'], '--discount'],
      [['--from', 'yesterday'], '--from'],
      [['--hours', '25-3'], '--hours'],
      [['--to', '2019-01-01'], '--to'],
    ];
    for (const [over, flag] of cases) {
      const args: Record<string, string> = { '--name': 'p', '--discount': '10%', '--from': '2020-01-01', '--to': '2021-01-01' };
      for (let i = 0; i < over.length; i += 2) args[over[i]!] = over[i + 1]!;
      const r = await admin.run(['admin', 'promo', 'create', ...Object.entries(args).flat()]);
      expect(r.code, `${flag}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toContain(flag);
    }
  });

  it('members may not set prices', async () => {
    const made = await admin.run(['admin', 'tenant', 'create', 'team-m']);
    expect(made.code, made.stderr).toBe(0);
    const tok = await admin.run(['admin', 'token', 'create', '--tenant', 'team-m']);
    const member = as(tok.stdout.trim().split('\n').pop()!);
    const r = await member.run(['admin', 'price', 'set', 'H100', '1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/admin/i);
  });
});

describe('fastgpu admin billing', () => {
  it('shows the settings, changes the budget period and policy, and names a bad flag', async () => {
    const show = await admin.run(['admin', 'billing', '-o', 'json']);
    expect(show.code, show.stderr).toBe(0);
    expect(JSON.parse(show.stdout)).toEqual({ budgetPolicy: 'continue', budgetPeriod: 'all' });
    const set = await admin.run(['admin', 'billing', '--budget-period', 'Month', '--budget-policy', 'stop']);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toMatch(/BUDGET PERIOD\s+BUDGET POLICY\n\s*month\s+stop/);
    const bad = await admin.run(['admin', 'billing', '--budget-period', 'year']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('fastgpu: --budget-period: "year" is not one of all, month, week, day\n');
    expect(JSON.parse((await admin.run(['admin', 'billing', '-o', 'json'])).stdout)).toEqual({ budgetPolicy: 'stop', budgetPeriod: 'month' });
    await admin.run(['admin', 'billing', '--budget-period', 'all', '--budget-policy', 'continue']);
  });
});

describe('fastgpu usage and submit --dry-run', () => {
  it('prints the usage report (empty here) as a table or JSON with rows and totals', async () => {
    const json = await admin.run(['usage', '--from', '2025-01-01T00:00:00Z', '--to', '2025-02-01T00:00:00Z', '--output', 'json']);
    expect(json.code, json.stderr).toBe(0);
    const r = JSON.parse(json.stdout);
    expect(r).toMatchObject({ from: '2025-01-01T00:00:00.000Z', to: '2025-02-01T00:00:00.000Z', rows: [], totals: { listAmount: 0, discountAmount: 0, chargedAmount: 0 } });
    expect((await admin.run(['usage'])).stdout).toMatch(/^no usage from/);
    const bad = await admin.run(['usage', '--from', 'soon']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--from');
  });

  it('a dry run quotes the price: list, promotion and when it ends, estimate for the time limit', async () => {
    const file = join(dir, 'job.yaml');
    writeFileSync(file, 'command: [python, train.py]\nresources:\n  gpu: H100:0.5\ntimeLimit: 2h\n');
    const r = await admin.run(['submit', '--dry-run', file]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('# price: 1.25 USD/h list (0.5 × H100-80GB at 2.50 USD per GPU-hour)');
    expect(r.stdout).toContain('# estimate for the 2 h time limit: 2.50 USD');
  });
});
