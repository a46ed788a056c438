// Joining (issue 11) through the HTTP API in-process: join tokens limited in time and uses, the
// node credential they trade for (bound to its node, renewable, revocable at once), protocol
// versions, and removing a node (its tasks requeued).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AGENT_PROTOCOL_VERSION } from '../protocol/version.js';
import { h100s, makeHarness, type Harness } from './testing.js';

let h: Harness;
beforeEach(async () => {
  h = await makeHarness({ nodeCredentialTtlMs: 3_600_000 });
});
afterEach(async () => h.close());

const reg = (name: string) => ({ name, cpuMilli: 8000, memoryMiB: 65_536, labels: {}, gpus: h100s(1, name), simulated: true, agentVersion: '0.1.0', protocolVersion: AGENT_PROTOCOL_VERSION, tasks: [] });
const joinBody = (joinToken: string, name: string, protocolVersion = AGENT_PROTOCOL_VERSION) => ({ joinToken, name, agentVersion: '0.1.0', protocolVersion });
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

async function newJoinToken(body: Record<string, unknown> = {}): Promise<string> {
  const r = await h.req('POST', '/v1/admin/join-tokens', body);
  expect(r.status).toBe(201);
  return r.body.token as string;
}

describe('join tokens', () => {
  it('trades a join token for a node credential that speaks the agent protocol for that node only', async () => {
    const jt = await newJoinToken({ labels: { rack: 'r7' } });
    const j = await h.req('POST', '/v1/agent/join', joinBody(jt, 'gpu-a'), { authorization: '' });
    expect(j.status).toBe(200);
    expect(j.body).toMatchObject({ node: 'gpu-a', labels: { rack: 'r7' }, expiresAt: h.clock.now() + 3_600_000, renewAt: h.clock.now() + 2_400_000 });
    const cred = j.body.credential as string;
    const ok = await h.req('POST', '/v1/agent/register', reg('gpu-a'), bearer(cred));
    expect(ok.status).toBe(200);
    const other = await h.req('POST', '/v1/agent/register', reg('gpu-b'), bearer(cred));
    expect(other.status).toBe(403);
    expect(other.body.error.message).toContain('speaks for node gpu-a, not gpu-b');
    // It is an agent credential: nothing else.
    expect((await h.req('GET', '/v1/tasks', undefined, bearer(cred))).status).toBe(403);
    // Only the hash is stored.
    const stored = await h.store.listJoinTokens();
    expect(JSON.stringify(stored)).not.toContain(jt);
    expect(stored[0]).toMatchObject({ uses: 1, maxUses: 1 });
  });

  it('refuses a used-up, expired, revoked or unknown join token, saying which', async () => {
    const jt = await newJoinToken({ uses: 1 });
    expect((await h.req('POST', '/v1/agent/join', joinBody(jt, 'a'))).status).toBe(200);
    const again = await h.req('POST', '/v1/agent/join', joinBody(jt, 'b'));
    expect(again.status).toBe(401);
    expect(again.body.error.message).toContain('join token used up (1 of 1 uses)');

    const short = await newJoinToken({ ttl: '1m' });
    h.clock.advance(60_000);
    expect((await h.req('POST', '/v1/agent/join', joinBody(short, 'c'))).body.error.message).toMatch(/^join token expired at /);

    const r = await h.req('POST', '/v1/admin/join-tokens', {});
    expect((await h.req('DELETE', `/v1/admin/join-tokens/${r.body.id as string}`)).status).toBe(200);
    expect((await h.req('POST', '/v1/agent/join', joinBody(r.body.token as string, 'd'))).body.error.message).toContain('join token revoked');
    expect((await h.req('POST', '/v1/agent/join', joinBody('fgj_nope', 'e'))).body.error.message).toContain('unknown join token');
    const list = await h.req('GET', '/v1/admin/join-tokens');
    expect(list.body.joinTokens.map((t: { uses: number }) => t.uses).sort()).toEqual([0, 0, 1]);
  });

  it('lets a token with N uses join N nodes', async () => {
    const jt = await newJoinToken({ uses: 3 });
    for (const n of ['n1', 'n2', 'n3']) expect((await h.req('POST', '/v1/agent/join', joinBody(jt, n))).status).toBe(200);
    expect((await h.req('POST', '/v1/agent/join', joinBody(jt, 'n4'))).status).toBe(401);
  });

  it('refuses bad input to create with a message naming the field', async () => {
    const a = await h.req('POST', '/v1/admin/join-tokens', { ttl: 'soon' });
    expect(a.status).toBe(400);
    expect(a.body.error.message).toContain('ttl');
    const b = await h.req('POST', '/v1/admin/join-tokens', { uses: 0 });
    expect(b.status).toBe(400);
    expect(b.body.error.message).toContain('uses');
    expect(await h.store.listJoinTokens()).toEqual([]);
  });

  it('refuses a name a live node holds, before counting a use', async () => {
    expect((await h.req('POST', '/v1/agent/register', reg('busy'))).status).toBe(200);
    const jt = await newJoinToken();
    const r = await h.req('POST', '/v1/agent/join', joinBody(jt, 'busy'));
    expect(r.status).toBe(409);
    expect(r.body.error.message).toContain('held by a live node');
    expect((await h.store.listJoinTokens())[0]?.uses).toBe(0);
  });
});

describe('node credentials', () => {
  it('renews before expiry: the new one works, the old one dies', async () => {
    const jt = await newJoinToken();
    const old = (await h.req('POST', '/v1/agent/join', joinBody(jt, 'gpu-a'))).body.credential as string;
    h.clock.advance(2_400_000);
    const r = await h.req('POST', '/v1/agent/renew', undefined, bearer(old));
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ node: 'gpu-a', expiresAt: h.clock.now() + 3_600_000 });
    expect((await h.req('POST', '/v1/agent/register', reg('gpu-a'), bearer(r.body.credential as string))).status).toBe(200);
    const dead = await h.req('POST', '/v1/agent/register', reg('gpu-a'), bearer(old));
    expect(dead.status).toBe(401);
    expect(dead.body.error.message).toContain('node credential of gpu-a revoked');
    // Shared tokens do not expire, so there is nothing to renew.
    expect((await h.req('POST', '/v1/agent/renew')).status).toBe(403);
  });

  it('stops working when it expires', async () => {
    const jt = await newJoinToken();
    const cred = (await h.req('POST', '/v1/agent/join', joinBody(jt, 'gpu-a'))).body.credential as string;
    expect((await h.req('POST', '/v1/agent/register', reg('gpu-a'), bearer(cred))).status).toBe(200);
    h.clock.advance(3_600_000);
    const r = await h.req('POST', '/v1/agent/register', reg('gpu-a'), bearer(cred));
    expect(r.status).toBe(401);
    expect(r.body.error.message).toContain('expired');
  });

  it('node rm revokes at once and requeues the node\'s tasks', async () => {
    const jt = await newJoinToken();
    const cred = (await h.req('POST', '/v1/agent/join', joinBody(jt, 'gpu-a'))).body.credential as string;
    const r = await h.req('POST', '/v1/agent/register', reg('gpu-a'), bearer(cred));
    const nodeId = r.body.nodeId as string;
    const sub = await h.req('POST', '/v1/tasks', { name: 'x', command: ['sleep', '100'], resources: { gpu: 1 }, retries: 1 });
    expect(sub.status).toBe(201);
    const taskId = sub.body.tasks[0].id as string;
    await h.server.control.settle();
    expect((await h.req('GET', `/v1/tasks/${taskId}`)).body.state).toBe('SCHEDULED');
    // The agent is authenticated (and cached) before the removal…
    const headers = { ...bearer(cred), 'x-fastgpu-node-credential': r.body.credential as string };
    expect((await h.req('POST', '/v1/agent/heartbeat', { nodeId, tasks: [] }, headers)).status).toBe(200);
    const rm = await h.req('DELETE', '/v1/nodes/gpu-a');
    expect(rm.body).toEqual({ node: 'gpu-a', credentialsRevoked: 1, markedLost: true });
    // …and refused right after it.
    const hb = await h.req('POST', '/v1/agent/heartbeat', { nodeId, tasks: [] }, headers);
    expect(hb.status).toBe(401);
    const t = (await h.req('GET', `/v1/tasks/${taskId}`)).body;
    expect(t.state).toBe('PENDING');
    expect((await h.req('GET', '/v1/nodes')).body.nodes[0]).toMatchObject({ name: 'gpu-a', state: 'LOST', agentVersion: '0.1.0' });
    expect((await h.req('DELETE', '/v1/nodes/nope')).status).toBe(404);
    // A new join token brings the machine back under the same name.
    const jt2 = await newJoinToken();
    const cred2 = (await h.req('POST', '/v1/agent/join', joinBody(jt2, 'gpu-a'))).body.credential as string;
    expect((await h.req('POST', '/v1/agent/register', reg('gpu-a'), bearer(cred2))).status).toBe(200);
  });
});

describe('protocol versions', () => {
  it('refuses an agent too old or too new, naming the accepted range', async () => {
    const jt = await newJoinToken({ uses: 5 });
    const tooNew = await h.req('POST', '/v1/agent/join', joinBody(jt, 'a', 99));
    expect(tooNew.status).toBe(400);
    expect(tooNew.body.error.message).toBe('protocolVersion: agent 0.1.0 speaks agent protocol 99; this server accepts versions 1 to 2: upgrade the server, or run an older agent');
    const tooOld = await h.req('POST', '/v1/agent/register', { ...reg('b'), protocolVersion: 0 });
    expect(tooOld.status).toBe(400);
    expect(tooOld.body.error.message).toContain('accepts versions 1 to 2: upgrade the agent');
    // No use was counted for the refused join; an agent from before versions still registers.
    expect((await h.store.listJoinTokens())[0]?.uses).toBe(0);
    const { protocolVersion: _p, ...legacy } = reg('c');
    expect((await h.req('POST', '/v1/agent/register', legacy)).status).toBe(200);
  });
});
