// The role matrix: every registered route × role (admin, member, viewer, agent, metrics, revoked
// token, no token) × tenant (the caller's own, another's) answers exactly the status in the table below, and
// nothing of the other tenant leaks into what members and viewers list. Routes are enumerated from
// the app itself (onRoute), so a new endpoint without a row here fails this test.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FakeAgent, h100s, makeHarness, type Harness } from './testing.js';
import { BlobStore } from './datasets-blobs.js';
import { sha256 } from '../util/chunk-codec.js';

type Role = 'admin' | 'member' | 'viewer' | 'agent' | 'metrics' | 'revoked' | 'none';
type Target = 'own' | 'other' | 'pool';
const ROLES: readonly Role[] = ['admin', 'member', 'viewer', 'agent', 'metrics', 'revoked', 'none'];

/** A request to make: its url, and a body for POSTs. */
interface Call {
  url: string;
  body?: unknown;
}

interface Row {
  /** Builds the call for a target; may create fresh fixtures (for writes) through the admin token. */
  call: (target: Target) => Promise<Call> | Call;
  /**
   * Expected status per role and target (revoked and none are filled in: 401 on authenticated
   * routes; metrics: 403 wherever a row does not say otherwise).
   */
  expect: Partial<Record<Role, Partial<Record<Target, number>>>>;
  /** Only these targets apply (default own + other). */
  targets?: readonly Target[];
  /** Server-sent events: checked over a real socket, the stream is closed once the status is known. */
  sse?: boolean;
}

// Shapes of expectations, by kind of route.
const all = (s: number): Partial<Record<Target, number>> => ({ own: s, other: s, pool: s });
const pub = (s: number): Row['expect'] => ({ admin: all(s), member: all(s), viewer: all(s), agent: all(s), metrics: all(s), revoked: all(s), none: all(s) });
const adminOnly = (s: number): Row['expect'] => ({ admin: all(s), member: all(403), viewer: all(403), agent: all(403) });
const agentProtocol: Row['expect'] = { admin: all(200), member: all(403), viewer: all(403), agent: all(200) };
/** The agent protocol about something that does not exist. */
const agentNotFound: Row['expect'] = { admin: all(404), member: all(403), viewer: all(403), agent: all(404) };
const noAttempt = { nodeId: 'n-none', taskId: 't-none', attempt: 1 };
const clusterRead: Row['expect'] = { admin: all(200), member: all(200), viewer: all(200), agent: all(403) };
/** One existing item of a tenant: another tenant's is 404, as if it did not exist. */
const itemRead: Row['expect'] = { admin: all(200), member: { own: 200, other: 404 }, viewer: { own: 200, other: 404 }, agent: all(403) };
const itemWrite: Row['expect'] = { admin: all(200), member: { own: 200, other: 404 }, viewer: { own: 403, other: 404 }, agent: all(403) };
/** Creating in a tenant (own, or another's with ?tenant=). */
const create: Row['expect'] = { admin: all(201), member: { own: 201, other: 403 }, viewer: all(403), agent: all(403) };
/** Listing a tenant's (own by default, another's with ?tenant=). */
const list: Row['expect'] = { admin: all(200), member: { own: 200, other: 403 }, viewer: { own: 200, other: 403 }, agent: all(403) };

let h: Harness;
const routes: string[] = [];
const tok: Record<Role, string | null> = { admin: '', member: '', viewer: '', agent: '', metrics: '', revoked: '', none: null };
let agent: FakeAgent;
const fx = { taskA: '', taskB: '', vgA: '', vgB: '' };

/** A request as `role`. */
async function as(role: Role, method: string, url: string, body?: unknown): Promise<{ status: number; body: any; raw: string }> {
  const t = tok[role];
  const headers: Record<string, string> = {};
  if (t !== null) headers.authorization = `Bearer ${t}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  // Agent calls carry the node's credential, as a real agent's do: the role decides, not the node.
  if (url.startsWith('/v1/agent/') && agent) Object.assign(headers, agent.headers());
  const res = await h.server.app.inject({ method: method as 'GET', url, headers, ...(body !== undefined ? { payload: JSON.stringify(body) } : {}) });
  let parsed: unknown;
  try {
    parsed = JSON.parse(res.payload);
  } catch {
    parsed = undefined;
  }
  return { status: res.statusCode, body: parsed, raw: res.payload };
}

async function newTask(tenant: 'a' | 'b', name = `t-${tenant}`): Promise<string> {
  const r = await as('admin', 'POST', `/v1/tasks?tenant=${tenant}`, { name, command: 'true', resources: { gpu: 0.25 } });
  if (r.status !== 201) throw new Error(`fixture task: ${r.status} ${r.raw}`);
  return r.body.tasks[0].id;
}

async function newArray(tenant: 'a' | 'b'): Promise<string> {
  const r = await as('admin', 'POST', `/v1/tasks?tenant=${tenant}`, { name: `arr-${tenant}`, command: 'true', resources: { gpu: 0.25 }, array: '0-1' });
  if (r.status !== 201) throw new Error(`fixture array: ${r.status} ${r.raw}`);
  return r.body.tasks[0].array.id;
}

const SWEEP = { command: 'true', space: { x: [1, 2] }, trials: 2, metric: 'loss', gpu: 0.25 };

async function newSweep(tenant: 'a' | 'b'): Promise<string> {
  const r = await as('admin', 'POST', `/v1/sweeps?tenant=${tenant}`, SWEEP);
  if (r.status !== 201) throw new Error(`fixture sweep: ${r.status} ${r.raw}`);
  return r.body.sweep.id;
}

/** A backend-optuna sweep, with one trial its driver asked for when `trial`. */
async function newOptunaSweep(tenant: 'a' | 'b', trial: boolean): Promise<string> {
  const r = await as('admin', 'POST', `/v1/sweeps?tenant=${tenant}`, { ...SWEEP, backend: 'optuna' });
  if (r.status !== 201) throw new Error(`fixture sweep: ${r.status} ${r.raw}`);
  const id = r.body.sweep.id as string;
  if (trial) {
    const t = await as('admin', 'POST', `/v1/sweeps/${id}/trials`, { params: { x: 1 } });
    if (t.status !== 201) throw new Error(`fixture trial: ${t.status} ${t.raw}`);
  }
  return id;
}

async function newVgpu(tenant: 'a' | 'b', name = `vg-${tenant}`): Promise<string> {
  const r = await as('admin', 'POST', `/v1/vgpus?tenant=${tenant}`, { name, gpu: 0.25 });
  if (r.status !== 201) throw new Error(`fixture vGPU: ${r.status} ${r.raw}`);
  return r.body.id;
}

let made = 0;
let spare: FakeAgent | undefined;
/** A node of its own to drain and resume, so the rest of the matrix keeps node-a in service. */
async function spareNode(action: 'drain' | 'resume'): Promise<Call> {
  if (!spare) {
    spare = new FakeAgent(h, 'node-spare', h100s(1));
    await spare.register();
  }
  return { url: `/v1/nodes/node-spare/${action}`, ...(action === 'drain' ? { body: {} } : {}) };
}
const tenantOf = (t: Target): 'a' | 'b' => (t === 'other' ? 'b' : 'a');
const spec = { command: 'true', resources: { gpu: 0.25 } };

/** A dataset of `tenant` with one one-chunk file (through the store and blob folder); its name and chunk. */
async function newDataset(tenant: 'a' | 'b', name = `ds${++made}`): Promise<{ name: string; hash: string }> {
  const bytes = Buffer.from(`data of ${tenant}`);
  const hash = sha256(bytes);
  await new BlobStore(join(h.dir, 'blobs')).put(tenant, hash, bytes, 'identity');
  await h.store.insertDataset({ tenant, name, bytes: bytes.length, fileCount: 1, createdAt: 0, manifest: { files: [{ path: 'f', size: bytes.length, executable: false, chunks: [{ hash, size: bytes.length }] }] }, chunks: [hash] });
  return { name, hash };
}
const dsQuery = (t: Target): string => `?tenant=${tenantOf(t)}`;
/** A write in a tenant that answers 200 (not 201). */
const writeIn: Row['expect'] = { admin: all(200), member: { own: 200, other: 403 }, viewer: all(403), agent: all(403) };

const MATRIX: Record<string, Row> = {
  // Datasets (issue 16).
  'POST /v1/missing-chunks': { call: (t) => ({ url: '/v1/missing-chunks', body: { hashes: [], ...(t === 'other' ? { tenant: 'b' } : {}) } }), expect: writeIn },
  // JSON where raw bytes belong: 400 once the caller may write there.
  'POST /v1/chunks/:hash': {
    call: (t) => ({ url: `/v1/chunks/${'0'.repeat(64)}${dsQuery(t)}`, body: {} }),
    expect: { admin: all(400), member: { own: 400, other: 403 }, viewer: all(403), agent: all(403) },
  },
  'GET /v1/chunks/:hash': { call: async (t) => ({ url: `/v1/chunks/${(await newDataset(tenantOf(t))).hash}${dsQuery(t)}` }), expect: list },
  'GET /v1/agent/chunks/:tenant/:hash': { call: async () => ({ url: `/v1/agent/chunks/a/${(await newDataset('a')).hash}` }), expect: agentProtocol, targets: ['pool'] },
  'GET /v1/agent/datasets/:tenant/:name': { call: async () => ({ url: `/v1/agent/datasets/b/${(await newDataset('b')).name}` }), expect: agentProtocol, targets: ['pool'] },
  // Task outputs (issue 16): the agent protocol; a task that no node runs is not found.
  'POST /v1/agent/outputs/missing-chunks': { call: () => ({ url: '/v1/agent/outputs/missing-chunks', body: { ...noAttempt, hashes: [] } }), expect: agentNotFound, targets: ['pool'] },
  'POST /v1/agent/outputs/chunks/:hash': { call: () => ({ url: `/v1/agent/outputs/chunks/${'0'.repeat(64)}?nodeId=n-none&taskId=t-none&attempt=1`, body: {} }), expect: agentNotFound, targets: ['pool'] },
  'POST /v1/agent/outputs/commit': { call: () => ({ url: '/v1/agent/outputs/commit', body: { ...noAttempt, outputs: [] } }), expect: agentNotFound, targets: ['pool'] },
  'POST /v1/datasets': { call: (t) => ({ url: '/v1/datasets', body: { name: `m${++made}`, manifest: { files: [] }, ...(t === 'other' ? { tenant: 'b' } : {}) } }), expect: create },
  'GET /v1/datasets': { call: (t) => ({ url: `/v1/datasets${dsQuery(t)}` }), expect: list },
  'GET /v1/datasets/:name': { call: async (t) => ({ url: `/v1/datasets/${(await newDataset(tenantOf(t))).name}${dsQuery(t)}` }), expect: itemRead },
  'DELETE /v1/datasets/:name': { call: async (t) => ({ url: `/v1/datasets/${(await newDataset(tenantOf(t))).name}${dsQuery(t)}` }), expect: itemWrite },
  'GET /v1/tenants/:name/dataset-quota': { call: (t) => ({ url: `/v1/tenants/${tenantOf(t)}/dataset-quota` }), expect: list },
  'POST /v1/tenants/:name/dataset-quota': { call: () => ({ url: '/v1/tenants/a/dataset-quota', body: { maxBytes: null } }), expect: adminOnly(200), targets: ['pool'] },

  'GET /healthz': { call: () => ({ url: '/healthz' }), expect: pub(200), targets: ['pool'] },
  'GET /metrics': { call: () => ({ url: '/metrics' }), expect: { ...adminOnly(200), metrics: all(200) }, targets: ['pool'] },
  'GET /v1/openapi.json': { call: () => ({ url: '/v1/openapi.json' }), expect: clusterRead, targets: ['pool'] },
  'GET /v1/events': { call: () => ({ url: '/v1/events' }), expect: clusterRead, targets: ['pool'], sse: true },

  'POST /v1/tasks': { call: (t) => ({ url: t === 'own' ? '/v1/tasks' : '/v1/tasks?tenant=b', body: spec }), expect: create },
  'GET /v1/tasks': { call: (t) => ({ url: t === 'own' ? '/v1/tasks' : '/v1/tasks?tenant=b' }), expect: list },
  'GET /v1/tasks/:id': { call: (t) => ({ url: `/v1/tasks/${t === 'own' ? fx.taskA : fx.taskB}` }), expect: itemRead },
  'GET /v1/tasks/:id/events': { call: (t) => ({ url: `/v1/tasks/${t === 'own' ? fx.taskA : fx.taskB}/events` }), expect: itemRead },
  'GET /v1/tasks/:id/wait': { call: (t) => ({ url: `/v1/tasks/${t === 'own' ? fx.taskA : fx.taskB}/wait?timeoutMs=0` }), expect: itemRead },
  'GET /v1/tasks/:id/logs': { call: (t) => ({ url: `/v1/tasks/${t === 'own' ? fx.taskA : fx.taskB}/logs` }), expect: itemRead },
  'POST /v1/tasks/:id/cancel': { call: async (t) => ({ url: `/v1/tasks/${await newTask(tenantOf(t))}/cancel` }), expect: itemWrite },

  'GET /v1/nodes': { call: () => ({ url: '/v1/nodes' }), expect: clusterRead, targets: ['pool'] },
  'GET /v1/autoscale/nodes': { call: () => ({ url: '/v1/autoscale/nodes' }), expect: clusterRead, targets: ['pool'] },
  'GET /v1/gpus': { call: () => ({ url: '/v1/gpus' }), expect: clusterRead, targets: ['pool'] },
  'GET /v1/samples': { call: () => ({ url: '/v1/samples' }), expect: clusterRead, targets: ['pool'] },
  'POST /v1/vgpus': { call: (t) => ({ url: t === 'own' ? '/v1/vgpus' : '/v1/vgpus?tenant=b', body: { gpu: 0.1 } }), expect: create },
  'GET /v1/vgpus': { call: (t) => ({ url: t === 'own' ? '/v1/vgpus' : '/v1/vgpus?tenant=b' }), expect: list },
  'GET /v1/vgpus/:id': { call: (t) => ({ url: `/v1/vgpus/${t === 'own' ? fx.vgA : fx.vgB}` }), expect: itemRead },
  'DELETE /v1/vgpus/:id': { call: async (t) => ({ url: `/v1/vgpus/${await newVgpu(tenantOf(t))}` }), expect: itemWrite },

  'POST /v1/agent/register': {
    call: () => ({
      url: '/v1/agent/register',
      // A new name each time: a registered name needs its node's credential.
      body: { name: `node-reg-${++made}`, cpuMilli: 64_000, memoryMiB: 1024, labels: {}, gpus: h100s(1, 'GPU-reg'), simulated: true, agentVersion: 'test', tasks: [] },
    }),
    expect: agentProtocol,
    targets: ['pool'],
  },
  'POST /v1/agent/heartbeat': { call: () => ({ url: '/v1/agent/heartbeat', body: { nodeId: agent.nodeId, tasks: [], samples: [] } }), expect: agentProtocol, targets: ['pool'] },
  'GET /v1/agent/assignments': { call: () => ({ url: `/v1/agent/assignments?nodeId=${agent.nodeId}&waitMs=0` }), expect: agentProtocol, targets: ['pool'] },
  'POST /v1/agent/reports': {
    call: () => ({ url: '/v1/agent/reports', body: { nodeId: agent.nodeId, tasks: [{ taskId: 't_nosuchtask', attempt: 1, status: 'running', pid: 1 }] } }),
    expect: agentProtocol,
    targets: ['pool'],
  },
  'POST /v1/agent/metrics': { call: () => ({ url: '/v1/agent/metrics', body: { nodeId: agent.nodeId, points: [] } }), expect: agentProtocol, targets: ['pool'] },
  'GET /v1/cluster': { call: () => ({ url: '/v1/cluster' }), expect: clusterRead, targets: ['pool'] },
  'GET /v1/arrays/:id': { call: async (t) => ({ url: `/v1/arrays/${await newArray(tenantOf(t))}` }), expect: itemRead },
  'GET /v1/arrays/:id/tasks': { call: async (t) => ({ url: `/v1/arrays/${await newArray(tenantOf(t))}/tasks` }), expect: itemRead },
  'GET /v1/arrays/:id/results': { call: async (t) => ({ url: `/v1/arrays/${await newArray(tenantOf(t))}/results` }), expect: itemRead },
  'POST /v1/arrays/:id/cancel': { call: async (t) => ({ url: `/v1/arrays/${await newArray(tenantOf(t))}/cancel` }), expect: itemWrite },
  'POST /v1/sweeps': { call: (t) => ({ url: t === 'own' ? '/v1/sweeps' : '/v1/sweeps?tenant=b', body: SWEEP }), expect: create },
  'GET /v1/sweeps': { call: (t) => ({ url: t === 'own' ? '/v1/sweeps' : '/v1/sweeps?tenant=b' }), expect: list },
  'GET /v1/sweeps/:id': { call: async (t) => ({ url: `/v1/sweeps/${await newSweep(tenantOf(t))}` }), expect: itemRead },
  'GET /v1/sweeps/:id/metrics': { call: async (t) => ({ url: `/v1/sweeps/${await newSweep(tenantOf(t))}/metrics` }), expect: itemRead },
  'POST /v1/sweeps/:id/cancel': { call: async (t) => ({ url: `/v1/sweeps/${await newSweep(tenantOf(t))}/cancel` }), expect: itemWrite },
  'POST /v1/sweeps/:id/trials': {
    call: async (t) => ({ url: `/v1/sweeps/${await newOptunaSweep(tenantOf(t), false)}/trials`, body: { params: { x: 2 } } }),
    expect: { admin: all(201), member: { own: 201, other: 404 }, viewer: { own: 403, other: 404 }, agent: all(403) },
  },
  'POST /v1/sweeps/:id/trials/:index/prune': { call: async (t) => ({ url: `/v1/sweeps/${await newOptunaSweep(tenantOf(t), true)}/trials/0/prune` }), expect: itemWrite },
  'POST /v1/agent/logs': { call: () => ({ url: '/v1/agent/logs', body: { nodeId: agent.nodeId, chunks: [] } }), expect: agentProtocol, targets: ['pool'] },

  'GET /v1/prices': { call: () => ({ url: '/v1/prices' }), expect: clusterRead, targets: ['pool'] },
  'POST /v1/prices': { call: () => ({ url: '/v1/prices', body: { model: 'H100', price: '2.50' } }), expect: adminOnly(200), targets: ['pool'] },
  'GET /v1/promotions': { call: () => ({ url: '/v1/promotions' }), expect: clusterRead, targets: ['pool'] },
  'POST /v1/promotions': {
    call: () => ({ url: '/v1/promotions', body: { name: `promo${++made}`, discount: '30%', from: '2030-01-01T00:00:00Z', to: '2030-01-02T00:00:00Z' } }),
    expect: adminOnly(201),
    targets: ['pool'],
  },
  'GET /v1/billing/settings': { call: () => ({ url: '/v1/billing/settings' }), expect: clusterRead, targets: ['pool'] },
  'POST /v1/billing/settings': { call: () => ({ url: '/v1/billing/settings', body: { budgetPolicy: 'continue' } }), expect: adminOnly(200), targets: ['pool'] },
  'POST /v1/quote': { call: () => ({ url: '/v1/quote', body: spec }), expect: clusterRead, targets: ['pool'] },
  'GET /v1/usage': { call: (t) => ({ url: t === 'own' ? '/v1/usage' : '/v1/usage?tenant=b' }), expect: list },

  // The dashboard (src/dashboard): the page and its assets are public (503 until `npm run build:web`);
  // the session routes go by cookie, never by bearer token.
  'GET /': { call: () => ({ url: '/' }), expect: pub(existsSync(join(import.meta.dirname, '../../dist/web/index.html')) ? 200 : 503), targets: ['pool'] },
  'GET /assets/*': { call: () => ({ url: '/assets/none.js' }), expect: pub(404), targets: ['pool'] },
  'GET /dashboard/session': { call: () => ({ url: '/dashboard/session' }), expect: pub(401), targets: ['pool'] },
  'POST /dashboard/session': { call: () => ({ url: '/dashboard/session', body: {} }), expect: pub(401), targets: ['pool'] },
  'DELETE /dashboard/session': { call: () => ({ url: '/dashboard/session' }), expect: pub(204), targets: ['pool'] },
  // A fresh login link for the caller's own token (`fastgpu dashboard`): people's tokens only.
  'POST /dashboard/login-link': {
    call: () => ({ url: '/dashboard/login-link' }),
    expect: { admin: all(201), member: all(201), viewer: all(201), agent: all(403), metrics: all(403), revoked: all(401), none: all(401) },
    targets: ['pool'],
  },

  // Joining (issue 11): the join token in the body is the proof, whoever calls.
  'POST /v1/agent/join': {
    call: async () => {
      const jt = await as('admin', 'POST', '/v1/admin/join-tokens', {});
      return { url: '/v1/agent/join', body: { joinToken: jt.body.token, name: `node-join-${++made}`, agentVersion: 'test', protocolVersion: 2 } };
    },
    expect: pub(200),
    targets: ['pool'],
  },
  // Only a joined node's own credential renews (join.test.ts); shared tokens do not expire.
  'POST /v1/agent/renew': { call: () => ({ url: '/v1/agent/renew' }), expect: { admin: all(403), member: all(403), viewer: all(403), agent: all(403) }, targets: ['pool'] },
  'POST /v1/admin/join-tokens': { call: () => ({ url: '/v1/admin/join-tokens', body: { ttl: '5m' } }), expect: adminOnly(201), targets: ['pool'] },
  'GET /v1/admin/join-tokens': { call: () => ({ url: '/v1/admin/join-tokens' }), expect: adminOnly(200), targets: ['pool'] },
  'DELETE /v1/admin/join-tokens/:id': {
    call: async () => ({ url: `/v1/admin/join-tokens/${(await as('admin', 'POST', '/v1/admin/join-tokens', {})).body.id}` }),
    expect: adminOnly(200),
    targets: ['pool'],
  },
  'DELETE /v1/nodes/:node': {
    call: async () => {
      const n = new FakeAgent(h, `node-rm-${++made}`, h100s(1, `GPU-rm-${made}`));
      await n.register();
      return { url: `/v1/nodes/${n.name}` };
    },
    expect: adminOnly(200),
    targets: ['pool'],
  },
  'POST /v1/admin/tenants': { call: () => ({ url: '/v1/admin/tenants', body: { name: `c${++made}`, guarantee: 1 } }), expect: adminOnly(201), targets: ['pool'] },
  'GET /v1/admin/tenants': { call: () => ({ url: '/v1/admin/tenants' }), expect: adminOnly(200), targets: ['pool'] },
  'POST /v1/nodes/:node/drain': { call: () => spareNode('drain'), expect: adminOnly(200), targets: ['pool'] },
  'POST /v1/nodes/:node/resume': { call: () => spareNode('resume'), expect: adminOnly(200), targets: ['pool'] },
  'GET /v1/admin/tenants/:name': { call: () => ({ url: '/v1/admin/tenants/a' }), expect: adminOnly(200), targets: ['pool'] },
  'PATCH /v1/admin/tenants/:name': { call: () => ({ url: '/v1/admin/tenants/a', body: { defaultTimeLimit: '2h' } }), expect: adminOnly(200), targets: ['pool'] },
  'DELETE /v1/admin/tenants/:name': {
    call: async () => {
      const name = `gone${++made}`;
      await as('admin', 'POST', '/v1/admin/tenants', { name });
      return { url: `/v1/admin/tenants/${name}` };
    },
    expect: adminOnly(200),
    targets: ['pool'],
  },
  'POST /v1/admin/tokens': { call: () => ({ url: '/v1/admin/tokens', body: { tenant: 'a', role: 'viewer' } }), expect: adminOnly(201), targets: ['pool'] },
  'GET /v1/admin/tokens': { call: () => ({ url: '/v1/admin/tokens' }), expect: adminOnly(200), targets: ['pool'] },
  'POST /v1/admin/tokens/:id/revoke': {
    call: async () => {
      const r = await as('admin', 'POST', '/v1/admin/tokens', { tenant: 'b', role: 'viewer', name: 'to-revoke' });
      return { url: `/v1/admin/tokens/${r.body.id}/revoke` };
    },
    expect: adminOnly(200),
    targets: ['pool'],
  },
};

/** The status an SSE route answers with, over a real socket (the stream stays open otherwise). */
async function sseStatus(base: string, role: Role, url: string): Promise<number> {
  const ac = new AbortController();
  const headers: Record<string, string> = { accept: 'text/event-stream' };
  if (tok[role] !== null) headers.authorization = `Bearer ${tok[role]}`;
  const res = await fetch(base + url, { headers, signal: ac.signal });
  const status = res.status;
  ac.abort();
  await res.body?.cancel().catch(() => undefined); // the body was aborted above: cancel may reject with AbortError
  return status;
}

let base = '';

beforeAll(async () => {
  h = await makeHarness({
    beforeRoutes: async (app) => {
      app.addHook('onRoute', (r) => {
        for (const m of Array.isArray(r.method) ? r.method : [r.method]) if (m !== 'HEAD') routes.push(`${m} ${r.url}`);
      });
    },
  });
  tok.admin = h.token;
  for (const name of ['a', 'b']) expect((await as('admin', 'POST', '/v1/admin/tenants', { name, guarantee: 1, limit: '2.5', weight: 2, budget: '100' })).status).toBe(201);
  const mk = async (tenant: string, role: string): Promise<{ id: string; token: string }> => {
    const r = await as('admin', 'POST', '/v1/admin/tokens', { tenant, role });
    expect(r.status).toBe(201);
    return r.body;
  };
  tok.member = (await mk('a', 'member')).token;
  tok.viewer = (await mk('a', 'viewer')).token;
  tok.agent = (await mk('a', 'agent')).token;
  tok.metrics = (await mk('a', 'metrics')).token;
  const revoked = await mk('a', 'member');
  tok.revoked = revoked.token;
  expect((await as('revoked', 'GET', '/v1/tasks')).status).toBe(200);
  expect((await as('admin', 'POST', `/v1/admin/tokens/${revoked.id}/revoke`)).status).toBe(200);

  agent = new FakeAgent(h, 'node-a', h100s(2));
  await agent.register();
  fx.taskA = await newTask('a', 'secret-a');
  fx.taskB = await newTask('b', 'secret-b');
  fx.vgA = await newVgpu('a', 'vg-secret-a');
  fx.vgB = await newVgpu('b', 'vg-secret-b');
  await h.server.control.settle();
  // Run the fixture tasks a while, so that usage has rows of both tenants.
  await agent.pollAndStart();
  h.clock.advance(60_000);
  await h.server.control.settle();
  base = await h.server.app.listen({ host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await h.close();
});

/** Routes that take no bearer token: liveness, and the dashboard's page, assets and cookie session. */
const PUBLIC = new Set(['/healthz', '/', '/assets/*', '/dashboard/session', '/v1/agent/join']);

describe('role matrix', () => {
  it('has a row for every registered route', () => {
    const missing = [...new Set(routes)].filter((r) => !(r in MATRIX));
    expect(missing, `routes without a role-matrix row in roles.test.ts: ${missing.join(', ')}`).toEqual([]);
    const stale = Object.keys(MATRIX).filter((k) => !routes.includes(k));
    expect(stale).toEqual([]);
  });

  for (const [route, row] of Object.entries(MATRIX)) {
    it(route, async () => {
      const [method, pattern] = route.split(' ') as [string, string];
      const got: string[] = [];
      const want: string[] = [];
      for (const role of ROLES) {
        for (const target of row.targets ?? (['own', 'other'] as const)) {
          const authFails = !PUBLIC.has(pattern) && (role === 'revoked' || role === 'none');
          const expected = authFails ? 401 : (row.expect[role]?.[target] ?? (role === 'metrics' ? 403 : undefined));
          if (expected === undefined) throw new Error(`${route}: no expectation for ${role} × ${target}`);
          const call = await row.call(target);
          const status = row.sse ? await sseStatus(base, role, call.url) : (await as(role, method, call.url, call.body)).status;
          got.push(`${role} × ${target}: ${status}`);
          want.push(`${role} × ${target}: ${expected}`);
        }
      }
      expect(got).toEqual(want);
    });
  }
});

describe('tenant isolation', () => {
  const leaks = (raw: string): string[] => ['secret-b', 'vg-secret-b', fx.taskB, fx.vgB].filter((s) => raw.includes(s));

  it('members and viewers list only their tenant; admins list all or filter with ?tenant=', async () => {
    for (const role of ['member', 'viewer'] as const) {
      for (const url of ['/v1/tasks', '/v1/tasks?all=true', '/v1/tasks?state=PENDING,SCHEDULED,RUNNING,CANCELLED', '/v1/vgpus', '/v1/vgpus?all=true', '/v1/gpus', '/v1/nodes', '/v1/usage']) {
        const r = await as(role, 'GET', url);
        expect(r.status, `${role} ${url}`).toBe(200);
        expect(leaks(r.raw), `${role} ${url}`).toEqual([]);
      }
      const tasks = (await as(role, 'GET', '/v1/tasks?all=true')).body.tasks;
      expect(tasks.length).toBeGreaterThan(0);
      expect(new Set(tasks.map((t: any) => t.tenant))).toEqual(new Set(['a']));
    }
    const everyone = (await as('admin', 'GET', '/v1/tasks?all=true')).body.tasks;
    expect(new Set(everyone.map((t: any) => t.tenant))).toEqual(new Set(['a', 'b', 'default'])); // admins submit as "default" unless ?tenant=
    // Usage has the other tenant's rows, which members and viewers did not get above.
    expect((await as('admin', 'GET', '/v1/usage')).raw).toContain(fx.taskB);
    const onlyB = (await as('admin', 'GET', '/v1/tasks?all=true&tenant=b')).body.tasks;
    expect(onlyB.length).toBeGreaterThan(0);
    expect(new Set(onlyB.map((t: any) => t.tenant))).toEqual(new Set(['b']));
  });

  it('GPU views show other tenants’ slices as amounts only', async () => {
    const mine = (await as('member', 'GET', '/v1/gpus')).body.gpus.flatMap((g: any) => g.slices);
    const theirs = mine.filter((s: any) => s.tenant !== 'a');
    expect(theirs.length).toBeGreaterThan(0);
    for (const s of theirs) {
      expect(s).toEqual({ name: '', tenant: '', milli: expect.any(Number), memoryMiB: expect.any(Number) });
    }
    const admin = (await as('admin', 'GET', '/v1/gpus')).body;
    const sum = (gpus: any[]): number => gpus.reduce((n, g) => n + g.allocatedMilli, 0);
    // The same amounts are allocated whoever looks.
    expect(sum((await as('member', 'GET', '/v1/gpus')).body.gpus)).toBe(sum(admin.gpus));
    expect(JSON.stringify(admin)).toContain('secret-b');
  });

  it('members see the promotions that apply to their tenant, and never whom else a promotion names', async () => {
    const mk = async (name: string, tenants?: string[]) =>
      expect((await as('admin', 'POST', '/v1/promotions', { name, discount: '10%', from: '2031-01-01T00:00:00Z', to: '2031-01-02T00:00:00Z', ...(tenants ? { tenants } : {}) })).status).toBe(201);
    await mk('for-everyone');
    await mk('for-a-and-b', ['a', 'b']);
    await mk('for-b-only', ['b']);
    for (const role of ['member', 'viewer'] as const) {
      const r = await as(role, 'GET', '/v1/promotions');
      const names = r.body.promotions.map((p: any) => p.name);
      expect(names).toEqual(expect.arrayContaining(['for-everyone', 'for-a-and-b']));
      expect(names).not.toContain('for-b-only');
      expect(r.raw).not.toMatch(/"tenants"/);
    }
    const admin = (await as('admin', 'GET', '/v1/promotions')).body.promotions;
    expect(admin.find((p: any) => p.name === 'for-b-only').tenants).toEqual(['b']);
  });

  it('another tenant’s task cannot be used by id anywhere: logs, events, wait, cancel, a vGPU by id in a spec', async () => {
    for (const role of ['member', 'viewer'] as const) {
      for (const url of [`/v1/tasks/${fx.taskB}`, `/v1/tasks/${fx.taskB}/events`]) {
        const r = await as(role, 'GET', url);
        expect(r.status, `${role} ${url}`).toBe(404);
        expect(r.body.error.message).toBe(`task ${fx.taskB} not found`);
        expect(leaks(r.raw.replaceAll(`task ${fx.taskB} not found`, ''))).toEqual([]);
      }
    }
    // Their own task's history is theirs to read, and has nothing of the other tenant.
    const own = await as('viewer', 'GET', `/v1/tasks/${fx.taskA}/events`);
    expect(own.body.events.map((e: any) => e.type).slice(0, 2)).toEqual(['task.submitted', 'task.scheduled']);
    expect(leaks(own.raw)).toEqual([]);
    const inOther = await as('member', 'POST', '/v1/tasks', { ...spec, vgpu: fx.vgB });
    expect(inOther.status).toBe(400);
    expect(inOther.body.error.field).toBe('vgpu');
    expect(inOther.body.error.message).toContain('not found');
    const before = await as('member', 'GET', `/v1/tasks?before=${fx.taskB}`);
    // Another tenant's task is answered as a missing one: 404, as any missing reference.
    expect(before.status).toBe(404);
    expect(before.body.error.message).toBe(`query.before: task ${fx.taskB} not found`);
  });

  it('the event stream shows a member its tenant’s events and the pool’s, nothing of another tenant', async () => {
    const marker = await newTask('a', 'marker-a');
    await h.server.control.settle();
    const ac = new AbortController();
    const res = await fetch(`${base}/v1/events?after=0`, { headers: { authorization: `Bearer ${tok.member}` }, signal: ac.signal });
    expect(res.status).toBe(200);
    let text = '';
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    while (!text.includes(marker)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += dec.decode(value);
    }
    ac.abort();
    await reader.cancel().catch(() => undefined); // aborted above: cancel may reject with AbortError
    expect(text).toContain(marker);
    expect(text).toContain(fx.taskA);
    expect(text).toContain(fx.vgA);
    expect(text).toContain('event: node.registered');
    expect(leaks(text)).toEqual([]);
  });

  it('the submitter’s tenant goes on the task; admins may submit for an existing tenant only', async () => {
    const r = await as('member', 'POST', '/v1/tasks', spec);
    expect(r.body.tasks[0].tenant).toBe('a');
    const forB = await as('admin', 'POST', '/v1/tasks?tenant=b', spec);
    expect(forB.body.tasks[0].tenant).toBe('b');
    const nowhere = await as('admin', 'POST', '/v1/tasks?tenant=nope', spec);
    expect(nowhere.status).toBe(404);
    expect(nowhere.body.error.field).toBe('query.tenant');
  });
});

describe('tokens', () => {
  it('a revoked token is refused on the very next request', async () => {
    const made = await as('admin', 'POST', '/v1/admin/tokens', { tenant: 'a', role: 'member', name: 'alice' });
    expect(made.status).toBe(201);
    const { id, token } = made.body;
    const use = (): Promise<number> => h.server.app.inject({ method: 'GET', url: '/v1/tasks', headers: { authorization: `Bearer ${token}` } }).then((r) => r.statusCode);
    expect(await use()).toBe(200);
    expect(await use()).toBe(200); // now cached
    const rv = await as('admin', 'POST', `/v1/admin/tokens/${id}/revoke`);
    expect(rv.status).toBe(200);
    expect(rv.body.revokedAt).not.toBeNull();
    expect(await use()).toBe(401);
    // Revoking again answers the same token, still revoked.
    expect((await as('admin', 'POST', `/v1/admin/tokens/${id}/revoke`)).body.revokedAt).toBe(rv.body.revokedAt);
  });

  it('lists tokens without their secrets or hashes', async () => {
    const made = await as('admin', 'POST', '/v1/admin/tokens', { tenant: 'b', role: 'viewer' });
    const list = await as('admin', 'GET', '/v1/admin/tokens?tenant=b');
    expect(list.body.tokens.map((t: any) => t.id)).toContain(made.body.id);
    expect(list.raw).not.toContain(made.body.token);
    for (const t of list.body.tokens) expect(Object.keys(t).sort()).toEqual(['createdAt', 'id', 'name', 'revokedAt', 'role', 'tenant']);
    expect(new Set(list.body.tokens.map((t: any) => t.tenant))).toEqual(new Set(['b']));
  });

  it('refuses a token for a tenant that does not exist, and a role that does not, naming the field', async () => {
    const noTenant = await as('admin', 'POST', '/v1/admin/tokens', { tenant: 'ghost' });
    expect(noTenant.status).toBe(404);
    expect(noTenant.body.error.field).toBe('tenant');
    const badRole = await as('admin', 'POST', '/v1/admin/tokens', { tenant: 'a', role: 'root' });
    expect(badRole.status).toBe(400);
    expect(badRole.body.error.field).toBe('body.role');
  });
});

describe('tenants', () => {
  it('the default tenant exists from the start; create parses GPUs (fractions too), update keeps createdAt', async () => {
    const d = await as('admin', 'GET', '/v1/admin/tenants/default');
    expect(d.body).toMatchObject({ name: 'default', guaranteeMilli: 0, limit: null, weight: 1, budget: null });
    const made = await as('admin', 'POST', '/v1/admin/tenants', { name: 'frac', guarantee: '0.5', limit: 2, weight: '1.5', budget: 99.5 });
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({ name: 'frac', guarantee: 0.5, guaranteeMilli: 500, limit: 2, limitMilli: 2000, weight: 1.5, budget: '99.50' });
    h.clock.advance(60_000);
    const again = await as('admin', 'POST', '/v1/admin/tenants', { name: 'frac', guarantee: '500m' });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ guaranteeMilli: 500, limit: null, budget: null, createdAt: made.body.createdAt });
    const names = (await as('admin', 'GET', '/v1/admin/tenants')).body.tenants.map((t: any) => t.name);
    expect(names).toEqual(expect.arrayContaining(['a', 'b', 'default', 'frac']));
    expect((await as('admin', 'GET', '/v1/admin/tenants/ghost')).status).toBe(404);
  });

  it('bad tenant fields are a 400 naming the field', async () => {
    const cases: [unknown, string][] = [
      [{ name: 'x', guarantee: 'lots' }, 'body.guarantee'],
      [{ name: 'x', guarantee: 2, limit: 1 }, 'body.limit'],
      [{ name: 'x', weight: 0 }, 'body.weight'],
      [{ name: 'x', budget: 'free' }, 'body.budget'],
      [{ name: '../x' }, 'body.name'],
      [{ name: 'x', colour: 'red' }, 'body.colour'],
    ];
    for (const [body, field] of cases) {
      const r = await as('admin', 'POST', '/v1/admin/tenants', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.field, JSON.stringify(body)).toBe(field);
    }
  });
});
