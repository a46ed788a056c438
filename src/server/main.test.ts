import { mkdtempSync, rmSync, statSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from './main.js';

const dirs: string[] = [];
const servers: RunningServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'fastgpu-main-'));
  dirs.push(d);
  return join(d, 'data');
}

async function start(dataDir: string): Promise<RunningServer> {
  const s = await startServer({ dataDir, port: 0, tickMs: 50, log: () => {} });
  servers.push(s);
  return s;
}

/** Read SSE frames from a fetch response until `until` says stop. */
async function readSse(res: Response, until: (frames: string[]) => boolean): Promise<string[]> {
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let buf = '';
  const frames: string[] = [];
  while (!until(frames)) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let i: number;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const f = buf.slice(0, i);
      buf = buf.slice(i + 2);
      if (!f.startsWith(':')) frames.push(f);
    }
  }
  await reader.cancel();
  return frames;
}

describe('startServer', () => {
  it('creates the data dir, the db and a 0600 admin token, listens on an ephemeral port, keeps the token across restarts', async () => {
    const dir = tempDir();
    const s = await start(dir);
    expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(statSync(join(dir, 'admin.token')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, 'admin.token'), 'utf8').trim()).toBe(s.adminToken);
    expect(statSync(join(dir, 'fastgpu.db')).isFile()).toBe(true);
    expect(await (await fetch(`${s.url}/healthz`)).json()).toEqual({ ok: true });
    expect((await fetch(`${s.url}/v1/tasks`)).status).toBe(401);
    const auth = { authorization: `Bearer ${s.adminToken}` };
    const sub = await fetch(`${s.url}/v1/tasks`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ command: 'true' }) });
    expect(sub.status).toBe(201);
    await s.close();
    servers.length = 0;

    const s2 = await start(dir);
    expect(s2.adminToken).toBe(s.adminToken);
    const list = (await (await fetch(`${s2.url}/v1/tasks`, { headers: auth })).json()) as { tasks: unknown[] };
    expect(list.tasks).toHaveLength(1);
  });

  it('streams events over SSE, resumes after Last-Event-ID, and close() ends streams and long-polls', async () => {
    const s = await start(tempDir());
    const auth = { authorization: `Bearer ${s.adminToken}` };
    const events = await fetch(`${s.url}/v1/events`, { headers: auth });
    expect(events.headers.get('content-type')).toContain('text/event-stream');
    const post = (body: unknown) => fetch(`${s.url}/v1/tasks`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    await post({ name: 'e1', command: 'true' });
    await post({ name: 'e2', command: 'true' });
    const frames = await readSse(events, (f) => f.filter((x) => x.includes('task.submitted')).length >= 2);
    const submitted = frames.filter((f) => f.includes('event: task.submitted'));
    expect(submitted).toHaveLength(2);
    const firstId = Number(/^id: (\d+)/m.exec(submitted[0]!)![1]);

    const resumed = await fetch(`${s.url}/v1/events`, { headers: { ...auth, 'last-event-id': String(firstId) } });
    const again = await readSse(resumed, (f) => f.some((x) => x.includes('task.submitted')));
    expect(again.find((f) => f.includes('task.submitted'))).toContain('"name":"e2"');

    // Shutdown with a stream and a long-poll open: both end, close() returns promptly.
    const open = await fetch(`${s.url}/v1/events`, { headers: auth });
    const reg = await fetch(`${s.url}/v1/agent/register`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'n', cpuMilli: 1000, memoryMiB: 1024, labels: {}, gpus: [], simulated: true, agentVersion: 't', tasks: [] }),
    });
    const { nodeId, credential } = (await reg.json()) as { nodeId: string; credential: string };
    // A long-poll of 120 s, twice the test's timeout: close() must end it, not wait it out.
    const poll = fetch(`${s.url}/v1/agent/assignments?nodeId=${nodeId}&waitMs=120000`, { headers: { ...auth, 'x-fastgpu-node-credential': credential } }).then((r) => r.status, () => -1);
    await s.close();
    servers.length = 0;
    await readSse(open, () => false);
    expect([200, -1, 503]).toContain(await poll);
  });
});
