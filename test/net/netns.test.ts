// Agents across a real network (issue 11 §3): a server and two agents, each in its own network
// namespace joined by veth pairs, so traffic crosses real interfaces. The agents join with a
// join token over TLS (a self-signed pair, trusted with --ca) and run tasks; a partition shorter
// than the lease disturbs nothing; one longer than the lease stops the task there and runs it
// again on the other node, never both at once. Where the host refuses namespaces this file says
// why and skips. The lease is 6 s (--node-lost-after) so that the file stays short.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FastGPU } from '../../src/sdk/client.js';
import { BIN, Daemon, lines, requireBuild, ROOT, until } from '../e2e/harness.js';
import { have, namespacesRefused, Topology, type Link } from './netns.js';

const refused = (await namespacesRefused()) ?? ((await have('nft')) ? null : 'nft (nftables) is not installed: scripts/test-deps.sh installs it');
if (refused) console.warn(`test/net: skipped: ${refused}`);
const TOXIPROXY = process.env.TOXIPROXY_SERVER ?? join(ROOT, '.tools', 'bin', 'toxiproxy-server');
const noToxiproxy = existsSync(TOXIPROXY) ? null : `${TOXIPROXY} is missing (scripts/test-deps.sh builds it when Go is installed)`;
if (!refused && noToxiproxy) console.warn(`test/net: the latency scenario is skipped: ${noToxiproxy}`);

const PORT = 7443;
const dir = mkdtempSync(join(tmpdir(), 'fastgpu-net-'));
const topo = new Topology();
const daemons: Daemon[] = [];
let client: FastGPU;
let cert = '';
/** Node name → the link to cut for it. */
const links = new Map<string, Link>();
const TOXI_API = 'http://10.211.0.1:8474';
const TOXI_LISTEN = '10.211.3.1:18443';

async function toxi(method: string, path: string, body: unknown): Promise<void> {
  const r = await fetch(`${TOXI_API}${path}`, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!r.ok) throw new Error(`toxiproxy ${method} ${path}: ${r.status} ${await r.text()}`);
}

/** Drains every node but `keep`, submits with `fn`, waits until the task is placed, resumes them. */
async function onlyOn(keep: string, fn: () => Promise<string>): Promise<string> {
  const others = (await client.nodes()).map((n) => n.name).filter((n) => n !== keep);
  for (const n of others) await client.drainNode(n);
  try {
    const id = await fn();
    await until(`${id} placed`, async () => ((await client.tasks.get(id)).placement ? true : undefined), 30_000);
    return id;
  } finally {
    for (const n of others) await client.resumeNode(n);
  }
}

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
    await topo.create(3);
    const nat = await topo.natAgent();
    const server = inNs(topo.serverNs, [
      'server', '--data-dir', join(dir, 'data'), '--host', '0.0.0.0', '--port', String(PORT), '--tls-self-signed',
      ...['10.211.0.1', '10.211.1.1', '10.211.2.1', '10.211.3.1', '10.211.8.1'].flatMap((a) => ['--tls-san', a]), '--node-lost-after', '6s', '--quiet',
    ]);
    await server.waitFor(/FastGPU server listening at https:/, 30_000);
    cert = join(dir, 'data', 'tls', 'cert.pem');
    const token = readFileSync(join(dir, 'data', 'admin.token'), 'utf8').trim();
    client = new FastGPU({ url: `https://${topo.host.serverAddr}:${PORT}`, token, ca: cert, env: {} });
    const jt = await client.request<{ token: string }>('POST', '/v1/admin/join-tokens', { body: { uses: 4, labels: { net: 'netns' } } });
    // Agent 3 reaches the server through Toxiproxy (in the server's namespace), when it is built.
    if (!noToxiproxy) {
      const proxy = new Daemon(spawn('ip', ['netns', 'exec', topo.serverNs, TOXIPROXY, '-host', '0.0.0.0', '-port', '8474'], { stdio: ['ignore', 'pipe', 'pipe'] }));
      daemons.push(proxy);
      await until('toxiproxy', () => fetch(`${TOXI_API}/version`).then((r) => (r.ok ? true : undefined)), 20_000);
      await toxi('POST', '/proxies', { name: 'agent3', listen: TOXI_LISTEN, upstream: `127.0.0.1:${PORT}` });
    }
    const agents: [string, Link, string][] = [
      ['net-1', topo.agents[0]!, `https://10.211.1.1:${PORT}`],
      ['net-2', topo.agents[1]!, `https://10.211.2.1:${PORT}`],
      ['net-3', topo.agents[2]!, noToxiproxy ? `https://10.211.3.1:${PORT}` : `https://${TOXI_LISTEN}`],
      ['net-nat', nat, `https://${nat.serverAddr}:${PORT}`],
    ];
    for (const [name, l, url] of agents) {
      links.set(name, l);
      inNs(l.ns, ['agent', '--server', url, '--join-token', jt.token, '--ca', cert, '--gpus', '1xH100', '--name', name, '--state-dir', join(dir, `agent-${name}`), '--quiet']);
    }
    await until('every agent READY', async () => {
      const nodes = await client.nodes();
      return nodes.filter((n) => n.state === 'READY').length === agents.length ? nodes : undefined;
    }, 60_000);
  }, 90_000);

  afterAll(async () => {
    await Promise.all(daemons.map((d) => d.kill9()));
    await topo.destroy();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('two agents joined over TLS with one join token, each with its label, and run tasks', async () => {
    const nodes = await client.nodes();
    expect(nodes.map((n) => [n.name, n.labels?.net, n.agentVersion]).sort()).toEqual(
      ['net-1', 'net-2', 'net-3', 'net-nat'].map((n) => [n, 'netns', expect.stringMatching(/^\d+\.\d+\.\d+/)]),
    );
    // The join token is used up: another machine could not join with it.
    const tokens = await client.request<{ joinTokens: { uses: number; maxUses: number }[] }>('GET', '/v1/admin/join-tokens');
    expect(tokens.joinTokens[0]).toMatchObject({ uses: 4, maxUses: 4 });
    const ids = [];
    for (const i of [1, 2]) ids.push((await client.tasks.submit({ name: `hello-${i}`, command: ['sh', '-c', `sleep 2; echo hello from $FASTGPU_TASK_ID`], resources: { gpu: 1 } })).id);
    const placed = await Promise.all(ids.map((id) => until(`${id} SUCCEEDED`, () => taskOn(id, 'SUCCEEDED'), 40_000)));
    expect(new Set(placed).size).toBe(2);
  }, 60_000);

  it('a partition shorter than the lease disturbs nothing', async () => {
    const id = (await client.tasks.submit({ name: 'short-cut', command: ['sleep', '6'], resources: { gpu: 1 }, retries: 2 })).id;
    const node = await until('running', () => taskOn(id, 'RUNNING'), 30_000);
    const link = links.get(node)!;
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
    const link = links.get(first)!;
    await topo.link(link, 'down');
    try {
      const second = await until('running elsewhere', async () => {
        const t = await client.tasks.get(id);
        return t.state === 'RUNNING' && t.placement?.node !== first ? t.placement?.node : undefined;
        // The lease (6 s), then the hold before a lost node's task runs again (at least 15 s).
      }, 60_000);
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
  }, 150_000);

  it('an agent behind NAT (outbound connections only) runs tasks', async () => {
    // The server has no way in: no route to the agent's private network.
    await expect(topo.route('10.211.9.2')).rejects.toThrow(/unreachable/i);
    const id = await onlyOn('net-nat', async () => (await client.tasks.submit({ name: 'behind-nat', command: ['sh', '-c', 'echo from behind NAT'], resources: { gpu: 1 } })).id);
    expect(await until('succeeded', () => taskOn(id, 'SUCCEEDED'), 30_000)).toBe('net-nat');
    const page = await client.tasks.logs(id);
    expect(page.chunks.map((c) => c.data).join('')).toBe('from behind NAT\n');
  }, 60_000);

  it.skipIf(noToxiproxy !== null)('200 ms latency each way with data sliced small (Toxiproxy): tasks start and finish, logs arrive whole', async () => {
    for (const stream of ['upstream', 'downstream']) {
      await toxi('POST', '/proxies/agent3/toxics', { name: `lat-${stream}`, type: 'latency', stream, attributes: { latency: 200, jitter: 50 } });
    }
    await toxi('POST', '/proxies/agent3/toxics', { name: 'slicer', type: 'slicer', stream: 'upstream', attributes: { average_size: 256, size_variation: 128, delay: 2000 } });
    const n = 3000;
    const id = await onlyOn('net-3', async () => (await client.tasks.submit({ name: 'slow-link', command: ['sh', '-c', `i=1; while [ $i -le ${n} ]; do echo "line $i"; i=$((i+1)); done`], resources: { gpu: 1 } })).id);
    expect(await until('succeeded', () => taskOn(id, 'SUCCEEDED'), 60_000)).toBe('net-3');
    let text = '';
    let after = 0;
    for (;;) {
      const page = await client.tasks.logs(id, { after });
      if (page.chunks.length === 0) break;
      text += page.chunks.map((c) => c.data).join('');
      after = page.next;
    }
    expect(text).toBe(Array.from({ length: n }, (_, i) => `line ${i + 1}\n`).join(''));
  }, 90_000);
});
