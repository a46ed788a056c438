// The Staging phase with real processes and a real node cache; the data source is an in-memory
// seam (the HTTP one is exercised end to end in test/e2e/data-inputs.test.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DatasetManifest } from '../core/data/dataset.js';
import type { Assignment } from '../protocol/agent.js';
import { encodeChunk, sha256 } from '../util/chunk-codec.js';
import { NodeCache } from './cache.js';
import { assignment, killTasks, tempDir, waitFor } from './fixtures/helpers.js';
import { SupervisorLauncher } from './launcher.js';
import { DataSourceError, type DataSource } from './staging-http.js';
import { StagingLauncher } from './staging.js';

let state: ReturnType<typeof tempDir>;
let staging: StagingLauncher;
let exits: string[];

const text = 'hello, data\n';
const chunk = Buffer.from(text);
const manifest: DatasetManifest = { files: [{ path: 'greeting.txt', size: chunk.length, executable: false, chunks: [{ hash: sha256(chunk), size: chunk.length }] }] };

/** A source holding `imgs@1`; `gate` (when set) holds every chunk download until it resolves. */
function source(over: Partial<DataSource> = {}, gate?: Promise<void>): DataSource {
  return {
    manifest: async (_t, name, version) => {
      if (name !== 'imgs' || (version !== undefined && version !== 1)) throw new DataSourceError(`GET /v1/agent/datasets/default/${name}: 404 dataset ${name} not found`, true);
      return { version: 1, bytes: chunk.length, manifest };
    },
    chunks: () => async (_hash, signal) => {
      // As a real download does, the wait ends when the stage is aborted.
      await new Promise<void>((resolve, reject) => {
        void gate?.then(resolve);
        if (!gate) resolve();
        if (signal?.aborted) reject(new Error('aborted'));
        signal?.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
      });
      return encodeChunk(chunk);
    },
    ...over,
  };
}

async function make(src: DataSource): Promise<void> {
  const inner = new SupervisorLauncher({ stateDir: state.dir, baseEnv: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
  const cache = await NodeCache.open({ dir: join(state.dir, 'cache'), capBytes: 1 << 20, fetch: () => Promise.reject(new Error('no default fetcher')) });
  staging = new StagingLauncher({ inner, cache, source: src, stateDir: state.dir });
  staging.onExit((t, n) => exits.push(`${t}/${n}`));
}

const withInput = (command: string[], over: Partial<Assignment> = {}): Assignment =>
  assignment(command, { inputs: [{ tenant: 'default', dataset: 'imgs', version: 1, path: 'data/imgs', env: 'FASTGPU_INPUT_IMGS' }], ...over });

beforeEach(() => {
  state = tempDir();
  exits = [];
});
afterEach(async () => {
  await staging?.settled();
  staging?.dispose();
  killTasks(state.dir);
  state.cleanup();
});

describe('StagingLauncher', () => {
  it('answers staging with its progress at once, and starts the process once the input is in place', async () => {
    let open!: () => void;
    await make(source({}, new Promise<void>((r) => (open = r))));
    const a = withInput(['sh', '-c', 'cat data/imgs/greeting.txt; cat "$FASTGPU_INPUT_IMGS/greeting.txt"; pwd']);
    const r = await staging.launch(a);
    expect(r).toMatchObject({ launched: true, report: { status: 'staging' } });
    // The manifest is read first: the total is known while the chunk is still on its way.
    await waitFor(async () => (await staging.inspect(a.taskId, 1))?.staging?.totalBytes === chunk.length);
    expect(await staging.inspect(a.taskId, 1)).toMatchObject({ status: 'staging', staging: { doneBytes: 0, totalBytes: chunk.length } });
    // Launching the same pair again starts nothing new.
    expect((await staging.launch(a)).launched).toBe(false);
    open();
    const done = await waitFor(async () => {
      const x = await staging.inspect(a.taskId, 1);
      return x?.status === 'exited' ? x : undefined;
    });
    expect(done).toMatchObject({ exitCode: 0 });
    const work = staging.workDir(a.taskId, 1);
    expect(readFileSync(join(staging.attemptDir(a.taskId, 1), 'stdout.log'), 'utf8')).toBe(`${text}${text}${work}\n`);
    expect(staging.snapshot()).toMatchObject({ staged: 1, failed: 0, bytes: chunk.length });
    expect(staging.report().datasets).toEqual(['default/imgs@1']);
    await staging.forget(a.taskId, 1);
  });

  it('fails the attempt, never starting it, when its dataset is gone (launch-failed) or the server cannot be read (never-started)', async () => {
    await make(source());
    const gone = withInput(['true'], { inputs: [{ tenant: 'default', dataset: 'gone', version: 1, path: 'd', env: 'FASTGPU_INPUT_GONE' }] });
    await staging.launch(gone);
    const r = await waitFor(async () => {
      const x = await staging.inspect(gone.taskId, 1);
      return x?.status === 'exited' ? x : undefined;
    });
    expect(r).toMatchObject({ endReason: 'launch-failed', exitCode: null });
    expect(r.error).toMatch(/^staging its inputs failed: GET \/v1\/agent\/datasets\/default\/gone: 404 dataset gone not found/);
    expect(exits).toContain(`${gone.taskId}/1`);

    staging.dispose();
    await make(source({ chunks: () => () => Promise.reject(new DataSourceError('GET /v1/agent/chunks/default/x: cannot reach http://127.0.0.1:1 (ECONNREFUSED)', false)) }));
    const down = withInput(['true']);
    await staging.launch(down);
    const r2 = await waitFor(async () => {
      const x = await staging.inspect(down.taskId, 1);
      return x?.status === 'exited' ? x : undefined;
    });
    expect(r2).toMatchObject({ endReason: 'never-started' });
    expect(r2.error).toMatch(/ECONNREFUSED/);
    expect(staging.snapshot().failed).toBe(1);
  });

  it('a stop while staging ends the stage, and the attempt can never start', async () => {
    await make(source({}, new Promise<void>(() => {})));
    const a = withInput(['sh', '-c', 'echo started']);
    await staging.launch(a);
    expect(await staging.stop(a.taskId, 1, 0, 'cancelled')).toBe(true);
    const r = await waitFor(async () => {
      const x = await staging.inspect(a.taskId, 1);
      return x?.status === 'exited' ? x : undefined;
    });
    expect(r).toMatchObject({ status: 'exited', endReason: 'cancelled' });
    // A re-sent assignment finds the pair recorded as stopped: nothing starts.
    expect((await staging.launch(a)).launched).toBe(false);
  });
});
