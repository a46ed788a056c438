// The Staging phase (issue 16): an attempt with data inputs first gets them through the node
// cache, then starts. `StagingLauncher` wraps the launcher that runs processes: an assignment
// without inputs goes straight through; one with inputs is answered at once as `staging` (so the
// agent reports it, with its progress, and the server keeps it SCHEDULED and unbilled), staged in
// the background, and handed to the inner launcher once every input is in place.
//
// Where inputs go: `<stateDir>/work/<task>-<attempt>/<path>`, read-only folders of hard links into
// the cache (cache.ts). A task with no workdir runs in that folder; one with a workdir finds a
// symbolic link `<workdir>/<path>` to it. FASTGPU_INPUT_<NAME> holds the absolute path.
//
// A stage that fails because the data is gone (the dataset or version was removed) fails the
// attempt (`launch-failed`, the task FAILED with the reason); any other failure (the server
// unreachable, chunks corrupt on every try, a full disk) ends it `never-started`: the server runs
// the task again without using a retry.
import { chmod, lstat, mkdir, readdir, rename, rm, symlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { DatasetManifest } from '../core/data/dataset.js';
import type { Assignment, CacheReport, RunningReport } from '../protocol/agent.js';
import type { StopReason } from './attempt-dir.js';
import { NodeCache } from './cache.js';
import type { Launcher, LaunchResult, ScannedAttempt } from './launcher.js';
import { DataSourceError, httpDataSource, type DataSource, type HttpDataSourceOptions } from './staging-http.js';

export interface StagingOptions {
  inner: Launcher;
  cache: NodeCache;
  source: DataSource;
  /** Staged inputs and default working folders live under `<stateDir>/work`. */
  stateDir: string;
  now?: () => number;
  log?: (line: string) => void;
}

/** What the agent's metrics and the tests read: staging since the agent started. */
export interface StagingStats {
  /** Inputs staged (one per input of an attempt). */
  staged: number;
  failed: number;
  /** Bytes of inputs staged, found in the cache or downloaded. */
  bytes: number;
  /** Seconds spent staging, summed over attempts. */
  seconds: number;
}

interface Stage {
  a: Assignment;
  abort: AbortController;
  doneBytes: number;
  totalBytes: number;
  /** Set once it failed: the attempt's exit report. */
  failed?: RunningReport;
  stopped: boolean;
}

const keyOf = (taskId: string, attempt: number): string => `${taskId}#${attempt}`;

export class StagingLauncher implements Launcher {
  private readonly stages = new Map<string, Stage>();
  private readonly listeners: ((taskId: string, attempt: number) => void)[] = [];
  private readonly running = new Set<Promise<void>>();
  private readonly stats: StagingStats = { staged: 0, failed: 0, bytes: 0, seconds: 0 };
  /** Versions staged here (`tenant/name@version` → manifest), to tell the server which it still holds whole. */
  private readonly known = new Map<string, DatasetManifest>();
  private readonly now: () => number;
  private readonly log: (line: string) => void;

  constructor(private readonly o: StagingOptions) {
    this.now = o.now ?? Date.now;
    this.log = o.log ?? (() => {});
    o.inner.onExit((t, n) => this.emit(t, n));
  }

  snapshot(): StagingStats {
    return { ...this.stats };
  }

  /** What the heartbeat carries: the cache's use, the bytes moved, and the versions held whole. */
  report(): CacheReport {
    const c = this.o.cache.snapshot();
    const datasets: string[] = [];
    for (const [k, m] of this.known) {
      if (this.o.cache.holds(m)) datasets.push(k);
      else this.known.delete(k); // evicted since: no longer warm
    }
    return {
      usedBytes: c.bytes,
      capBytes: c.capBytes,
      hitBytes: c.hitBytes,
      downloadedBytes: c.bytesFetched,
      stagedBytes: this.stats.bytes,
      stagingSeconds: this.stats.seconds,
      // The newest first, within the protocol's bound.
      datasets: datasets.reverse().slice(0, 1000),
    };
  }

  /** The folder an attempt's inputs (and, without a workdir, the task itself) live in. */
  workDir(taskId: string, attempt: number): string {
    return join(this.o.stateDir, 'work', `${taskId}-${attempt}`);
  }

  async launch(a: Assignment): Promise<LaunchResult> {
    if (!a.inputs || a.inputs.length === 0) return this.o.inner.launch(a);
    const key = keyOf(a.taskId, a.attempt);
    const s = this.stages.get(key);
    if (s) return { launched: false, report: this.reportOf(s) };
    // Started (or stopped) before, by this agent or an earlier one: the inner launcher knows.
    if (await this.o.inner.inspect(a.taskId, a.attempt)) return this.o.inner.launch(a);
    const stage: Stage = { a, abort: new AbortController(), doneBytes: 0, totalBytes: 0, stopped: false };
    this.stages.set(key, stage);
    const p = this.run(stage).finally(() => this.running.delete(p));
    this.running.add(p);
    return { launched: true, report: this.reportOf(stage) };
  }

  private reportOf(s: Stage): RunningReport {
    if (s.failed) return s.failed;
    return { taskId: s.a.taskId, attempt: s.a.attempt, status: 'staging', staging: { doneBytes: s.doneBytes, totalBytes: s.totalBytes } };
  }

  private async run(s: Stage): Promise<void> {
    const { a } = s;
    const began = this.now();
    const work = this.workDir(a.taskId, a.attempt);
    const env: Record<string, string> = {};
    const inputs = a.inputs ?? [];
    try {
      await mkdir(work, { recursive: true, mode: 0o755 });
      const versions = [];
      for (const input of inputs) {
        const v = await this.o.source.manifest(input.tenant, input.dataset, input.version, s.abort.signal);
        versions.push(v);
        s.totalBytes += v.bytes;
      }
      for (const [i, input] of inputs.entries()) {
        s.abort.signal.throwIfAborted(); // stopped meanwhile
        const v = versions[i]!;
        const target = join(work, input.path);
        await mkdir(dirname(target), { recursive: true });
        await rm(target, { recursive: true, force: true }).catch(() => undefined); // left by an earlier try: made again
        const before = s.doneBytes;
        const got = await this.o.cache.stage(v.manifest, target, {
          signal: s.abort.signal,
          fetch: this.o.source.chunks(input.tenant),
          // Bytes the cache held already count as staged from the start.
          onProgress: (p) => (s.doneBytes = before + (v.bytes - p.total) + p.done),
        });
        s.doneBytes = before + v.bytes;
        const k = `${input.tenant}/${input.dataset}@${v.version}`;
        this.known.delete(k);
        this.known.set(k, v.manifest);
        const seen = a.workdir === undefined ? target : join(a.workdir, input.path);
        if (a.workdir !== undefined) await linkInto(seen, target);
        env[input.env] = seen;
        this.stats.staged++;
        this.stats.bytes += v.bytes;
        this.log(`${a.taskId}/${a.attempt}: staged ${input.dataset}@${v.version} at ${seen}: ${v.bytes} bytes, ${got.fetchedBytes} downloaded`);
      }
    } catch (e) {
      this.stats.seconds += (this.now() - began) / 1000;
      if (s.stopped) return;
      this.stats.failed++;
      const why = (e as Error).message;
      const permanent = e instanceof DataSourceError && e.permanent;
      this.log(`${a.taskId}/${a.attempt}: staging failed: ${why}`);
      s.failed = {
        taskId: a.taskId,
        attempt: a.attempt,
        status: 'exited',
        exitCode: null,
        endedAt: this.now(),
        endReason: permanent ? 'launch-failed' : 'never-started',
        error: `staging its inputs failed: ${why}`,
      };
      this.emit(a.taskId, a.attempt);
      return;
    }
    this.stats.seconds += (this.now() - began) / 1000;
    if (s.stopped) return;
    try {
      // The inner launcher records the start durably; from here on it answers for the attempt.
      await this.o.inner.launch({ ...a, env: { ...a.env, ...env }, workdir: a.workdir ?? work });
      this.stages.delete(keyOf(a.taskId, a.attempt));
    } catch (e) {
      s.failed = { taskId: a.taskId, attempt: a.attempt, status: 'exited', exitCode: null, endReason: 'never-started', error: `the agent could not launch it: ${(e as Error).message}` };
    }
    this.emit(a.taskId, a.attempt);
  }

  async scan(): Promise<ScannedAttempt[]> {
    const inner = await this.o.inner.scan();
    return [...inner, ...[...this.stages.values()].map((s) => ({ report: this.reportOf(s), placement: s.a.placement }))];
  }

  async inspect(taskId: string, attempt: number): Promise<RunningReport | undefined> {
    const s = this.stages.get(keyOf(taskId, attempt));
    return s ? this.reportOf(s) : this.o.inner.inspect(taskId, attempt);
  }

  async stop(taskId: string, attempt: number, graceMs: number, reason: StopReason): Promise<boolean> {
    const s = this.stages.get(keyOf(taskId, attempt));
    if (s && !s.failed) {
      // Not started: the stage ends, and the inner launcher records the pair as stopped so it never starts.
      s.stopped = true;
      s.abort.abort();
      this.stages.delete(keyOf(taskId, attempt));
    }
    return this.o.inner.stop(taskId, attempt, graceMs, reason);
  }

  async forget(taskId: string, attempt: number): Promise<void> {
    this.stages.delete(keyOf(taskId, attempt));
    await this.o.inner.forget(taskId, attempt);
    await removeTree(this.workDir(taskId, attempt));
  }

  attemptDir(taskId: string, attempt: number): string {
    return this.o.inner.attemptDir(taskId, attempt);
  }

  onExit(listener: (taskId: string, attempt: number) => void): void {
    this.listeners.push(listener);
  }

  dispose(): void {
    for (const s of this.stages.values()) {
      s.stopped = true;
      s.abort.abort();
    }
    this.o.inner.dispose();
  }

  /** Waits for stages in flight to settle (tests, shutdown). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.running]);
  }

  private emit(taskId: string, attempt: number): void {
    for (const l of this.listeners) l(taskId, attempt);
  }
}

/** `<workdir>/<path>` → the staged folder: a symbolic link, replacing an older link (never a real file). */
async function linkInto(at: string, target: string): Promise<void> {
  const st = await lstat(at).catch(() => null); // absent: made below
  if (st && !st.isSymbolicLink()) throw new Error(`${at} exists in the task's workdir and is not a link FastGPU made: move it, or give the input another path`);
  await mkdir(dirname(at), { recursive: true });
  const tmp = `${at}.fastgpu-${process.pid}-${Date.now()}`;
  await symlink(target, tmp);
  await rename(tmp, at);
}

/** Removes a folder holding read-only staged inputs (their folders are 0555). */
async function removeTree(dir: string): Promise<void> {
  const walk = async (d: string): Promise<void> => {
    await chmod(d, 0o755).catch(() => undefined); // gone already
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) if (e.isDirectory()) await walk(join(d, e.name));
  };
  await walk(dir);
  await rm(dir, { recursive: true, force: true });
}

/** The node cache's default size cap: 20 GiB (`cacheBytes` / `fastgpu agent --cache-size`). */
export const DEFAULT_CACHE_BYTES = 20 * 1024 ** 3;

/**
 * Wraps the agent's launcher with staging through a node cache in `<stateDir>/cache`, reading
 * from the server at `serverUrl` with the agent's token.
 * @example const launcher = await withStaging(supervisorLauncher, { stateDir, serverUrl, token })
 */
export async function withStaging(
  inner: Launcher,
  o: { stateDir: string; serverUrl: string; token: string | (() => string); fetch?: HttpDataSourceOptions['fetch']; capBytes?: number; log?: (line: string) => void },
): Promise<StagingLauncher> {
  const source = httpDataSource({ serverUrl: o.serverUrl, token: o.token, ...(o.fetch ? { fetch: o.fetch } : {}) });
  const cache = await NodeCache.open({
    dir: join(o.stateDir, 'cache'),
    capBytes: o.capBytes ?? DEFAULT_CACHE_BYTES,
    // Every stage brings its tenant's fetcher; nothing else downloads.
    fetch: () => Promise.reject(new Error('a chunk is fetched for a tenant only')),
    ...(o.log ? { log: o.log } : {}),
  });
  return new StagingLauncher({ inner, cache, source, stateDir: o.stateDir, ...(o.log ? { log: o.log } : {}) });
}
