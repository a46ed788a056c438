// The Uploading phase (issue 16): an attempt with `outputs:` whose process exits 0 is not reported
// exited at once. `OutputsLauncher` wraps the launcher (staging.ts's): while it uploads each output
// path as a new dataset version (sdk/datasets-push.ts, the code of `fastgpu data push`, through
// the agent's output routes) the attempt is reported `uploading`, with its progress and the
// process's end (the server keeps it RUNNING with reason Uploading; metering stops at that end).
// Then it is reported exited: as the process ended when every version is committed, or with
// endReason `output-failed` and the output and cause named (a missing path, the quota, the server
// refusing or unreachable for longer than `retryForMs`). A process that exits non-zero, is
// killed or stopped uploads nothing.
//
// Where a task without a workdir runs: the attempt's work folder (staging.ts's), so relative output
// paths have a known root. The plan (outputs and root) and the outcome are kept in
// `<stateDir>/outputs/`, so a restarted agent finishes (or reports) an upload instead of reporting
// a bare exit 0, and never commits twice (the server also answers a repeated commit with the
// versions already made).
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DatasetManifest } from '../core/data/dataset.js';
import type { Assignment, RunningReport } from '../protocol/agent.js';
import { uploadTree, walk } from '../sdk/datasets-push.js';
import { sleepOn, systemClock } from '../util/clock.js';
import type { StopReason } from './attempt-dir.js';
import type { Launcher, LaunchResult, ScannedAttempt } from './launcher.js';
import { OutputLinkError, type AttemptRef, type OutputsLink } from './outputs-http.js';

/** How long an upload keeps trying through transient failures (the server unreachable or 503). */
export const DEFAULT_OUTPUT_RETRY_MS = 10 * 60_000;

export interface OutputsOptions {
  /** The launcher below; `workDir` is where a task without a workdir runs (staging.ts). */
  inner: Launcher & { workDir(taskId: string, attempt: number): string };
  link: OutputsLink;
  /** The node id (known once the agent registered). */
  nodeId: () => string;
  stateDir: string;
  now?: () => number;
  /** Waits between tries (tests pass a virtual one). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  retryForMs?: number;
  log?: (line: string) => void;
}

interface Plan {
  outputs: NonNullable<Assignment['outputs']>;
  /** The folder output paths are relative to. */
  root: string;
}

interface Upload {
  plan: Plan;
  exit: RunningReport;
  abort: AbortController;
  doneBytes: number;
  totalBytes: number;
  final?: RunningReport;
}

const keyOf = (taskId: string, attempt: number): string => `${taskId}#${attempt}`;

/** What an `uploading` report adds to the agent's running report: the status, progress and the process's end. */
export function uploadingOf(r: RunningReport): Pick<RunningReport, 'status' | 'uploading' | 'endedAt'> {
  return { status: 'uploading', ...(r.uploading ? { uploading: r.uploading } : {}), ...(r.endedAt !== undefined ? { endedAt: r.endedAt } : {}) };
}

/** An upload failure that names its output; `permanent` when trying again cannot help. */
class OutputError extends Error {
  constructor(
    message: string,
    readonly permanent: boolean,
  ) {
    super(message);
  }
}

/** sleepOn, but an abort rejects (with the signal's reason), as the upload's retry loop expects. */
const realSleep = async (ms: number, signal: AbortSignal): Promise<void> => {
  await sleepOn(systemClock, ms, signal);
  signal.throwIfAborted();
};

export class OutputsLauncher implements Launcher {
  /** Plans by attempt (null: the attempt has none), read from disk once. */
  private readonly plans = new Map<string, Plan | null>();
  private readonly uploads = new Map<string, Upload>();
  private readonly listeners: ((taskId: string, attempt: number) => void)[] = [];
  private readonly running = new Set<Promise<void>>();
  private readonly dir: string;
  private readonly now: () => number;
  private readonly log: (line: string) => void;
  private readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;

  constructor(private readonly o: OutputsOptions) {
    this.dir = join(o.stateDir, 'outputs');
    this.now = o.now ?? Date.now;
    this.log = o.log ?? (() => {});
    this.sleep = o.sleep ?? realSleep;
    o.inner.onExit((t, n) => this.emit(t, n));
  }

  private planFile(taskId: string, attempt: number): string {
    return join(this.dir, `${taskId}-${attempt}.plan.json`);
  }

  private doneFile(taskId: string, attempt: number): string {
    return join(this.dir, `${taskId}-${attempt}.done.json`);
  }

  async launch(a: Assignment): Promise<LaunchResult> {
    if (!a.outputs || a.outputs.length === 0) return this.o.inner.launch(a);
    const root = a.workdir ?? this.o.inner.workDir(a.taskId, a.attempt);
    const plan: Plan = { outputs: a.outputs, root };
    const key = keyOf(a.taskId, a.attempt);
    if ((await this.planOf(a.taskId, a.attempt)) === null) {
      await mkdir(this.dir, { recursive: true });
      await writeAtomic(this.planFile(a.taskId, a.attempt), JSON.stringify(plan));
      this.plans.set(key, plan);
    }
    // Without inputs the launcher below would run it wherever the agent runs: give it its folder.
    let run = a;
    if (a.workdir === undefined && !(a.inputs && a.inputs.length > 0)) {
      await mkdir(root, { recursive: true, mode: 0o755 });
      run = { ...a, workdir: root };
    }
    const r = await this.o.inner.launch(run);
    return { ...r, report: await this.map(r.report) };
  }

  private async planOf(taskId: string, attempt: number): Promise<Plan | null> {
    const key = keyOf(taskId, attempt);
    const known = this.plans.get(key);
    if (known !== undefined) return known;
    let plan: Plan | null = null;
    try {
      plan = JSON.parse(await readFile(this.planFile(taskId, attempt), 'utf8')) as Plan;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    this.plans.set(key, plan);
    return plan;
  }

  /** The report the agent sends: an exit 0 with outputs becomes `uploading` until they are up. */
  private async map(r: RunningReport): Promise<RunningReport> {
    if (r.status !== 'exited' || r.exitCode !== 0 || (r.endReason !== undefined && r.endReason !== 'exit')) return r;
    const plan = await this.planOf(r.taskId, r.attempt);
    if (!plan) return r;
    const key = keyOf(r.taskId, r.attempt);
    let u = this.uploads.get(key);
    if (!u) {
      const done = await readFile(this.doneFile(r.taskId, r.attempt), 'utf8').catch(() => null); // absent: not finished
      u = { plan, exit: r, abort: new AbortController(), doneBytes: 0, totalBytes: 0, ...(done !== null ? { final: JSON.parse(done) as RunningReport } : {}) };
      this.uploads.set(key, u);
      if (!u.final) {
        const p = this.run(u).finally(() => this.running.delete(p));
        this.running.add(p);
      }
    }
    if (u.final) return u.final;
    const up: RunningReport = { taskId: r.taskId, attempt: r.attempt, status: 'uploading', uploading: { doneBytes: u.doneBytes, totalBytes: u.totalBytes } };
    if (r.epoch !== undefined) up.epoch = r.epoch;
    if (r.pid !== undefined) up.pid = r.pid;
    if (r.startedAt !== undefined) up.startedAt = r.startedAt;
    if (r.endedAt !== undefined) up.endedAt = r.endedAt;
    return up;
  }

  private async run(u: Upload): Promise<void> {
    const { exit, plan } = u;
    const began = this.now();
    const ref = (): AttemptRef => ({ nodeId: this.o.nodeId(), taskId: exit.taskId, attempt: exit.attempt });
    const deadline = began + (this.o.retryForMs ?? DEFAULT_OUTPUT_RETRY_MS);
    const name = (i: number): string => `outputs.${i} (${plan.outputs[i]!.path} → ${plan.outputs[i]!.dataset})`;
    let final: RunningReport;
    for (let wait = 1000; ; wait = Math.min(wait * 2, 30_000)) {
      try {
        const versions = await this.uploadAll(u, ref, name);
        this.log(`${exit.taskId}/${exit.attempt}: outputs uploaded in ${((this.now() - began) / 1000).toFixed(1)} s: ${versions.join(', ')}`);
        final = exit;
        break;
      } catch (e) {
        if (u.abort.signal.aborted) return; // stopped: stop() reported it
        const permanent = e instanceof OutputError ? e.permanent : e instanceof OutputLinkError ? e.permanent : true;
        const why = (e as Error).message;
        if (!permanent && this.now() + wait < deadline) {
          this.log(`${exit.taskId}/${exit.attempt}: uploading outputs failed (${why}); trying again in ${wait} ms`);
          try {
            await this.sleep(wait, u.abort.signal);
          } catch {
            return; // stopped meanwhile
          }
          continue;
        }
        const error = permanent ? why : `${why} (still failing after ${Math.round((this.now() - began) / 1000)} s of tries)`;
        this.log(`${exit.taskId}/${exit.attempt}: uploading outputs failed: ${error}`);
        final = { ...exit, endReason: 'output-failed', error: error.slice(0, 4000) };
        break;
      }
    }
    await this.finish(u, final);
  }

  /** Every output uploaded, then all committed at once; answers `name@version` of each. */
  private async uploadAll(u: Upload, ref: () => AttemptRef, name: (i: number) => string): Promise<string[]> {
    const { plan } = u;
    const signal = u.abort.signal;
    // Every path is listed first: a missing one fails before any byte moves.
    const sizes: number[] = [];
    for (const [i, o] of plan.outputs.entries()) {
      const files = await walk(join(plan.root, o.path), true).catch((e: unknown) => {
        const why = (e as Error).message;
        if (/no such file or folder/.test(why)) throw new OutputError(`${name(i)}: ${o.path} does not exist in the task's working directory (${plan.root}) after it exited 0`, true);
        throw new OutputError(`${name(i)}: ${why.replace(`${plan.root}/`, '')}`, true);
      });
      sizes.push(files.reduce((a, f) => a + f.size, 0));
    }
    u.totalBytes = sizes.reduce((a, b) => a + b, 0);
    u.doneBytes = 0;
    const manifests: { index: number; manifest: DatasetManifest }[] = [];
    for (const [i, o] of plan.outputs.entries()) {
      const before = u.doneBytes;
      const up = await uploadTree(
        join(plan.root, o.path),
        { missing: (hashes) => this.o.link.missing(ref(), hashes, signal), send: (hash, data, encoding) => this.o.link.send(ref(), hash, data, encoding, signal) },
        { allowFile: true, signal, onProgress: (p) => p.phase === 'hash' && (u.doneBytes = before + p.done) },
      ).catch((e: unknown) => {
        throw e instanceof OutputLinkError ? new OutputError(`${name(i)}: ${e.message}`, e.permanent) : new OutputError(`${name(i)}: ${(e as Error).message}`, true);
      });
      u.doneBytes = before + sizes[i]!;
      manifests.push({ index: i, manifest: up.manifest });
    }
    const versions = await this.o.link.commit(ref(), manifests, signal).catch((e: unknown) => {
      // The server names the output a commit failed on.
      throw e instanceof OutputLinkError ? new OutputError(e.message, e.permanent) : e;
    });
    return versions.map((v) => `${v.name}@${v.version}`);
  }

  private async finish(u: Upload, final: RunningReport): Promise<void> {
    u.final = final;
    await writeAtomic(this.doneFile(final.taskId, final.attempt), JSON.stringify(final)).catch((e: unknown) => this.log(`cannot record the outputs of ${final.taskId}/${final.attempt}: ${(e as Error).message}`));
    this.emit(final.taskId, final.attempt);
  }

  async scan(): Promise<ScannedAttempt[]> {
    const inner = await this.o.inner.scan();
    return Promise.all(inner.map(async (s) => ({ ...s, report: await this.map(s.report) })));
  }

  async inspect(taskId: string, attempt: number): Promise<RunningReport | undefined> {
    const r = await this.o.inner.inspect(taskId, attempt);
    return r ? this.map(r) : r;
  }

  async stop(taskId: string, attempt: number, graceMs: number, reason: StopReason): Promise<boolean> {
    const u = this.uploads.get(keyOf(taskId, attempt));
    if (u && !u.final) {
      // The process is over; the upload ends with nothing committed, as the order says.
      u.abort.abort();
      const endReason = reason === 'preempted' ? 'preempted' : 'cancelled';
      await this.finish(u, { ...u.exit, endReason, error: `stopped (${reason ?? 'orphaned'}) while uploading its outputs; nothing was committed` });
      return true;
    }
    return this.o.inner.stop(taskId, attempt, graceMs, reason);
  }

  async forget(taskId: string, attempt: number): Promise<void> {
    const key = keyOf(taskId, attempt);
    this.uploads.get(key)?.abort.abort();
    this.uploads.delete(key);
    this.plans.delete(key);
    await this.o.inner.forget(taskId, attempt);
    await rm(this.planFile(taskId, attempt), { force: true });
    await rm(this.doneFile(taskId, attempt), { force: true });
  }

  attemptDir(taskId: string, attempt: number): string {
    return this.o.inner.attemptDir(taskId, attempt);
  }

  onExit(listener: (taskId: string, attempt: number) => void): void {
    this.listeners.push(listener);
  }

  dispose(): void {
    for (const u of this.uploads.values()) u.abort.abort();
    this.o.inner.dispose();
  }

  /** Waits for uploads in flight to settle (tests, shutdown). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.running]);
  }

  private emit(taskId: string, attempt: number): void {
    for (const l of this.listeners) l(taskId, attempt);
  }
}

async function writeAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, text, { mode: 0o600 });
  await rename(tmp, file);
}
