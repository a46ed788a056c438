// Every answer the server gives is one its served /v1/openapi.json declares (issue 21 §3): the
// status, the media type, and for JSON the top-level fields of the declared schema.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeHarness, type Harness } from './testing.js';

let h: Harness;
let spec: { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema?: { properties?: Record<string, unknown> } }> }> }>> };
beforeAll(async () => {
  h = await makeHarness();
  const r = await h.req('GET', '/v1/openapi.json');
  expect(r.status).toBe(200);
  spec = r.body;
});
afterAll(async () => {
  await h.close();
});

/** The declared answer for this status and media type; fails the test when there is none. */
function declared(method: string, path: string, status: number, type: string): { properties?: Record<string, unknown> } {
  const op = spec.paths[path]?.[method.toLowerCase()];
  expect(op, `${method} ${path} in the spec`).toBeDefined();
  const answer = op!.responses[String(status)];
  expect(answer, `${method} ${path} declares ${status}`).toBeDefined();
  const media = answer!.content?.[type];
  expect(media, `${method} ${path} ${status} declares ${type}`).toBeDefined();
  expect(media!.schema, `${method} ${path} ${status} ${type} has a schema`).toBeDefined();
  return media!.schema!;
}

const mediaType = (h: unknown): string => String(h).split(';')[0]!.trim();

describe('answers the spec declares', () => {
  it('GET /v1/openapi.json documents its own 200 JSON', async () => {
    const r = await h.req('GET', '/v1/openapi.json');
    const schema = declared('GET', '/v1/openapi.json', r.status, mediaType(r.headers['content-type']));
    expect(Object.keys(schema.properties ?? {})).toEqual(expect.arrayContaining(['openapi', 'paths']));
  });

  it('POST /v1/admin/tenants: 201 for a new tenant, 200 for an existing one, both declared', async () => {
    const made = await h.req('POST', '/v1/admin/tenants', { name: 'research' });
    const again = await h.req('POST', '/v1/admin/tenants', { name: 'research', weight: 2 });
    expect([made.status, again.status]).toEqual([201, 200]);
    for (const r of [made, again]) {
      const schema = declared('POST', '/v1/admin/tenants', r.status, mediaType(r.headers['content-type']));
      expect(Object.keys(r.body).sort()).toEqual(Object.keys(schema.properties ?? {}).sort());
    }
  });

  it('POST /v1/tasks?dryRun=1: 200 with tasks, dryRun and quote, declared', async () => {
    const r = await h.req('POST', '/v1/tasks?dryRun=1', { command: 'true' });
    expect(r.status).toBe(200);
    const schema = declared('POST', '/v1/tasks', 200, mediaType(r.headers['content-type']));
    // `array` is declared too: an array's dry run answers it (its first element in `tasks`).
    expect(Object.keys(schema.properties ?? {}).sort()).toEqual(['array', 'dryRun', 'quote', 'tasks']);
    expect(Object.keys(r.body).sort()).toEqual(['dryRun', 'quote', 'tasks']);
    const arr = await h.req('POST', '/v1/tasks?dryRun=1', { command: 'true', array: '0-2' });
    expect(Object.keys(arr.body).sort()).toEqual(['array', 'dryRun', 'quote', 'tasks']);
    const real = await h.req('POST', '/v1/tasks', { command: 'true' });
    expect(real.status).toBe(201);
    declared('POST', '/v1/tasks', 201, mediaType(real.headers['content-type']));
  });

  it('GET /v1/tasks/{id}/logs: a JSON page, and with ?follow=1 an event stream, both declared', async () => {
    const id = (await h.req('POST', '/v1/tasks', { command: 'true' })).body.tasks[0].id as string;
    const page = await h.req('GET', `/v1/tasks/${id}/logs`);
    expect(page.status).toBe(200);
    declared('GET', '/v1/tasks/{id}/logs', 200, mediaType(page.headers['content-type']));
    // The stream stays open while the task runs: read its headers over a real socket, then hang up.
    const url = await h.server.app.listen({ host: '127.0.0.1', port: 0 });
    const stop = new AbortController();
    const res = await fetch(`${url}/v1/tasks/${id}/logs?follow=1`, { headers: { authorization: `Bearer ${h.token}` }, signal: stop.signal });
    expect(res.status).toBe(200);
    declared('GET', '/v1/tasks/{id}/logs', 200, mediaType(res.headers.get('content-type')));
    stop.abort();
  });
});
