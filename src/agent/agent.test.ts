import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ManualClock } from '../util/clock.js';
import { Agent, type AgentConfig } from './agent.js';
import { SupervisorLauncher } from './launcher.js';
import { simulatedGpus } from './discovery.js';
import { FakeServer } from './fixtures/fake-server.js';
import { LinkError } from './link.js';
import { MemoryNodeState } from './node-state.js';
import type { RegisterRequest } from '../protocol/agent.js';
import { alive, assignment, tempDir, waitFor, killTasks, readPidFile, PRINTS_SIGNAL_FILE } from './fixtures/helpers.js';

let state: ReturnType<typeof tempDir>;
let server: FakeServer;
const agents: Agent[] = [];

function startAgent(over: Partial<AgentConfig> = {}): Promise<Agent> {
  const agent = new Agent({
    link: server,
    launcher: new SupervisorLauncher({ stateDir: state.dir, baseEnv: { PATH: process.env.PATH ?? '/usr/bin:/bin' } }),
    node: { name: 'box', cpuMilli: 4000, memoryMiB: 8192, labels: {}, gpus: simulatedGpus('2xH100', 'box'), simulated: true, agentVersion: 'test' },
    logPollMs: 20,
    watchMs: 50,
    partialFlushMs: 50,
    ...(process.env.AGENT_TEST_LOG ? { log: (l: string) => process.stderr.write(`[agent] ${l}\n`) } : {}),
    ...over,
  });
  agents.push(agent);
  return agent.start().then(() => agent);
}

beforeEach(() => {
  state = tempDir();
  server = new FakeServer();
});
afterEach(async () => {
  for (const a of agents.splice(0)) await a.stop();
  killTasks(state.dir);
  expect(server.violations).toEqual([]);
  state.cleanup();
});

/** Signals the process group of a task's first attempt from outside, once it exists. */
const signalTask = async (taskId: string, signal: NodeJS.Signals): Promise<void> => {
  const file = join(state.dir, 'tasks', taskId, '1', 'pid');
  await waitFor(() => {
    const pids = readPidFile(file);
    if (pids === undefined) return false;
    try {
      process.kill(-pids.group, signal);
      return true;
    } catch {
      return false; // the group is not made yet
    }
  }, 5000, `the process group of ${taskId}`);
};

const exitOf = (taskId: string) => waitFor(() => server.exitOf(taskId), 10_000, `exit of ${taskId}`);

describe('Agent', () => {
  it('launches at once, reports start and exit without waiting for a heartbeat, ships all logs', async () => {
    await startAgent();
    expect(server.registers[0]).toMatchObject({ name: 'box', simulated: true, tasks: [] });
    const a = assignment(['sh', '-c', 'echo "task=$FASTGPU_TASK_ID gpus=$CUDA_VISIBLE_DEVICES"; echo "ünïcødé ✓" >&2; exit 7']);
    server.assign(a);
    await waitFor(() => server.reports.find((r) => r.taskId === a.taskId && r.status === 'running'), 5000, 'start report');
    const exit = await exitOf(a.taskId);
    expect(exit).toMatchObject({ status: 'exited', exitCode: 7, endReason: 'exit' });
    expect(server.heartbeats).toHaveLength(0); // all through `report`
    // Logs were complete before the exit was reported.
    expect(server.text(a.taskId, 'stdout')).toBe(`task=${a.taskId} gpus=1\n`);
    expect(server.text(a.taskId, 'stderr')).toBe('ünïcødé ✓\n');
  });

  it('forgets an exited attempt only once the server acknowledged it', async () => {
    const agent = await startAgent();
    const a = assignment(['true']);
    server.assign(a);
    await exitOf(a.taskId);
    expect(existsSync(join(state.dir, 'tasks', a.taskId, '1', 'stdout.log'))).toBe(true);
    await agent.heartbeat();
    expect(server.heartbeats.at(-1)!.tasks).toEqual([expect.objectContaining({ taskId: a.taskId, status: 'exited' })]);
    expect(agent.attempts()).toEqual([]);
    expect(existsSync(join(state.dir, 'tasks', a.taskId, '1', 'stdout.log'))).toBe(false);
    // The server repeats the assignment (it lost track): it is not run again. Two polls later
    // the agent has acted on the answer that carried it.
    const polls = server.polls;
    server.assign(a);
    await waitFor(() => server.polls >= polls + 2, 5000, 'two more polls');
    expect(server.reports.filter((r) => r.taskId === a.taskId && r.status === 'running')).toHaveLength(1);
  });

  it('stops tailing an attempt once its logs are all shipped: later pumps read only attempts that can grow', async () => {
    await startAgent();
    const a = assignment(['sh', '-c', 'echo hi']);
    server.assign(a);
    await exitOf(a.taskId);
    expect(server.text(a.taskId, 'stdout')).toBe('hi\n');
    // Nothing can write there after the exit (the supervisor killed the task's group); if the
    // agent still tailed it, this line would be shipped by the next pumps (every 20 ms here).
    writeFileSync(join(state.dir, 'tasks', a.taskId, '1', 'stdout.log'), 'hi\nnot read\n');
    const b = assignment(['sh', '-c', 'sleep 0.2; echo later']);
    server.assign(b);
    await exitOf(b.taskId);
    expect(server.text(b.taskId, 'stdout')).toBe('later\n');
    expect(server.text(a.taskId, 'stdout')).toBe('hi\n');
  });

  it('a launch its state dir cannot record is reported never-started, and the agent goes on', async () => {
    await startAgent();
    const a = assignment(['sh', '-c', `echo ran > ${join(state.dir, 'ran')}`]);
    // A file where the task's folder must go: the launcher cannot create the attempt's folder.
    writeFileSync(join(state.dir, 'tasks', a.taskId), '');
    server.assign(a);
    expect(await exitOf(a.taskId)).toMatchObject({ status: 'exited', endReason: 'never-started', exitCode: null, error: expect.stringMatching(/^the agent could not launch it: /) });
    expect(existsSync(join(state.dir, 'ran'))).toBe(false);
    const b = assignment(['sh', '-c', 'echo fine']);
    server.assign(b);
    expect(await exitOf(b.taskId)).toMatchObject({ exitCode: 0 });
    rmSync(join(state.dir, 'tasks', a.taskId)); // for the clean-up, which walks the folders
  });

  it('a node going away (stopTasks) starts nothing new: an assignment handed over then is refused unstarted', async () => {
    const agent = await startAgent();
    const a = assignment(['sleep', '30']);
    server.assign(a);
    await waitFor(() => server.reports.find((r) => r.taskId === a.taskId && r.status === 'running'), 5000, 'start report');
    const stopping = agent.stopTasks(1000);
    // Handed over while the node stops its tasks (a Slurm scancel): it must not run there.
    const b = assignment(['sh', '-c', `echo ran > ${join(state.dir, 'ran-b')}`]);
    server.assign(b);
    expect(await exitOf(b.taskId)).toMatchObject({ status: 'exited', endReason: 'never-started', exitCode: null, error: expect.stringMatching(/going away/) });
    await stopping;
    expect(existsSync(join(state.dir, 'ran-b'))).toBe(false);
  });

  it('polls again at once after a launch, even when a heartbeat forgot a finished attempt meanwhile', async () => {
    // The loop sleeps 100 ms after an answer it did nothing with; it once judged that by the
    // number of known attempts, which a concurrent forget kept unchanged.
    // The agent runs on a ManualClock: once it is frozen, a loop that sleeps never polls again.
    const launcher = new SupervisorLauncher({ stateDir: state.dir, baseEnv: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
    const clock = new ManualClock(Date.now());
    let agent!: Agent;
    // Whether the answer carrying B came back, and whether the agent asked again after it.
    let answeredB = false;
    let nextPoll = false;
    const poll = server.pollAssignments.bind(server);
    server.pollAssignments = async (...args) => {
      if (answeredB) nextPoll = true;
      const res = await poll(...args);
      if (res.assignments.some((x) => x.taskId === b.taskId)) answeredB = true;
      return res;
    };
    const b = assignment(['sleep', '5']);
    const launch = launcher.launch.bind(launcher);
    launcher.launch = async (a) => {
      if (a.taskId === b.taskId) await agent.heartbeat(); // forgets the finished one, mid-launch
      return launch(a);
    };
    agent = new Agent({
      link: server,
      launcher,
      node: { name: 'box', cpuMilli: 4000, memoryMiB: 8192, labels: {}, gpus: simulatedGpus('2xH100', 'box'), simulated: true, agentVersion: 'test' },
      logPollMs: 20,
      watchMs: 50,
      clock,
    });
    agents.push(agent);
    // Time runs while the first task runs and its logs ship…
    let ticking = true;
    const ticker = (async () => {
      while (ticking) {
        clock.advance(10);
        await new Promise((r) => setImmediate(r));
      }
    })();
    await agent.start();
    const done = assignment(['true']);
    server.assign(done);
    await exitOf(done.taskId);
    ticking = false;
    await ticker;
    expect(agent.attempts()).toHaveLength(1);
    // …and stands still from here: the next poll must come with no time passing at all.
    server.assign(b);
    await waitFor(() => nextPoll, 5000, 'the next poll');
    expect(agent.attempts().map((x) => x.taskId)).toEqual([b.taskId]); // the finished one was forgotten
  });

  it('heartbeats carry running tasks and simulated utilisation from allocations', async () => {
    const agent = await startAgent();
    const a = assignment(['sleep', '30']);
    server.assign(a);
    await waitFor(() => agent.attempts().length === 1);
    await agent.heartbeat();
    const hb = server.heartbeats.at(-1)!;
    expect(hb.tasks).toEqual([expect.objectContaining({ taskId: a.taskId, status: 'running' })]);
    expect(hb.samples).toEqual([
      { gpuIndex: 0, utilPercent: 0, memoryUsedMiB: 0 },
      { gpuIndex: 1, utilPercent: 50, memoryUsedMiB: 40960 },
    ]);
    // sleep ends at SIGTERM: a long grace only matters on a box too loaded to deliver it in 100 ms
    // (then SIGKILL came first, as the soak saw).
    server.stopTask(a.taskId, 1, 'cancelled', 30_000);
    expect(await exitOf(a.taskId)).toMatchObject({ endReason: 'cancelled', signal: 'SIGTERM' });
  });

  it('an ephemeral node: a task its provider killed before the agent heard is reported preempted, not failed', async () => {
    const agent = await startAgent({ ephemeral: true });
    const killedFirst = assignment(['sleep', '30']);
    const unrelated = assignment(['sleep', '30']);
    server.assign(killedFirst);
    server.assign(unrelated);
    for (const a of [killedFirst, unrelated]) await waitFor(() => server.reports.find((r) => r.taskId === a.taskId && r.status === 'running'), 5000, 'start report');
    // Slurm's scancel: SIGTERM to the task first, then (a moment later) to the agent.
    await signalTask(killedFirst.taskId, 'SIGTERM');
    const stopping = agent.stopTasks(30_000);
    expect(await exitOf(killedFirst.taskId)).toMatchObject({ endReason: 'preempted', signal: 'SIGTERM' });
    expect(await exitOf(unrelated.taskId)).toMatchObject({ endReason: 'preempted' });
    await stopping;
  });

  it('an ephemeral node: a task whose supervisor its provider killed before the agent heard is reported preempted, not failed', async () => {
    // Slurm's proctrack signals every process of the job, the supervisor (the agent's child) too:
    // it dies without recording an exit, and the agent finds it gone before its own SIGTERM.
    const agent = await startAgent({ ephemeral: true });
    const a = assignment(['sleep', '30']);
    server.assign(a);
    await waitFor(() => server.reports.find((r) => r.taskId === a.taskId && r.status === 'running'), 5000, 'start report');
    const { group, supervisor } = await waitFor(() => readPidFile(join(state.dir, 'tasks', a.taskId, '1', 'pid')), 5000, 'the pid file');
    await waitFor(() => alive(-group), 5000, 'the task\'s process group'); // timeout makes it
    process.kill(supervisor, 'SIGTERM');
    process.kill(-group, 'SIGTERM');
    const gone = (): boolean => {
      try {
        return readFileSync(`/proc/${supervisor}/cmdline`, 'utf8') === ''; // a zombie has none
      } catch {
        return true;
      }
    };
    await waitFor(() => gone() && !alive(-group), 5000, 'the supervisor and the task gone');
    const stopping = agent.stopTasks(30_000);
    expect(await exitOf(a.taskId)).toMatchObject({ endReason: 'preempted', exitCode: null });
    await stopping;
  });

  it('an ephemeral node going away waits for the server to take the exit reports of the tasks it stopped', async () => {
    // The exit report waits for the task's last logs ("bye", on SIGTERM), which the server refuses
    // for now: it goes out only once the drain gives up (1 s without progress), after the process
    // has ended.
    const agent = await startAgent({ ephemeral: true, drainTimeoutMs: 1000 });
    const a = assignment(['sh', '-c', 'trap "echo bye; exit 143" TERM; echo hello; sleep 30 & wait']);
    server.assign(a);
    await waitFor(() => server.text(a.taskId, 'stdout') === 'hello\n', 5000, 'the task running');
    server.logsDown = true;
    expect(await agent.stopTasks(30_000)).toBe(1);
    expect(server.reports.find((r) => r.taskId === a.taskId && r.status === 'exited')).toMatchObject({ endReason: 'preempted' });
  });

  it('an ephemeral node that is not going away reports a task killed from outside as the exit it was', async () => {
    await startAgent({ ephemeral: true });
    const a = assignment(['sleep', '30']);
    server.assign(a);
    await waitFor(() => server.reports.find((r) => r.taskId === a.taskId && r.status === 'running'), 5000, 'start report');
    await signalTask(a.taskId, 'SIGKILL');
    expect(await exitOf(a.taskId)).toMatchObject({ endReason: 'exit', signal: 'SIGKILL' });
  });

  it('obeys preemption: the task reads FASTGPU_PREEMPTED before SIGTERM', async () => {
    await startAgent();
    const a = assignment(PRINTS_SIGNAL_FILE);
    server.assign(a);
    await waitFor(() => server.text(a.taskId, 'stdout') === 'ready\n');
    server.stopTask(a.taskId, 1, 'preempted', 2000);
    expect(await exitOf(a.taskId)).toMatchObject({ endReason: 'preempted', exitCode: 0 });
    expect(server.text(a.taskId, 'stdout')).toBe('ready\nFASTGPU_PREEMPTED=1\n');
  });

  it('reports time limits and launch failures', async () => {
    await startAgent();
    const slow = assignment(['sleep', '30'], { timeLimitMs: 200, graceMs: 200 });
    const missing = assignment(['definitely-not-a-command']);
    server.assign(slow);
    server.assign(missing);
    expect(await exitOf(missing.taskId)).toMatchObject({ endReason: 'launch-failed', exitCode: 127, error: 'command not found: definitely-not-a-command' });
    expect(await exitOf(slow.taskId)).toMatchObject({ endReason: 'timeout' });
  });

  it('keeps tasks running while the server is down and reports everything when it is back', async () => {
    await startAgent();
    const a = assignment(['sh', '-c', 'echo one; while [ ! -e "$FASTGPU_SIGNAL_FILE.go" ]; do sleep 0.02; done; echo two; exit 3']);
    server.assign(a);
    await waitFor(() => server.text(a.taskId, 'stdout') === 'one\n');
    server.down = true;
    writeFileSync(join(state.dir, 'tasks', a.taskId, '1', 'signal.go'), '');
    await waitFor(() => existsSync(join(state.dir, 'tasks', a.taskId, '1', 'exit')));
    // The agent tried (and failed) to reach the server after the exit: nothing got through.
    const refused = server.refused;
    await waitFor(() => server.refused >= refused + 3, 10_000, 'calls refused while down');
    expect(server.exitOf(a.taskId)).toBeUndefined();
    server.down = false;
    expect(await exitOf(a.taskId)).toMatchObject({ exitCode: 3 });
    expect(server.text(a.taskId, 'stdout')).toBe('one\ntwo\n');
  });

  it('a register whose answer was lost is sent again with the credential the agent drew and saved first', async () => {
    const nodeState = new MemoryNodeState();
    let lost = 0;
    // The server takes the first register, but its answer never arrives (a timeout under load).
    const link = new Proxy(server, {
      get(target, prop, receiver) {
        if (prop !== 'register') return Reflect.get(target, prop, receiver) as unknown;
        return async (req: RegisterRequest) => {
          const res = await target.register(req);
          if (lost++ === 0) throw new LinkError('register: no answer within 10000 ms', true);
          return res;
        };
      },
    });
    await startAgent({ link, nodeState });
    expect(server.registers).toHaveLength(2);
    const [first, retry] = server.registers;
    expect(first!.credential).toMatch(/^fgn_[A-Za-z0-9_-]{40}$/);
    expect(retry!.credential).toBe(first!.credential);
    expect(nodeState.credential).toBe(first!.credential);
  });

  it('re-registers when the server asks', async () => {
    const agent = await startAgent();
    const a = assignment(['sleep', '30']);
    server.assign(a);
    await waitFor(() => agent.attempts().length === 1);
    server.reregisterNext = true;
    await agent.heartbeat();
    expect(server.registers).toHaveLength(2);
    expect(server.registers[1]!.tasks).toEqual([expect.objectContaining({ taskId: a.taskId, status: 'running' })]);
    server.stopTask(a.taskId, 1, 'cancelled', 100);
    await exitOf(a.taskId);
  });

  it('after an agent crash, re-attaches the running task, never relaunches it, and reports its exit and remaining logs', async () => {
    const first = await startAgent();
    const count = join(state.dir, 'runs');
    const a = assignment([
      'sh',
      '-c',
      `echo run >> ${count}; i=0; while [ $i -lt 200 ]; do echo "before $i ✓"; i=$((i+1)); done; while [ ! -e "$FASTGPU_SIGNAL_FILE.go" ]; do sleep 0.02; done; i=0; while [ $i -lt 300 ]; do echo "after $i ✓"; i=$((i+1)); done; exit 5`,
    ]);
    server.assign(a);
    await waitFor(() => server.text(a.taskId, 'stdout').includes('before 199'));
    const pidFile = join(state.dir, 'tasks', a.taskId, '1', 'pid');
    await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').endsWith('\n'));
    const pid = Number(readFileSync(pidFile, 'utf8').split(' ')[0]);
    // Log shipping breaks, the task writes more, and the agent dies without any cleanup.
    server.logsDown = true;
    writeFileSync(join(state.dir, 'tasks', a.taskId, '1', 'signal.go'), '');
    await waitFor(() => existsSync(join(state.dir, 'tasks', a.taskId, '1', 'stdout.shipped')) && readFileSync(join(state.dir, 'tasks', a.taskId, '1', 'stdout.log'), 'utf8').includes('after 50'));
    const refused = server.logsRefused;
    await waitFor(() => server.logsRefused > refused, 5000, 'a log batch the server refused'); // journalled, never taken
    await first.stop();
    agents.splice(agents.indexOf(first), 1);
    server.logsDown = false;

    // Meanwhile the task ends.
    await waitFor(() => existsSync(join(state.dir, 'tasks', a.taskId, '1', 'exit')));
    expect(alive(pid)).toBe(false);
    server.assign(a); // the server resends: it has not heard of the exit

    await startAgent();
    expect(server.registers).toHaveLength(2);
    expect(server.registers[1]!.tasks.map((t) => t.taskId)).toEqual([a.taskId]);
    expect(await exitOf(a.taskId)).toMatchObject({ exitCode: 5 });
    const expected = Array.from({ length: 200 }, (_, i) => `before ${i} ✓\n`).join('') + Array.from({ length: 300 }, (_, i) => `after ${i} ✓\n`).join('');
    await waitFor(() => server.text(a.taskId, 'stdout') === expected, 5000, 'all logs');
    expect(readFileSync(count, 'utf8')).toBe('run\n');
  });

  it('a restarted agent sends nothing before it has a node id: exits and logs found on disk go out after it registered', async () => {
    const first = await startAgent();
    const a = assignment(['sh', '-c', 'while [ ! -e "$FASTGPU_SIGNAL_FILE.go" ]; do sleep 0.02; done; echo done; exit 0']);
    server.assign(a);
    await waitFor(() => server.reports.find((r) => r.taskId === a.taskId && r.status === 'running'), 5000, 'start report');
    await first.stop();
    agents.splice(agents.indexOf(first), 1);
    // The task ends while no agent runs.
    writeFileSync(join(state.dir, 'tasks', a.taskId, '1', 'signal.go'), '');
    await waitFor(() => existsSync(join(state.dir, 'tasks', a.taskId, '1', 'exit')));
    // The server is slow to answer the new agent's register: the exit it found waits for it.
    let answer!: () => void;
    server.registerGate = new Promise<void>((r) => (answer = r));
    const second = startAgent();
    const agent = agents.at(-1)!;
    await waitFor(() => server.registers.length === 2, 5000, 'the second register');
    // The exit found on disk has reached the point where it would be sent (its drain waits at
    // the registration gate): nothing went out, and nothing will before the answer.
    await waitFor(() => agent.heldForRegistration() >= 1, 5000, 'the found exit waiting for the register');
    expect(server.violations).toEqual([]);
    expect(server.reports.filter((r) => r.taskId === a.taskId && r.status === 'exited')).toEqual([]);
    expect(server.text(a.taskId, 'stdout')).toBe('');
    expect(server.registers[1]!.tasks.map((t) => t.taskId)).toEqual([a.taskId]);
    answer();
    await second;
    expect(await exitOf(a.taskId)).toMatchObject({ exitCode: 0 });
    expect(server.text(a.taskId, 'stdout')).toBe('done\n');
  });

  it('a stop order for a pair it never launched claims it, so a late assignment cannot start it', async () => {
    await startAgent();
    const a = assignment(['sh', '-c', `echo ran > ${join(state.dir, 'ran')}`]);
    server.stopTask(a.taskId, 1, 'cancelled');
    expect(await exitOf(a.taskId)).toMatchObject({ endReason: 'cancelled', exitCode: null });
    const polls = server.polls;
    server.assign(a);
    await waitFor(() => server.polls >= polls + 2, 5000, 'two more polls'); // it acted on the assignment
    expect(existsSync(join(state.dir, 'ran'))).toBe(false);
  });
});
