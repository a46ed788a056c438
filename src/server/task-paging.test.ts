// `GET /v1/tasks` pages: a list the server cuts says so (`next`), and following `next` yields every
// task once, newest first, even when many share a millisecond (the harness clock stands still).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeHarness, submit, type Harness } from './testing.js';

let h: Harness;
beforeEach(async () => {
  h = await makeHarness();
});
afterEach(async () => {
  await h.close();
});

async function follow(url: string): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let pages = 0;
  let next: string | undefined;
  do {
    const res = await h.req('GET', `${url}${next !== undefined ? `&before=${next}` : ''}`);
    expect(res.status).toBe(200);
    ids.push(...res.body.tasks.map((t: { id: string }) => t.id));
    next = res.body.next;
    pages++;
  } while (next !== undefined && pages < 100);
  return { ids, pages };
}

describe('task list pages', () => {
  it('follows next through live and finished tasks of one millisecond: each once, in order', async () => {
    const live: string[] = [];
    const ended: string[] = [];
    for (let i = 0; i < 9; i++) live.push((await submit(h, { name: `live-${i}`, command: ['true'], resources: { gpu: 1 } }))[0].id);
    for (let i = 0; i < 14; i++) {
      const id = (await submit(h, { name: `ended-${i}`, command: ['true'], resources: { gpu: 1 } }))[0].id;
      expect((await h.req('POST', `/v1/tasks/${id}/cancel`)).status).toBe(200);
      ended.push(id);
    }
    const whole = (await h.req('GET', '/v1/tasks?all=true')).body;
    expect(whole.next).toBeUndefined();
    expect(whole.tasks).toHaveLength(23);

    // Pages of 5 by `limit`, and pages the store cuts (finished only, 4 at a time).
    const paged = await follow('/v1/tasks?all=true&limit=5');
    expect(paged.ids).toEqual(whole.tasks.map((t: { id: string }) => t.id));
    expect(paged.pages).toBe(5);
    const finished = await follow('/v1/tasks?state=CANCELLED&limit=4');
    expect(new Set(finished.ids)).toEqual(new Set(ended));
    expect(finished.ids).toHaveLength(14);
  });

  it('the default view (live and the last 100 finished) is not a page: no next', async () => {
    for (let i = 0; i < 3; i++) await submit(h, { name: `t-${i}`, command: ['true'], resources: { gpu: 1 } });
    const res = await h.req('GET', '/v1/tasks');
    expect(res.body.tasks).toHaveLength(3);
    expect(res.body.next).toBeUndefined();
  });
});
