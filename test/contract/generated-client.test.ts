// A client generated from the served spec works (issue 21 "A generated client works"):
// openapi-typescript's types of /v1/openapi.json are committed (src/sdk/generated/openapi.ts,
// `npm run gen:api-types`) and must be what the tool makes of today's spec; openapi-fetch, typed
// by them, drives the main flows against a real server on loopback; and the SDK's request and
// response types are checked against the generated ones, so SDK, server and spec cannot drift.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import createClient from 'openapi-fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TenantInput, TenantUpdate, TenantView } from '../../src/sdk/admin.js';
import type { components, paths } from '../../src/sdk/generated/openapi.js';
import type { AttemptView, NodeView, TaskDetail, TaskSpecInput, TaskView, VgpuRequest, VgpuView } from '../../src/sdk/types.js';
import { makeHarness, type Harness } from '../../src/server/testing.js';

const run = promisify(execFile);
const GENERATED = join(import.meta.dirname, '../../src/sdk/generated/openapi.ts');

type Json<P extends keyof paths, M extends keyof paths[P], S extends number> = paths[P][M] extends { responses: infer R }
  ? R extends Record<S, { content: { 'application/json': infer B } }>
    ? B
    : never
  : never;
type BodyOf<P extends keyof paths, M extends keyof paths[P]> = paths[P][M] extends { requestBody: { content: { 'application/json': infer B } } } ? B : never;

// Each holds only if the SDK's type may stand where the generated one is expected (and back, for
// answers the SDK reads): a field added, renamed or retyped on one side fails the type check.
type Is<A, B> = [A] extends [B] ? true : false;
const ok = <T extends boolean>(v: T): T => v;
const checks = {
  submitBody: ok<Is<TaskSpecInput, BodyOf<'/v1/tasks', 'post'>>>(true),
  vgpuBody: ok<Is<VgpuRequest, BodyOf<'/v1/vgpus', 'post'>>>(true),
  // What FastGPU.tasks.get reads before it keeps `attempts` a count and moves the list to `history`.
  taskDetail: ok<Is<Json<'/v1/tasks/{id}', 'get', 200>, Omit<TaskView, 'attempts'> & { attempt: number; attempts: AttemptView[] }>>(true),
  history: ok<Is<AttemptView[], TaskDetail['history']>>(true),
  cancel: ok<Is<Json<'/v1/tasks/{id}/cancel', 'post', 200>, TaskView>>(true),
  submitted: ok<Is<Json<'/v1/tasks', 'post', 201>['tasks'][number], TaskView>>(true),
  vgpu: ok<Is<Json<'/v1/vgpus/{id}', 'get', 200>, VgpuView>>(true),
  node: ok<Is<Json<'/v1/nodes', 'get', 200>['nodes'][number], NodeView>>(true),
  errorCode: ok<Is<components['schemas']['Error']['error']['code'], string>>(true),
  tenantBody: ok<Is<TenantInput, BodyOf<'/v1/admin/tenants', 'post'>>>(true),
  tenantUpdate: ok<Is<TenantUpdate, BodyOf<'/v1/admin/tenants/{name}', 'patch'>>>(true),
  tenant: ok<Is<Json<'/v1/admin/tenants/{name}', 'get', 200>, TenantView>>(true),
  tenantBack: ok<Is<TenantView, Json<'/v1/admin/tenants/{name}', 'patch', 200>>>(true),
};

let h: Harness;
let base: string;
let dir: string;
beforeAll(async () => {
  h = await makeHarness();
  await h.server.app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(h.server.app.server.address() as AddressInfo).port}`;
  dir = mkdtempSync(join(tmpdir(), 'fastgpu-gen-'));
});
afterAll(async () => {
  await h.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('generated types', () => {
  it('src/sdk/generated/openapi.ts is what openapi-typescript makes of the served spec (else: npm run gen:api-types)', async () => {
    const spec = (await h.req('GET', '/v1/openapi.json')).body;
    writeFileSync(join(dir, 'openapi.json'), `${JSON.stringify(spec, null, 2)}\n`);
    const cli = join(import.meta.dirname, '../../node_modules/openapi-typescript/bin/cli.js');
    await run(process.execPath, [cli, join(dir, 'openapi.json'), '-o', join(dir, 'openapi.ts')], { timeout: 120_000 });
    expect(readFileSync(join(dir, 'openapi.ts'), 'utf8')).toBe(readFileSync(GENERATED, 'utf8'));
  }, 150_000);

  it('the SDK’s types agree with the generated ones', () => {
    expect(Object.values(checks).every((c) => c)).toBe(true);
  });
});

describe('openapi-fetch, typed by the generated types, against a real server', () => {
  const client = () => createClient<paths>({ baseUrl: base, headers: { authorization: `Bearer ${h.token}` } });

  it('submits, reads, lists and cancels a task', async () => {
    const c = client();
    const sub = await c.POST('/v1/tasks', { body: { name: 'gen', command: ['echo', 'hi'], resources: { gpu: 0.5 } } });
    expect(sub.response.status).toBe(201);
    const id = sub.data!.tasks[0]!.id;
    const got = await c.GET('/v1/tasks/{id}', { params: { path: { id } } });
    expect([got.data?.name, got.data?.state]).toEqual(['gen', 'PENDING']);
    const list = await c.GET('/v1/tasks', { params: { query: { state: 'PENDING', limit: 10 } } });
    expect(list.data?.tasks.map((t) => t.id)).toContain(id);
    const cancelled = await c.POST('/v1/tasks/{id}/cancel', { params: { path: { id } } });
    expect(cancelled.data?.state).toBe('CANCELLED');
    const events = await c.GET('/v1/tasks/{id}/events', { params: { path: { id }, query: { limit: 10 } } });
    expect(events.data?.events.map((e) => e.type)).toContain('task.submitted');
  });

  it('a dry run answers 200 with the quote, as declared', async () => {
    const dry = await client().POST('/v1/tasks', { params: { query: { dryRun: 'true' } }, body: { command: 'true' } });
    expect(dry.response.status).toBe(200);
    expect(dry.data?.tasks).toHaveLength(1);
  });

  it('reserves and releases a vGPU, and lists nodes and GPUs', async () => {
    const c = client();
    const vg = await c.POST('/v1/vgpus', { body: { name: 'gen-vg', gpu: 0.25 } });
    expect(vg.response.status).toBe(201);
    const id = vg.data!.id;
    expect((await c.GET('/v1/vgpus/{id}', { params: { path: { id } } })).data?.name).toBe('gen-vg');
    expect((await c.DELETE('/v1/vgpus/{id}', { params: { path: { id } } })).response.ok).toBe(true);
    expect((await c.GET('/v1/nodes')).data?.nodes).toEqual([]);
    expect((await c.GET('/v1/gpus')).data?.gpus).toEqual([]);
  });

  it('errors come back as the declared Error body', async () => {
    const missing = await client().GET('/v1/tasks/{id}', { params: { path: { id: 'nope' } } });
    expect(missing.response.status).toBe(404);
    expect(missing.error?.error.code).toBe('NOT_FOUND');
    const bad = await client().POST('/v1/tasks', { body: { command: [] as unknown as string[] } });
    expect(bad.response.status).toBe(400);
    expect(bad.error?.error.field).toBe('command');
  });
});
