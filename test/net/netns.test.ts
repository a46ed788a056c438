// Agents across a real network (issue 11 §3): a server and two agents, each in its own network
// namespace joined by veth pairs, so traffic crosses real interfaces. The agents join with a
// join token over TLS (a self-signed pair, trusted with --ca) and run tasks; a partition shorter
// than the lease disturbs nothing; one longer than the lease stops the task there and runs it
// again on the other node, never both at once. Where the host refuses namespaces this file says
// why and skips. The lease is 6 s (--node-lost-after) so that the file stays short.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FastGPU } from '../../src/sdk/client.js';
import { BIN, Daemon, lines, requireBuild, until } from '../e2e/harness.js';
import { namespacesRefused, Topology } from './netns.js';

const refused = await namespacesRefused();
if (refused) console.warn(`test/net: skipped: ${refused}`);

const PORT = 7443;
const dir = mkdtempSync(join(tmpdir(), 'fastgpu-net-'));
const topo = new Topology();
const daemons: Daemon[] = [];
let client: FastGPU;
let cert = '';

function inNs(ns: string, args: string[]): Daemon {
  const env: NodeJS.ProcessEnv = { ...process.env, FASTGPU_HOME: join(dir, 'home') };
  delete env.FASTGPU_TOKEN;
  delete env.FASTGPU_URL;
  const d = new Daemon(spawn('ip', ['netns', 'exec', ns, process.execPath, BIN, ...args], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] }));
  daemons.push(d);
  return d;
}

async function taskOn(id: string, state: string): Promise<string | undefined> {
  const t = await client.tasks.get(id);
  return t.state === state ? (t.placement?.node ?? '') : undefined;
}

describe.skipIf(refused !== null)('agents in network namespaces', () => {
  beforeAll(async () => {
    requireBuild();
    await topo.create(2);
    const server = inNs(topo.serverNs, [
      'server', '--data-dir', join(dir, 'data'), '--host', '0.0.0.0', '--port', String(PORT), '--tls-self-signed',
      ...['10.211.0.1', '10.211.1.1', '10.211.2.1'].flatMap((a) => ['--tls-san', a]), '--node-lost-after', '6s', '--quiet',
    ]);
    await server.waitFor(/FastGPU server listening at https:/, 30_000);
    cert = join(dir, 'data', 'tls', 'cert.pem');
    const token = readFileSync(join(dir, 'data', 'admin.token'), 'utf8').trim();
    client = new FastGPU({ url: `https://${topo.host.serverAddr}:${PORT}`, token, ca: cert, env: {} });
    const jt = await client.request<{ token: string }>('POST', '/v1/admin/join-tokens', { body: { uses: 2, labels: { net: 'netns' } } });
    topo.agents.forEach((l, i) => {
      inNs(l.ns, ['agent', '--server', `https://${l.serverAddr}:${PORT}`, '--join-token', jt.token, '--ca', cert, '--gpus', '1xH100', '--name', `net-${i + 1}`, '--state-dir', join(dir, `agent-${i + 1}`), '--quiet']);
    });
    await until('both agents READY', async () => {
      const nodes = await client.nodes();
      return nodes.filter((n) => n.state === 'READY').length === 2 ? nodes : undefined;
    }, 40_000);
  }, 90_000);

  afterAll(async () => {
    await Promise.all(daemons.map((d) => d.kill9()));
    await topo.destroy();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('two agents joined over TLS with one join token, each with its label, and run tasks', async () => {
    const nodes = await client.nodes();
    expect(nodes.map((n) => [n.name, n.labels?.net, n.agentVersion]).sort()).toEqual([
      ['net-1', 'netns', expect.any(String)],
      ['net-2', 'netns', expect.any(String)],
    ]);
    // The join token is used up: a third machine could not join with it.
    const tokens = await client.request<{ joinTokens: { uses: number; maxUses: number }[] }>('GET', '/v1/admin/join-tokens');
    expect(tokens.joinTokens[0]).toMatchObject({ uses: 2, maxUses: 2 });
    const ids = [];
    for (const i of [1, 2]) ids.push((await client.tasks.submit({ name: `hello-${i}`, command: ['sh', '-c', `sleep 2; echo hello from $FASTGPU_TASK_ID`], resources: { gpu: 1 } })).id);
    const placed = await Promise.all(ids.map((id) => until(`${id} SUCCEEDED`, () => taskOn(id, 'SUCCEEDED'), 40_000)));
    expect(placed.sort()).toEqual(['net-1', 'net-2']);
  }, 60_000);

  it('a partition shorter than the lease disturbs nothing', async () => {
    const id = (await client.tasks.submit({ name: 'short-cut', command: ['sleep', '6'], resources: { gpu: 1 }, retries: 2 })).id;
    const node = await until('running', () => taskOn(id, 'RUNNING'), 30_000);
    const link = topo.agents[Number(node.split('-')[1]) - 1]!;
    await topo.link(link, 'down');
    await new Promise((r) => setTimeout(r, 2_000)); // the partition itself: a third of the 6 s lease
    await topo.link(link, 'up');
    expect(await until('succeeded', () => taskOn(id, 'SUCCEEDED'), 30_000)).toBe(node);
    const t = await client.tasks.get(id);
    expect(t.history).toHaveLength(1);
  }, 60_000);

  it('a partition longer than the lease: stopped there, run again on the other node, never overlapping', async () => {
    const log = join(dir, 'long-cut.log');
    const pidFile = join(dir, 'long-cut.pid');
    // Each attempt checks that the one before it is dead before it writes its own pid.
    const script = `if [ -f ${pidFile} ] && kill -0 "$(cat ${pidFile})" 2>/dev/null; then echo OVERLAP >> ${log}; fi; echo $$ > ${pidFile}; echo "start $FASTGPU_ATTEMPT" >> ${log}; if [ "$FASTGPU_ATTEMPT" = 1 ]; then sleep 120; else sleep 1; fi`;
    const id = (await client.tasks.submit({ name: 'long-cut', command: ['sh', '-c', script], resources: { gpu: 1 }, retries: 2 })).id;
    const first = await until('running', () => taskOn(id, 'RUNNING'), 30_000);
    const link = topo.agents[Number(first.split('-')[1]) - 1]!;
    await topo.link(link, 'down');
    try {
      const second = await until('running elsewhere', async () => {
        const t = await client.tasks.get(id);
        return t.state === 'RUNNING' && t.placement?.node !== first ? t.placement?.node : undefined;
      }, 40_000);
      expect(second).not.toBe(first);
    } finally {
      await topo.link(link, 'up');
    }
    await until('succeeded', () => taskOn(id, 'SUCCEEDED'), 30_000);
    expect(lines(log)).toEqual(['start 1', 'start 2']);
    const t = await client.tasks.get(id);
    expect(t.history.map((a) => a.node)).toEqual([first, expect.not.stringMatching(first)]);
    // The cut-off node comes back once its link does.
    await until('both READY again', async () => ((await client.nodes()).every((n) => n.state === 'READY') ? true : undefined), 30_000);
  }, 90_000);
});
