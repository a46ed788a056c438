// The Uploading phase on the agent, with real files and a real state dir; the launcher below and
// the server are in-memory seams (the whole path, real processes and HTTP, is in
// test/e2e/data-outputs.test.ts).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DatasetManifest } from '../core/data/dataset.js';
import type { Assignment, RunningReport } from '../protocol/agent.js';
import { assignment, tempDir, waitFor } from './fixtures/helpers.js';
import { FakeServer } from './fixtures/fake-server.js';
import { Agent } from './agent.js';
import { simulatedGpus } from './discovery.js';
import type { Launcher, LaunchResult, ScannedAttempt } from './launcher.js';
import { OutputLinkError, type CommittedVersion, type OutputsLink } from './outputs-http.js';
import { OutputsLauncher } from './outputs.js';

const key = (t: string, a: number): string => `${t}#${a}`;

/** Runs nothing: a test says when an attempt exits. */
class FakeInner implements Launcher {
  readonly reports = new Map<string, RunningReport>();
  readonly launched: Assignment[] = [];
  private readonly listeners: ((t: string, a: number) => void)[] = [];
  constructor(private readonly root: string) {}
  workDir(t: string, a: number): string {
    return join(this.root, 'work', `${t}-${a}`);
  }
  async launch(a: Assignment): Promise<LaunchResult> {
    const r: RunningReport = { taskId: a.taskId, attempt: a.attempt, status: 'running', pid: 42, startedAt: 1000 };
    this.reports.set(key(a.taskId, a.attempt), r);
    this.launched.push(a);
    return { launched: true, report: r };
  }
  exit(t: string, a: number, exitCode: number): void {
    this.reports.set(key(t, a), { taskId: t, attempt: a, status: 'exited', exitCode, endReason: 'exit', pid: 42, startedAt: 1000, endedAt: 5000 });
    for (const l of this.listeners) l(t, a);
  }
  async scan(): Promise<ScannedAttempt[]> {
    return [...this.reports.values()].map((report) => ({ report }));
  }
  async inspect(t: string, a: number): Promise<RunningReport | undefined> {
    return this.reports.get(key(t, a));
  }
  async stop(): Promise<boolean> {
    return true;
  }
  async forget(t: string, a: number): Promise<void> {
    this.reports.delete(key(t, a));
  }
  attemptDir(t: string, a: number): string {
    return join(this.root, 'attempts', `${t}-${a}`);
  }
  onExit(l: (t: string, a: number) => void): void {
    this.listeners.push(l);
  }
  dispose(): void {}
}

/** A server that keeps chunks and commits in memory; `fail` decides what a call throws. */
class FakeLink implements OutputsLink {
  readonly chunks = new Set<string>();
  readonly commits: { index: number; manifest: DatasetManifest }[][] = [];
  fail: (call: string) => Error | undefined = () => undefined;
  /** While held, every send waits (an upload in progress) until release() or its abort. */
  private held = false;
  private waiting: (() => void)[] = [];
  hold(): void {
    this.held = true;
  }
  /** Lets the sends waiting now go on, and those to come pass. */
  release(): void {
    this.held = false;
    for (const go of this.waiting.splice(0)) go();
  }
  async missing(_ref: unknown, hashes: string[]): Promise<string[]> {
    const e = this.fail('missing');
    if (e) throw e;
    return hashes.filter((h) => !this.chunks.has(h));
  }
  async send(_ref: unknown, hash: string, _data: Buffer, _enc: string, signal?: AbortSignal): Promise<void> {
    if (this.held) await Promise.race([new Promise<void>((go) => this.waiting.push(go)), new Promise((_, reject) => signal?.addEventListener('abort', () => reject(new Error('aborted')), { once: true }))]);
    this.chunks.add(hash);
  }
  async commit(_ref: unknown, outputs: { index: number; manifest: DatasetManifest }[]): Promise<CommittedVersion[]> {
    const e = this.fail('commit');
    if (e) throw e;
    this.commits.push(outputs);
    return outputs.map((o) => ({ index: o.index, name: 'ckpt', version: this.commits.length, bytes: 0 }));
  }
}

let state: ReturnType<typeof tempDir>;
let inner: FakeInner;
let link: FakeLink;
let made: OutputsLauncher[];

function launcher(over: Partial<ConstructorParameters<typeof OutputsLauncher>[0]> = {}): OutputsLauncher {
  const o = new OutputsLauncher({ inner, link, nodeId: () => 'n1', stateDir: state.dir, ...over });
  made.push(o);
  return o;
}

const withOutputs = (over: Partial<Assignment> = {}): Assignment => assignment(['true'], { taskId: 't1', attempt: 1, outputs: [{ path: 'out', dataset: 'ckpt' }], ...over });

/** Writes out/ in the attempt's folder, as the task would. */
function writeOut(): void {
  const dir = join(inner.workDir('t1', 1), 'out');
  mkdirSync(join(dir, 'sub'), { recursive: true });
  writeFileSync(join(dir, 'weights.bin'), Buffer.alloc(5 * 1024 * 1024, 3));
  writeFileSync(join(dir, 'sub', 'loss.txt'), '0.1\n');
}

beforeEach(() => {
  state = tempDir('fastgpu-outputs-');
  inner = new FakeInner(state.dir);
  link = new FakeLink();
  made = [];
});
afterEach(async () => {
  for (const o of made) o.dispose();
  for (const o of made) await o.settled();
  state.cleanup();
});

describe('task outputs on the agent', () => {
  it('runs a task without a workdir in its own folder, reports uploading after exit 0, then the exit; a restarted agent does not upload again', async () => {
    const o = launcher();
    await o.launch(withOutputs());
    expect(inner.launched[0]!.workdir).toBe(inner.workDir('t1', 1));
    writeOut();
    inner.exit('t1', 1, 0);
    const up = await o.inspect('t1', 1);
    expect(up).toMatchObject({ status: 'uploading', endedAt: 5000, startedAt: 1000 });
    await o.settled();
    expect(await o.inspect('t1', 1)).toMatchObject({ status: 'exited', exitCode: 0, endReason: 'exit', endedAt: 5000 });
    expect(link.commits).toHaveLength(1);
    expect(link.commits[0]![0]!.manifest.files.map((f) => [f.path, f.size, f.chunks.length])).toEqual([
      ['sub/loss.txt', 4, 1],
      ['weights.bin', 5 * 1024 * 1024, 2],
    ]);
    // Two distinct chunks moved (the 4 MiB of 3s and its 1 MiB tail) plus the text.
    expect(link.chunks.size).toBe(3);

    const again = launcher();
    expect((await again.scan()).map((s) => s.report)).toEqual([expect.objectContaining({ status: 'exited', exitCode: 0, endReason: 'exit' })]);
    await again.settled();
    expect(link.commits).toHaveLength(1);
    await again.forget('t1', 1);
    expect(await again.inspect('t1', 1)).toBeUndefined();
  });

  it('an agent stopped mid-upload finishes it when it starts again', async () => {
    const first = launcher();
    await first.launch(withOutputs());
    writeOut();
    link.hold();
    inner.exit('t1', 1, 0);
    expect((await first.inspect('t1', 1))?.status).toBe('uploading');
    first.dispose();
    await first.settled();
    expect(link.commits).toHaveLength(0);

    link.release();
    const second = launcher();
    expect((await second.inspect('t1', 1))?.status).toBe('uploading');
    await second.settled();
    expect(await second.inspect('t1', 1)).toMatchObject({ status: 'exited', endReason: 'exit' });
    expect(link.commits).toHaveLength(1);
  });

  it('uploads nothing for a non-zero exit; a missing path or a refusal fails naming the output', async () => {
    const o = launcher();
    await o.launch(withOutputs());
    inner.exit('t1', 1, 2);
    expect(await o.inspect('t1', 1)).toMatchObject({ status: 'exited', exitCode: 2, endReason: 'exit' });

    await o.launch(withOutputs({ taskId: 't2' }));
    inner.exit('t2', 1, 0);
    await o.inspect('t2', 1);
    await o.settled();
    const missing = await o.inspect('t2', 1);
    expect(missing).toMatchObject({ status: 'exited', exitCode: 0, endReason: 'output-failed' });
    expect(missing?.error).toMatch(/^outputs\.0 \(out → ckpt\): out does not exist in the task's working directory \(\/.*\/work\/t2-1\) after it exited 0$/);

    link.fail = (call) => (call === 'commit' ? new OutputLinkError('outputs.0 (out → ckpt): dataset quota of tenant default exceeded: 10 bytes stored + 5 new > limit 12 bytes', true) : undefined);
    await o.launch(withOutputs({ taskId: 't3' }));
    mkdirSync(join(inner.workDir('t3', 1), 'out'), { recursive: true });
    writeFileSync(join(inner.workDir('t3', 1), 'out', 'x'), 'hello');
    inner.exit('t3', 1, 0);
    await o.inspect('t3', 1);
    await o.settled();
    expect((await o.inspect('t3', 1))?.error).toMatch(/^outputs\.0 \(out → ckpt\): dataset quota of tenant default exceeded/);
    expect(link.commits).toHaveLength(0);
  });

  it('tries again through transient failures until the bound, then fails saying how long', async () => {
    let now = 0;
    const waits: number[] = [];
    const o = launcher({
      now: () => now,
      retryForMs: 20_000,
      sleep: async (ms) => {
        waits.push(ms);
        now += ms;
      },
    });
    link.fail = (call) => (call === 'missing' ? new OutputLinkError('cannot reach the server at http://127.0.0.1:1 (ECONNREFUSED)', false) : undefined);
    await o.launch(withOutputs());
    writeOut();
    inner.exit('t1', 1, 0);
    await o.inspect('t1', 1);
    await o.settled();
    expect(waits).toEqual([1000, 2000, 4000, 8000]);
    const r = await o.inspect('t1', 1);
    expect(r).toMatchObject({ status: 'exited', endReason: 'output-failed' });
    expect(r?.error).toMatch(/^outputs\.0 \(out → ckpt\): cannot reach the server .* \(still failing after 15 s of tries\)$/);

    // Transient, then fine: uploaded.
    let left = 2;
    link.fail = (call) => (call === 'missing' && left-- > 0 ? new OutputLinkError('503', false) : undefined);
    await o.launch(withOutputs({ taskId: 't1', attempt: 2 }));
    mkdirSync(join(inner.workDir('t1', 2), 'out'), { recursive: true });
    writeFileSync(join(inner.workDir('t1', 2), 'out', 'x'), 'hello');
    inner.exit('t1', 2, 0);
    await o.inspect('t1', 2);
    await o.settled();
    expect(await o.inspect('t1', 2)).toMatchObject({ status: 'exited', endReason: 'exit' });
  });

  it('a stop while uploading ends it with nothing committed', async () => {
    const o = launcher();
    await o.launch(withOutputs());
    writeOut();
    link.hold();
    inner.exit('t1', 1, 0);
    expect((await o.inspect('t1', 1))?.status).toBe('uploading');
    expect(await o.stop('t1', 1, 1000, 'cancelled')).toBe(true);
    await o.settled();
    expect(await o.inspect('t1', 1)).toMatchObject({ status: 'exited', exitCode: 0, endReason: 'cancelled' });
    expect(link.commits).toHaveLength(0);
  });
});

describe('an ephemeral node going away with a task uploading its outputs', () => {
  const agents: Agent[] = [];
  afterEach(async () => {
    for (const a of agents.splice(0)) await a.stop();
  });

  async function uploadingOnAgent(): Promise<{ agent: Agent; server: FakeServer }> {
    const server = new FakeServer();
    const agent = new Agent({
      link: server,
      launcher: launcher(),
      node: { name: 'box', cpuMilli: 4000, memoryMiB: 8192, labels: {}, gpus: simulatedGpus('1xH100', 'box'), simulated: true, agentVersion: 'test' },
      watchMs: 20,
      ephemeral: true,
    });
    agents.push(agent);
    await agent.start();
    link.hold(); // the upload hangs until a test releases it
    server.assign(withOutputs());
    await waitFor(() => inner.launched.length === 1, 5000, 'the launch');
    writeOut();
    inner.exit('t1', 1, 0);
    await waitFor(() => server.reports.find((r) => r.taskId === 't1' && r.status === 'uploading'), 5000, 'the uploading report');
    return { agent, server };
  }

  it('lets the upload finish within the grace, and stops only once the server has the exit', async () => {
    const { agent, server } = await uploadingOnAgent();
    // Released once the stop has begun, wherever the upload is: in a send already, or not yet.
    const stopping = agent.stopTasks(30_000);
    link.release();
    expect(await stopping).toBe(1);
    expect(link.commits).toHaveLength(1);
    expect(server.reports.find((r) => r.taskId === 't1' && r.status === 'exited')).toMatchObject({ exitCode: 0, endReason: 'exit' });
  });

  it('stops an upload still running at the end of the grace: preempted, nothing committed', async () => {
    const { agent, server } = await uploadingOnAgent();
    expect(await agent.stopTasks(200)).toBe(1);
    expect(link.commits).toHaveLength(0);
    expect(server.reports.find((r) => r.taskId === 't1' && r.status === 'exited')).toMatchObject({ exitCode: 0, endReason: 'preempted' });
  });
});
