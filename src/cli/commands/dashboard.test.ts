// `fastgpu dashboard` against a real server started in-process: each run prints a fresh
// single-use login link; a used one says to run `fastgpu dashboard` (issue 22 item 9).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../server/main.js';
import { cliHarness } from '../testing.js';

let dir: string;
let server: RunningServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fastgpu-dashboard-cli-'));
  server = await startServer({ dataDir: join(dir, 'data'), port: 0, tickMs: 0, log: () => {} });
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

const login = (link: string) =>
  fetch(`${server.url}/dashboard/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-fastgpu-csrf': '1' },
    body: JSON.stringify({ token: new URL(link).searchParams.get('token') }),
  });

it('prints a fresh link each time; a used link says to run `fastgpu dashboard`', async () => {
  const cli = cliHarness({ FASTGPU_HOME: dir, FASTGPU_URL: server.url, FASTGPU_TOKEN: server.adminToken, PATH: '' }, dir);
  const first = await cli.run(['dashboard']);
  expect(first.code, first.stderr).toBe(0);
  const link = first.stdout.trim();
  // When it expires, as the clock on the wall says it: no ISO, no milliseconds.
  expect(first.stderr).toMatch(/^fastgpu: this link logs one browser in once, until \d{2}:\d{2}:\d{2} \(local time\); run `fastgpu dashboard` again for another\n$/);
  expect(link).toMatch(new RegExp(`^${server.url}/\\?token=fgl_`));
  expect((await login(link)).status).toBe(200);
  const again = await login(link);
  expect(again.status).toBe(401);
  expect(((await again.json()) as { error: { message: string } }).error.message).toMatch(/run `fastgpu dashboard`/);
  // Also the link `up` printed: single use, replaced by a fresh one.
  expect((await login(server.loginUrl)).status).toBe(200);
  const second = (await cli.run(['dashboard'])).stdout.trim();
  expect(second).not.toBe(link);
  expect((await login(second)).status).toBe(200);
});
