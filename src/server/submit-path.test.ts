// The submit path under concurrent submits, on both stores (issue 10's throughput work): submits
// that arrive together share one store transaction (group commit), a failed group fails only the
// submits that cannot be stored, each with a clear error and nothing half-written, and a submit
// reads its tenant from the control plane's copy, which every tenant change refreshes before it
// answers.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../store/index.js';
import type { StateBatch, Store } from '../store/port.js';
import { useTestPostgres, type TestPostgres } from '../store/postgres/testing.js';
import { ManualClock } from '../util/clock.js';
import { buildApp, type ServerApp } from './app.js';
import { ensureAdminToken } from './main.js';

let pgt: TestPostgres;
const dirs: string[] = [];
beforeAll(async () => {
  pgt = await useTestPostgres();
}, 120_000);
afterAll(async () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  await pgt?.stop();
}, 60_000);

interface Rig {
  store: Store;
  server: ServerApp;
  /** Store calls by method name, counted from `countFrom()`. */
  calls: Map<string, number>;
  req(method: string, url: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

/** An app over a real store of `kind`, with its store calls counted. */
async function rig(kind: 'sqlite' | 'postgres'): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'fastgpu-submit-path-'));
  dirs.push(dir);
  const schema = pgt.freshSchema();
  const store = kind === 'sqlite' ? openStore({ kind: 'sqlite', path: join(dir, 'fastgpu.db') }) : openStore({ kind: 'postgres', url: pgt.url, schema });
  await store.init();
  const clock = new ManualClock();
  const token = await ensureAdminToken(dir, store, clock, () => {});
  const calls = new Map<string, number>();
  for (const m of ['getTenant', 'listTenants', 'commitBatch', 'setMeta'] as const) {
    const real = (store[m] as (...a: unknown[]) => Promise<unknown>).bind(store);
    (store as unknown as Record<string, unknown>)[m] = (...a: unknown[]) => {
      calls.set(m, (calls.get(m) ?? 0) + 1);
      return real(...a);
    };
  }
  const server = await buildApp({ store, clock, tickMs: 0, nodeLostAfterMs: 15_000, logDrainMs: 20, sampleMaintenance: false, blobDir: join(dir, 'blobs'), log: () => {} });
  return {
    store,
    server,
    calls,
    async req(method, url, body, headers = {}) {
      const res = await server.app.inject({
        method: method as 'GET',
        url,
        headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
        ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
      });
      return { status: res.statusCode, body: JSON.parse(res.payload || 'null') };
    },
    async close() {
      await server.close();
      await store.close();
      if (kind === 'postgres') await pgt.dropSchema(schema);
    },
  };
}

const spec = (name: string) => ({ name, command: ['true'], resources: { gpu: 0.25 } });

describe.each(['sqlite', 'postgres'] as const)('the submit path on %s', (kind) => {
  it('concurrent submits share transactions; every one answered 201 is stored with its event', async () => {
    const r = await rig(kind);
    try {
      await r.server.control.settle();
      r.calls.clear();
      const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => r.req('POST', '/v1/tasks', spec(`burst-${i}`))));
      expect(answers.map((a) => a.status)).toEqual(answers.map(() => 201));
      const ids = answers.map((a) => a.body.tasks[0].id as string);
      // Far fewer transactions than submits (one per submit before group commit, 2,780 for 3,000).
      expect(r.calls.get('commitBatch') ?? 0).toBeLessThanOrEqual(20);
      // No tenant read and no estimate write per submit.
      expect(r.calls.get('getTenant') ?? 0).toBe(0);
      expect(r.calls.get('setMeta') ?? 0).toBe(0);
      for (const id of ids) {
        expect((await r.store.getTask(id))?.state).toBe('PENDING');
        // Its first event; the cycle that ran meanwhile may have added why it waits.
        expect((await r.store.listTaskEvents(id))[0]?.type).toBe('task.submitted');
      }
      // The estimate the submits fed reaches the store when the server settles (or shuts down).
      await r.server.control.settle();
      expect(r.calls.get('setMeta')).toBe(1);
    } finally {
      await r.close();
    }
  });

  it('a group that fails fails only the submit that cannot be stored, with a clear error; nothing of it is written', async () => {
    const r = await rig(kind);
    try {
      const real = r.store.commitBatch.bind(r.store);
      const groups: number[] = [];
      // A write error that only the group holding the poisoned task meets (a disk fault on its row).
      r.store.commitBatch = async (b: StateBatch) => {
        if (b.newTasks && b.newTasks.length > 0) groups.push(b.newTasks.length);
        if (b.newTasks?.some((t) => t.spec.name === 'poison')) throw new Error('disk I/O error');
        return real(b);
      };
      const names = Array.from({ length: 30 }, (_, i) => (i === 17 ? 'poison' : `ok-${i}`));
      const answers = await Promise.all(names.map((n) => r.req('POST', '/v1/tasks', spec(n))));
      // The poisoned submit shared a group with others (what this test is about).
      expect(Math.max(...groups)).toBeGreaterThan(1);
      const refused = answers[17]!;
      expect(refused.status).toBe(503);
      expect(refused.body.error.code).toBe('UNAVAILABLE');
      expect(refused.body.error.message).toContain('the store could not be written: disk I/O error');
      for (const [i, a] of answers.entries()) if (i !== 17) expect(a.status, names[i]).toBe(201);
      const stored = await r.store.listTasks({ limit: 100, states: ['PENDING'] });
      expect(stored.map((t) => t.spec.name).sort()).toEqual(names.filter((n) => n !== 'poison').sort());
      expect([...r.server.control.tasks.values()].some((t) => t.spec.name === 'poison')).toBe(false);
      // The server is not degraded by a submit's failure: the next one goes through.
      r.store.commitBatch = real;
      expect((await r.req('POST', '/v1/tasks', spec('after'))).status).toBe(201);
    } finally {
      await r.close();
    }
  });

  it('a tenant change is seen by the very next submit, without a tenant read per submit', async () => {
    const r = await rig(kind);
    try {
      expect((await r.req('POST', '/v1/admin/tenants', { name: 'lab', budget: '5.00' })).status).toBe(201);
      r.calls.clear();
      for (let i = 0; i < 5; i++) expect((await r.req('POST', '/v1/tasks?tenant=lab', spec(`lab-${i}`))).status).toBe(201);
      expect(r.calls.get('getTenant') ?? 0).toBe(0);
      // A budget of 0 is spent: the next submit is refused at once.
      expect((await r.req('PATCH', '/v1/admin/tenants/lab', { budget: '0' })).status).toBe(200);
      const refused = await r.req('POST', '/v1/tasks?tenant=lab', spec('over'));
      expect(refused.status).toBe(403);
      expect(refused.body.error.message).toContain('Budget: tenant lab has spent 0.00');
      // Raised again: accepted at once.
      expect((await r.req('PATCH', '/v1/admin/tenants/lab', { budget: null })).status).toBe(200);
      expect((await r.req('POST', '/v1/tasks?tenant=lab', spec('again'))).status).toBe(201);
      // A default time limit applies to the next submit; removed, it no longer does.
      expect((await r.req('PATCH', '/v1/admin/tenants/lab', { defaultTimeLimit: '2h' })).status).toBe(200);
      const limited = await r.req('POST', '/v1/tasks?tenant=lab', spec('limited'));
      expect((await r.store.getTask(limited.body.tasks[0].id))?.spec.timeLimitMs).toBe(7_200_000);
      expect((await r.req('PATCH', '/v1/admin/tenants/lab', { defaultTimeLimit: null })).status).toBe(200);
      const unlimited = await r.req('POST', '/v1/tasks?tenant=lab', spec('unlimited'));
      expect((await r.store.getTask(unlimited.body.tasks[0].id))?.spec.timeLimitMs).toBeUndefined();
      // A tenant created now takes submits at once; a deleted one is gone at once.
      expect((await r.req('POST', '/v1/admin/tenants', { name: 'fresh' })).status).toBe(201);
      expect((await r.req('POST', '/v1/tasks?tenant=fresh', spec('fresh-1'))).status).toBe(201);
      await r.server.control.settle();
      const freshIds = [...r.server.control.tasks.values()].filter((t) => t.spec.tenant === 'fresh').map((t) => t.id);
      for (const id of freshIds) expect((await r.req('POST', `/v1/tasks/${id}/cancel`)).status).toBe(200);
      expect((await r.req('DELETE', '/v1/admin/tenants/fresh')).status).toBe(200);
      const gone = await r.req('POST', '/v1/tasks?tenant=fresh', spec('fresh-2'));
      expect(gone.status).toBe(404);
      expect(gone.body.error.message).toContain('tenant "fresh" does not exist');
    } finally {
      await r.close();
    }
  });
});
