// Changes reach the leader and the agents through a follower without anyone polling (issue 10):
// two servers over one real Postgres, an agent that knows only the follower, and the control
// loop's periodic tick set to an hour, so nothing here can be the work of a tick or a poll
// interval. A submit through the follower is placed by the leader, the agent's long-poll through
// the follower hands the task over, a cancel through the follower stops it: each step awaited as
// an event, no timing asserted.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startAgent } from '../../agent/main.js';
import { FastGPU } from '../../sdk/client.js';
import { startServer } from '../../server/main.js';
import { usePgSuite } from './suite-testing.js';

const suite = usePgSuite('fastgpu-pgwake-');
const { dir } = suite;

const quiet = (): void => {};
const HOUR = 3_600_000;

describe('a follower passes changes on at once', () => {
  it('submit, assignment and cancel through a follower, with the periodic cycle an hour away', async () => {
    const schema = suite.pg.freshSchema();
    const store = { kind: 'postgres' as const, url: suite.pg.url, schema };
    const leader = await startServer({ dataDir: join(dir, 'a'), port: 0, tickMs: HOUR, log: quiet, store });
    const follower = await startServer({ dataDir: join(dir, 'b'), port: 0, tickMs: HOUR, log: quiet, store });
    const agent = await startAgent({ serverUrl: follower.url, token: follower.adminToken, name: 'wake-node', stateDir: join(dir, 'agent'), gpus: '1xH100', cpuMilli: 8000, memoryMiB: 16_384, log: quiet });
    const fg = new FastGPU({ url: follower.url, token: follower.adminToken, env: {} });
    try {
      expect(await (await fetch(`${follower.url}/healthz`)).json()).toMatchObject({ role: 'follower', leader: leader.url });
      const done = await fg.tasks.submit({ name: 'through-b', command: ['sh', '-c', 'echo placed by the leader'], resources: { gpu: 0.5 } });
      expect((await fg.tasks.wait(done.id, { timeoutMs: 60_000 })).state).toBe('SUCCEEDED');
      const lines: string[] = [];
      for await (const c of fg.tasks.history(done.id)) lines.push(c.data);
      expect(lines.join('')).toContain('placed by the leader');

      const long = await fg.tasks.submit({ name: 'cancelled-through-b', command: ['sh', '-c', 'echo running; exec sleep 600'], resources: { gpu: 0.5 } });
      // Its output, followed through the follower: the agent's long-poll there handed it over and it runs.
      for await (const text of fg.tasks.logs(long.id, { follow: true })) if (text.includes('running')) break;
      await fg.tasks.cancel(long.id);
      expect((await fg.tasks.wait(long.id, { timeoutMs: 60_000 })).state).toBe('CANCELLED');
      // Read from the leader: the same history, written by its control loop.
      const { events } = await new FastGPU({ url: leader.url, token: leader.adminToken, env: {} }).tasks.events(long.id);
      expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['task.submitted', 'task.scheduled', 'task.started', 'task.finished']));
    } finally {
      await agent.stop();
      await follower.close();
      await leader.close();
      await suite.pg.dropSchema(schema);
    }
  });
});
