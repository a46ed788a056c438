// The fault suite (issue 9), kill -9 of an agent past its lease: a task that finished while its
// agent was dead is never run again. Its exit, recorded by the task's supervisor, reaches the
// server once the restarted agent has registered (nothing is sent before the node has an id),
// and the server holds the requeued task for it (src/server/lost-attempts.ts): a node that comes
// back listing a LOST attempt is waited for. Helpers: faults-harness.ts.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cluster, joined, nodeIs, stateOf, submit, TIMEOUT_MS } from './faults-harness.js';
import { World, lines, requireBuild, until } from './harness.js';

let world: World;
beforeAll(requireBuild);
afterEach(async () => world?.cleanup());

describe('faults', () => {
  it('an agent killed -9 and restarted after its lease ran out: tasks that completed meanwhile are not run again', async () => {
    world = new World();
    // The tasks end within a second of the kill, 5 s before their supervisors would fence them,
    // even on a loaded machine (a task still running at the fence is rightly LOST and run again).
    const c = await cluster(world, ['--node-lost-after', '8s']);
    let a = await joined(c, 'node-a');
    const runs = join(world.home, 'runs');
    const go = join(world.home, 'go');
    const ids: string[] = [];
    // Each task finishes once told to, which happens while its agent is dead: none of the exits
    // can have been reported before the kill (with tasks that simply ran 0.2 s, this raced).
    for (let i = 0; i < 4; i++) ids.push(await submit(c, 2, '0.25', `echo "$FASTGPU_TASK_ID $FASTGPU_ATTEMPT" >> ${runs}; while [ ! -e ${go} ]; do sleep 0.05; done`));
    await until('all 4 started', () => (lines(runs).length >= 4 ? true : undefined));
    await a.kill9();
    writeFileSync(go, '');
    // Down longer than the lease: node-a is LOST and its tasks wait to run again.
    await nodeIs(c, 'node-a', 'LOST');
    a = await joined(c, 'node-a');
    for (const id of ids) await until(`${id} finished`, async () => ((await stateOf(c, id)) === 'SUCCEEDED' ? true : undefined), 30_000, 200);
    // The agent is up and polling: anything requeued would have been placed and run by now.
    await nodeIs(c, 'node-a', 'READY', 20_000);
    expect(lines(runs).sort()).toEqual(ids.map((id) => `${id} 1`).sort());
    for (const id of ids) expect((await c.client.tasks.get(id)).history.map((h) => h.outcome)).toEqual(['SUCCEEDED']);
  }, TIMEOUT_MS);

});
