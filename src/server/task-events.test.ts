// GET /v1/tasks/:id/events: one task's stored history, in pages, scoped like GET /v1/tasks/:id.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PoolEvent } from '../core/types.js';
import { FakeAgent, makeHarness, submit, type Harness } from './testing.js';

let h: Harness;
beforeEach(async () => {
  h = await makeHarness();
});
afterEach(async () => {
  await h.close();
});

const eventsOf = async (id: string, query = ''): Promise<{ status: number; body: { events: PoolEvent[]; next?: number }; raw: string }> =>
  h.req('GET', `/v1/tasks/${id}/events${query}`);

/** Runs one task to success on a fake agent; a second task and the node's own events go in between. */
async function ranTask(): Promise<{ id: string; other: string }> {
  const agent = new FakeAgent(h);
  await agent.register();
  const [t] = await submit(h, { name: 'ran', command: 'true', resources: { gpu: 0.5 } });
  const [other] = await submit(h, { name: 'other', command: 'true', resources: { gpu: 0.25 } });
  await agent.pollAndStart();
  h.clock.advance(1000);
  await agent.exit(t.id, 1, 0);
  await h.server.control.settle();
  return { id: t.id, other: other.id };
}

describe('GET /v1/tasks/:id/events', () => {
  it('answers the whole history of a task that ran, oldest first, and nothing of other tasks or the pool', async () => {
    const { id, other } = await ranTask();
    const r = await eventsOf(id);
    expect(r.status).toBe(200);
    expect(r.body.events.map((e) => e.type)).toEqual(['task.submitted', 'task.scheduled', 'task.started', 'task.finished']);
    expect(r.body.events.every((e) => e.taskId === id)).toBe(true);
    expect(r.body).not.toHaveProperty('next');
    const seqs = r.body.events.map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    const [submitted, scheduled, started, finished] = r.body.events;
    expect(submitted).toMatchObject({ data: { name: 'ran', tenant: 'default' } });
    expect(scheduled).toMatchObject({ nodeId: expect.stringMatching(/^n_/) as unknown, data: { attempt: 1, node: 'node-a', gpus: [0], gpuMilli: 500 } });
    expect(started).toMatchObject({ data: { attempt: 1 } });
    expect(finished).toMatchObject({ data: { state: 'SUCCEEDED', exitCode: 0, attempt: 1 } });
    expect(typeof finished!.at).toBe('number');
    expect(finished!.at - submitted!.at).toBe(1000);
    // The other task has its own history; the pool's own events (node.registered) are in neither.
    expect((await eventsOf(other)).body.events.map((e) => e.type)).toEqual(['task.submitted', 'task.scheduled', 'task.started']);
    const all = await h.store.listEvents(0);
    expect(all.some((e) => e.type === 'node.registered')).toBe(true);
  });

  it('tells a cancelled waiting task’s story, and keeps it across a restart', async () => {
    const [t] = await submit(h, { command: 'true', resources: { gpu: 0.5 } });
    expect((await h.req('POST', `/v1/tasks/${t.id}/cancel`)).status).toBe(200);
    await h.restart();
    const r = await eventsOf(t.id);
    expect(r.body.events.map((e) => [e.type, e.data.state ?? e.data.reason ?? null])).toEqual([
      ['task.submitted', null],
      ['task.pending', 'Resources'], // why it waited: no node has joined
      ['task.cancelled', 'PENDING'],
    ]);
  });

  it('pages with after and limit; next is there only while more follow', async () => {
    const { id } = await ranTask();
    const all = (await eventsOf(id)).body.events;
    const p1 = await eventsOf(id, '?limit=3');
    expect(p1.body.events).toEqual(all.slice(0, 3));
    expect(p1.body.next).toBe(all[2]!.seq);
    const p2 = await eventsOf(id, `?after=${p1.body.next}&limit=3`);
    expect(p2.body).toEqual({ events: all.slice(3) });
    // A page that ends exactly at the last event says so.
    expect(await eventsOf(id, '?limit=4').then((r) => r.body)).toEqual({ events: all });
    expect((await eventsOf(id, `?after=${all[3]!.seq}`)).body).toEqual({ events: [] });
    expect((await eventsOf(id, '?after=0&limit=1000')).body).toEqual({ events: all });
  });

  it('answers 404 naming the id for an unknown task', async () => {
    const r = await eventsOf('t_nosuchtask');
    expect(r.status).toBe(404);
    expect(r.raw).toContain('"code":"NOT_FOUND"');
    expect(JSON.parse(r.raw).error.message).toBe('task t_nosuchtask not found');
  });

  it('refuses bad queries with a 400 naming the field, never a 500', async () => {
    const [t] = await submit(h, { command: 'true' });
    for (const [query, field] of [
      ['?after=abc', 'query.after'],
      ['?after=-1', 'query.after'],
      ['?after=1.5', 'query.after'],
      ['?after=99999999999999999999', 'query.after'],
      ['?limit=0', 'query.limit'],
      ['?limit=1001', 'query.limit'],
      ['?limit=1e9', 'query.limit'],
      ['?limit=99999999999999999999', 'query.limit'],
      ['?follow=true', 'query.follow'],
    ] as const) {
      const r = await eventsOf(t.id, query);
      expect(r.status, `${query}: ${r.raw}`).toBe(400);
      const err = JSON.parse(r.raw).error as { code: string; message: string; field?: string };
      expect(err.code).toBe('INVALID_ARGUMENT');
      expect(`${err.field ?? ''} ${err.message}`, query).toContain(field);
    }
  });
});
