// Starting, watching and stopping task processes. The agent loop talks to the `Launcher`
// interface; `SupervisorLauncher` runs each attempt under supervisor.sh, detached, with the
// attempt's folder as the only shared state, so tasks outlive the agent and are re-attached.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, chmodSync, constants as fsConstants, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { appendFile, link, readdir, readFile, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Assignment, RunningReport } from '../protocol/agent.js';
import type { Clock, Placement } from '../core/types.js';
import { systemClock, timerClock, type Timer, type TimerClock } from '../util/clock.js';
import {
  FILES,
  SAFE_ID,
  exitedReport,
  formatExit,
  readAttempt,
  runningReport,
  writeAtomic,
  type AttemptSnapshot,
  type SpecRecord,
  type StopReason,
  type StopRecord,
} from './attempt-dir.js';
import { taskEnv } from './env.js';
import { giveFile, prepareResultFile, readResult } from './result.js';
import { compileRunAs, passwdUids, pickTaskUid, runAsLine, thisHost, uidsInUse, type RunAs } from './task-user.js';
import { metricsFileOf } from './metrics-shipper.js';

export interface LaunchResult {
  /** False when the pair was launched before (by this agent or an earlier one): nothing started. */
  launched: boolean;
  report: RunningReport;
  /** Set when nothing could be recorded on disk (the report says why): report it, do not track it. */
  untracked?: true;
}

/** An attempt found in the state dir. */
export interface ScannedAttempt {
  report: RunningReport;
  /** From the recorded assignment, when there is one. */
  placement?: Placement;
}

/** What the agent loop needs from whatever runs tasks. */
export interface Launcher {
  /** Starts the attempt, unless it was ever launched on this node. Never starts a pair twice. */
  launch(a: Assignment): Promise<LaunchResult>;
  /** Every attempt not yet forgotten, running or exited. Re-arms pending SIGKILL escalations. */
  scan(): Promise<ScannedAttempt[]>;
  /** One attempt; undefined when unknown or forgotten. */
  inspect(taskId: string, attempt: number): Promise<RunningReport | undefined>;
  /**
   * Stops an attempt: SIGTERM now, SIGKILL after graceMs. A pair never launched here is recorded
   * as stopped, so it can never start later. False only for a forgotten attempt or an unusable id.
   */
  stop(taskId: string, attempt: number, graceMs: number, reason: StopReason): Promise<boolean>;
  /** Drops an exited attempt's files, keeping a tombstone so it is never launched again. */
  forget(taskId: string, attempt: number): Promise<void>;
  /** The attempt's folder (logs live there). */
  attemptDir(taskId: string, attempt: number): string;
  /** Calls back soon after a process this launcher started ends (a hint: `inspect` is the truth). */
  onExit(listener: (taskId: string, attempt: number) => void): void;
  /** Clears timers and listeners; running tasks are left alone. */
  dispose(): void;
}

export interface SupervisorLauncherOptions {
  stateDir: string;
  clock?: Clock;
  /** MPS pipe/log folders for `mps` mode; default under the state dir. */
  mpsPipeDir?: string;
  mpsLogDir?: string;
  /** GNU timeout; default: found on PATH. */
  timeoutBin?: string;
  /** The agent's lease file (src/agent/node-state.ts): supervisors fence their task when it runs out. None: no fencing. */
  leaseFile?: string;
  /** The POSIX shell that runs supervisor.sh; default /bin/sh. */
  shell?: string;
  /** How long a launch may go without the supervisor writing its pid before it counts as failed. */
  startGraceMs?: number;
  /** Environment tasks start from; default the agent's. */
  baseEnv?: NodeJS.ProcessEnv;
  /**
   * A cgroup v2 folder under which each attempt gets a cgroup of its own (every descendant of the
   * task is killed with it). Default: `fastgpu` under the agent's own cgroup when the host lets
   * the agent make one; null: none (descendants are then found by their environment).
   */
  cgroupRoot?: string | null;
  /**
   * Who tasks run as (task-user.ts): a user name or uid, `per-task` (a uid of its own per
   * attempt), `root`, or a compiled policy. Through `setpriv`, with no supplementary groups;
   * anything but the agent's own user needs an agent running as root. Default: as the agent
   * (startAgent applies the root default).
   */
  runAs?: string | RunAs;
  log?: (line: string) => void;
}

const SUPERVISOR = fileURLToPath(new URL('./supervisor.sh', import.meta.url));

/** Finds an executable on PATH, or undefined. */
export function which(name: string, path = process.env.PATH ?? ''): string | undefined {
  for (const d of path.split(delimiter)) {
    if (!d) continue;
    const p = join(d, name);
    try {
      accessSync(p, fsConstants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

function readBootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return '';
  }
}

/** Alive and not a zombie. */
async function processAlive(pid: number): Promise<boolean> {
  try {
    const s = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Field 3 (after the parenthesised command name) is the state.
    const state = s.slice(s.lastIndexOf(')') + 2, s.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    try {
      process.kill(pid, 0);
      return true;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'EPERM';
    }
  }
}

/** The agent's `claim`; a supervisor's holds its pid. */
const AGENT_CLAIM = 'agent\n';
const HAS_PROC = existsSync('/proc/self/cmdline');

/**
 * Takes an attempt's claim for the agent, or says who holds it. The agent's claim is linked into
 * place whole (link fails on an existing name), so an empty or partial claim is the supervisor's
 * (it writes its pid just after creating the file).
 */
async function takeClaim(dir: string): Promise<'agent' | { pid: number | undefined; at: number }> {
  const path = join(dir, FILES.claim);
  const tmp = `${path}.agent`;
  await writeFile(tmp, AGENT_CLAIM);
  try {
    await link(tmp, path);
    return 'agent';
  } catch (e) {
    if (!isErr(e, 'EEXIST')) throw e;
  } finally {
    await rm(tmp, { force: true });
  }
  const [text, st] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
  // An earlier agent won it, and stopped before it recorded the outcome.
  if (text === AGENT_CLAIM) return 'agent';
  const pid = text.endsWith('\n') ? Number(text.trim()) : NaN;
  return { pid: Number.isInteger(pid) && pid > 0 ? pid : undefined, at: st.mtimeMs };
}

/** A supervisor known only by its pid: alive, and still the one for this attempt (not a reused pid). */
async function supervisorAlive(pid: number, dir: string): Promise<boolean> {
  if (!(await processAlive(pid))) return false;
  if (!HAS_PROC) return true;
  try {
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').includes(dir);
  } catch {
    return false;
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * SIGTERM goes to GNU timeout alone, which passes it on to the task's group (and arms its own
 * --kill-after): signalling the group as well would deliver it to the task twice.
 */
function terminate(pgid: number): void {
  try {
    process.kill(pgid, 'SIGTERM');
  } catch {
    signalGroup(pgid, 'SIGTERM'); // timeout is gone (its supervisor was killed): the group itself
  }
}

/** Signals a task's process group (or its leader, if the group is not formed yet). */
function signalGroup(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch {
    try {
      process.kill(pgid, sig);
    } catch {
      // already gone
    }
  }
}

const TOMBSTONE_MS = 7 * 24 * 3600_000;

/** How often a running attempt's supervisor is checked in full (pid file, liveness). */
const RECHECK_MS = 2_000;

const isErr = (e: unknown, code: string): boolean => (e as NodeJS.ErrnoException).code === code;

export class SupervisorLauncher implements Launcher {
  private readonly clock: Clock;
  private readonly tasksDir: string;
  private readonly timeoutBin: string;
  private readonly bootId = readBootId();
  private readonly kills = new Map<string, Timer>();
  /** The clock's timers (its own on a ManualClock, else Node's). */
  private readonly timers: TimerClock;
  /** Attempts last seen running with a live supervisor, and when that was checked. */
  private readonly running = new Map<string, { report: RunningReport; checkedAt: number }>();
  private readonly listeners: ((taskId: string, attempt: number) => void)[] = [];
  private readonly children = new Set<ChildProcess>();
  private readonly startGraceMs: number;
  private readonly log: (line: string) => void;
  private disposed = false;

  constructor(private readonly opts: SupervisorLauncherOptions) {
    this.clock = opts.clock ?? systemClock;
    this.timers = timerClock(this.clock);
    this.tasksDir = join(opts.stateDir, 'tasks');
    this.startGraceMs = opts.startGraceMs ?? 10_000;
    this.log = opts.log ?? (() => {});
    const tmo = opts.timeoutBin ?? which('timeout');
    if (!tmo) throw new Error('GNU coreutils `timeout` was not found on PATH; the agent needs it to enforce time limits');
    this.timeoutBin = tmo;
    mkdirSync(this.tasksDir, { recursive: true });
    this.cgroupRoot = opts.cgroupRoot === undefined ? defaultCgroupRoot() : opts.cgroupRoot;
    this.runAs = opts.runAs === undefined ? { kind: 'agent', optedOut: false } : typeof opts.runAs === 'string' ? compileRunAs(opts.runAs, thisHost(which('setpriv'))) : opts.runAs;
    // Folders are traversable (a task must reach its signal file) but not listable; files in
    // them are the agent's (0600): a task reads neither another task's spec nor its logs.
    chmodSync(this.tasksDir, 0o711);
  }

  /** Who tasks run as (task-user.ts). */
  readonly runAs: RunAs;

  /** Where attempts' cgroups go; null when the host gives none (see supervisor.sh's sweep). */
  readonly cgroupRoot: string | null;

  attemptDir(taskId: string, attempt: number): string {
    return join(this.tasksDir, taskId, String(attempt));
  }

  onExit(listener: (taskId: string, attempt: number) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Writes the attempt's `runas` and answers who owns the task's files; undefined: it runs as
   * the agent. A per-task uid is one that no attempt here that may still run holds (their
   * `runas` files, so also after an agent restart), no process on the host runs as, and no
   * passwd entry names.
   */
  private taskOwner(dir: string): Promise<{ uid: number; gid: number } | undefined> {
    // One at a time: two launches must not pick the same free uid.
    const p = this.ownerQueue.then(() => this.pickOwner(dir));
    // The queue only orders picks; this pick's error goes to its own caller through `p`.
    this.ownerQueue = p.catch(() => undefined);
    return p;
  }

  private ownerQueue: Promise<unknown> = Promise.resolve();

  private async pickOwner(dir: string): Promise<{ uid: number; gid: number } | undefined> {
    const r = this.runAs;
    if (r.kind === 'agent') return undefined;
    let owner: { uid: number; gid: number };
    if (r.kind === 'user') owner = { uid: r.uid, gid: r.gid };
    else {
      const taken = await this.uidsOfLiveAttempts();
      const busy = uidsInUse();
      for (const u of passwdUids()) busy.add(u);
      const uid = pickTaskUid(r, taken, busy);
      owner = { uid, gid: uid };
    }
    writeFileSync(join(dir, 'runas'), `${runAsLine(r, owner.uid)}\n`, { mode: 0o600 });
    return owner;
  }

  /** Uids in the `runas` files of attempts here without an exit. */
  private async uidsOfLiveAttempts(): Promise<Set<number>> {
    const out = new Set<number>();
    for (const t of await readdir(this.tasksDir).catch(() => [] as string[])) {
      for (const n of await readdir(join(this.tasksDir, t)).catch(() => [] as string[])) {
        const d = join(this.tasksDir, t, n);
        const line = await readFile(join(d, 'runas'), 'utf8').catch(() => '');
        if (line === '' || existsSync(join(d, FILES.exit))) continue;
        out.add(Number(line.split(' ')[0]));
      }
    }
    return out;
  }

  async launch(a: Assignment): Promise<LaunchResult> {
    if (!SAFE_ID.test(a.taskId)) {
      // No folder can record it, so nothing can be started; the server hears why.
      return {
        launched: false,
        untracked: true,
        report: {
          taskId: a.taskId,
          attempt: a.attempt,
          status: 'exited',
          exitCode: 127,
          endReason: 'launch-failed',
          error: `task id ${JSON.stringify(a.taskId)} is not usable as a folder name`,
        },
      };
    }
    const dir = this.attemptDir(a.taskId, a.attempt);
    mkdirSync(join(this.tasksDir, a.taskId), { recursive: true, mode: 0o711 });
    try {
      // The atomic claim: whoever creates the folder launches; everyone else re-attaches.
      mkdirSync(dir, { mode: 0o711 });
    } catch (e) {
      if (!isErr(e, 'EEXIST')) throw e;
      const report = await this.inspect(a.taskId, a.attempt);
      return {
        launched: false,
        report: report ?? { taskId: a.taskId, attempt: a.attempt, status: 'exited', exitCode: null, error: 'this attempt already ran on this node; its outcome was reported before' },
      };
    }
    const now = this.clock.now();
    const spec: SpecRecord = {
      taskId: a.taskId,
      attempt: a.attempt,
      launchedAt: now,
      bootId: this.bootId,
      graceMs: a.graceMs,
      assignment: a,
      ...(a.timeLimitMs !== undefined ? { timeLimitMs: a.timeLimitMs } : {}),
    };
    // The spec holds the task's env (its secrets): the agent's only.
    writeFileSync(join(dir, FILES.spec), JSON.stringify(spec), { mode: 0o600 });
    // Who runs it: `runas` ("UID GID SETPRIV") for another user (task-user.ts).
    const owner = await this.taskOwner(dir);
    if (owner) {
      // The one file the task reads: FASTGPU_PREEMPTED=1 before a preemption.
      writeFileSync(join(dir, FILES.signal), '', { mode: 0o644 });
    }
    if (this.cgroupRoot) writeFileSync(join(dir, 'cgroup'), `${join(this.cgroupRoot, `${a.taskId}-${a.attempt}`)}\n`);
    const env = taskEnv(a, {
      mpsPipeDir: this.opts.mpsPipeDir ?? join(this.opts.stateDir, 'mps', 'pipe'),
      mpsLogDir: this.opts.mpsLogDir ?? join(this.opts.stateDir, 'mps', 'log'),
      signalFile: join(dir, FILES.signal),
      ...(this.opts.baseEnv ? { base: this.opts.baseEnv } : {}),
    });
    env.FASTGPU_RESULT = prepareResultFile(dir, owner);
    // Metric lines (`fastgpu.report`, or JSON lines the task appends) for the metrics shipper.
    env.FASTGPU_METRICS = metricsFileOf(dir);
    giveFile(env.FASTGPU_METRICS, owner);
    const args = [SUPERVISOR, dir, this.timeoutBin, String(a.timeLimitMs ?? 0), String(a.graceMs), a.workdir ?? '', this.opts.leaseFile ?? '', '--', ...a.command];
    const child = spawn(this.opts.shell ?? '/bin/sh', args, { detached: true, stdio: 'ignore', env });
    this.children.add(child);
    child.once('error', (err) => {
      this.children.delete(child);
      // No supervisor, so no task: a problem of this node, not of the task. The attempt ends
      // never-started and the server runs the task again (a bounded number of times).
      void this.recordNotStarted(dir, `could not start the supervisor: ${err.message}`).then(() => this.emitExit(a.taskId, a.attempt));
    });
    child.once('exit', () => {
      this.children.delete(child);
      this.emitExit(a.taskId, a.attempt);
    });
    // The supervisor lives on its own: the agent may exit (or crash) while it runs.
    child.unref();
    const report: RunningReport = { taskId: a.taskId, attempt: a.attempt, status: 'running', startedAt: now };
    return { launched: true, report };
  }

  private emitExit(taskId: string, attempt: number): void {
    if (this.disposed) return;
    for (const l of this.listeners) l(taskId, attempt);
  }

  private async recordNotStarted(dir: string, message: string): Promise<void> {
    const now = this.clock.now();
    await writeFile(join(dir, FILES.error), `${message}\n`);
    await writeAtomic(join(dir, FILES.exit), formatExit({ status: -1, timedOut: false, launchFailed: false, notStarted: true, startedAt: now, endedAt: now }));
  }

  async inspect(taskId: string, attempt: number): Promise<RunningReport | undefined> {
    const dir = this.attemptDir(taskId, attempt);
    const key = `${taskId}/${attempt}`;
    // Watching many tasks: between full checks, a running one costs one stat (is `exit` there?).
    const cached = this.running.get(key);
    if (cached && this.timers.elapsed() - cached.checkedAt < RECHECK_MS) {
      try {
        await stat(join(dir, FILES.exit));
      } catch {
        return cached.report;
      }
    }
    this.running.delete(key);
    let snap: AttemptSnapshot;
    try {
      await stat(join(dir, FILES.forgotten));
      return undefined;
    } catch {
      // not forgotten
    }
    try {
      snap = await readAttempt(dir, taskId, attempt);
    } catch (e) {
      if (isErr(e, 'ENOENT')) return undefined;
      throw e;
    }
    if (snap.exit) return this.exited(snap);
    const sameBoot = snap.spec === undefined || snap.spec.bootId === this.bootId;

    if (snap.pid) {
      if (sameBoot && (await processAlive(snap.pid.supervisorPid))) {
        this.ensureEscalation(snap);
        const report = runningReport(snap);
        this.running.set(key, { report, checkedAt: this.timers.elapsed() });
        return report;
      }
      // The supervisor is gone. It may have written `exit` just now…
      snap = await readAttempt(dir, taskId, attempt);
      if (snap.exit) return this.exited(snap);
      // …or have been killed itself: then the task group may still run, unsupervised.
      if (sameBoot && snap.pid && groupAlive(snap.pid.pgid)) {
        this.ensureEscalation(snap);
        return runningReport(snap);
      }
      const now = this.clock.now();
      await writeAtomic(join(dir, FILES.exit), formatExit({ status: -1, timedOut: false, launchFailed: false, startedAt: snap.pid?.startedAt ?? now, endedAt: now }));
      this.log(`task ${taskId}/${attempt}: its supervisor ended without recording an exit status`);
      return this.inspect(taskId, attempt);
    }

    // No pid yet: the supervisor is starting, or never started (agent crashed mid-launch, reboot).
    const launchedAt = snap.spec?.launchedAt ?? snap.createdAt;
    if (sameBoot && this.clock.now() - launchedAt < this.startGraceMs) return runningReport(snap);
    return this.settleUnstarted(snap, sameBoot);
  }

  /**
   * A launch past its start grace with no pid. Whoever creates `claim` first decides: if the
   * agent does, the supervisor will never start the task, so the attempt ends `never-started`
   * (the server runs it again). If the supervisor did, it is still starting (re-attach) or it
   * died on the way, when whether the task began is unknown.
   */
  private async settleUnstarted(snap: AttemptSnapshot, sameBoot: boolean): Promise<RunningReport | undefined> {
    const { dir, taskId, attempt } = snap;
    const now = this.clock.now();
    const claim = await takeClaim(dir);
    if (claim === 'agent') {
      const why = sameBoot ? 'the agent stopped before the task was started' : 'the machine restarted before the task was started';
      await writeFile(join(dir, FILES.error), `${why}\n`);
      await writeAtomic(join(dir, FILES.exit), formatExit({ status: -1, timedOut: false, launchFailed: false, notStarted: true, startedAt: now, endedAt: now }));
      this.log(`task ${taskId}/${attempt}: never started (${why})`);
      return this.inspect(taskId, attempt);
    }
    // The supervisor has it: still starting (its pid not yet in the claim, or alive)…
    const writing = claim.pid === undefined && Date.now() - claim.at < this.startGraceMs;
    if (sameBoot && (writing || (claim.pid !== undefined && (await supervisorAlive(claim.pid, dir))))) return runningReport(snap);
    // …or gone: it may have written its pid or exit just now…
    const fresh = await readAttempt(dir, taskId, attempt);
    if (fresh.exit || fresh.pid) return this.inspect(taskId, attempt);
    // …or it died between its claim and its pid: whether the task began is not known.
    await writeFile(join(dir, FILES.error), `the supervisor ended before it recorded the task's pid\n`);
    await writeAtomic(join(dir, FILES.exit), formatExit({ status: -1, timedOut: false, launchFailed: false, startedAt: now, endedAt: now }));
    this.log(`task ${taskId}/${attempt}: its supervisor ended before recording the task's pid`);
    return this.inspect(taskId, attempt);
  }

  private exited(snap: AttemptSnapshot): RunningReport {
    this.clearEscalation(snap.taskId, snap.attempt);
    const exit = snap.exit!;
    const r = exitedReport(snap, exit);
    if (exit.status >= 0) Object.assign(r, readResult(snap.dir));
    if (exit.status < 0) {
      r.exitCode = null;
      r.signal = null;
      r.error = snap.error ?? 'the supervisor ended without recording an exit status (killed, or the machine restarted)';
    }
    return r;
  }

  async scan(): Promise<ScannedAttempt[]> {
    const out: ScannedAttempt[] = [];
    let tasks: string[];
    try {
      tasks = await readdir(this.tasksDir);
    } catch (e) {
      if (isErr(e, 'ENOENT')) return out;
      throw e;
    }
    for (const taskId of tasks.sort()) {
      if (!SAFE_ID.test(taskId)) continue;
      let attempts: string[];
      try {
        attempts = await readdir(join(this.tasksDir, taskId));
      } catch {
        continue;
      }
      for (const name of attempts) {
        const attempt = Number(name);
        if (!/^\d+$/.test(name) || attempt < 1) continue;
        await this.pruneTombstone(taskId, attempt);
        const report = await this.inspect(taskId, attempt);
        if (!report) continue;
        const placement = await this.recordedPlacement(taskId, attempt);
        out.push(placement ? { report, placement } : { report });
      }
    }
    return out;
  }

  private async recordedPlacement(taskId: string, attempt: number): Promise<Placement | undefined> {
    try {
      const spec = JSON.parse(await readFile(join(this.attemptDir(taskId, attempt), FILES.spec), 'utf8')) as SpecRecord;
      return (spec.assignment as Assignment | undefined)?.placement;
    } catch {
      return undefined;
    }
  }

  /** Tombstones only need to outlive the server's memory of the attempt: a week is plenty. */
  private async pruneTombstone(taskId: string, attempt: number): Promise<void> {
    const dir = this.attemptDir(taskId, attempt);
    try {
      const at = Number(await readFile(join(dir, FILES.forgotten), 'utf8'));
      if (Number.isFinite(at) && this.clock.now() - at > TOMBSTONE_MS) {
        await rm(dir, { recursive: true, force: true });
        await rmdir(join(this.tasksDir, taskId)).catch(() => {}); // only when now empty
      }
    } catch {
      // not a tombstone
    }
  }

  async stop(taskId: string, attempt: number, graceMs: number, reason: StopReason): Promise<boolean> {
    if (!SAFE_ID.test(taskId)) return false;
    const dir = this.attemptDir(taskId, attempt);
    let snap: AttemptSnapshot;
    try {
      await stat(join(dir, FILES.forgotten));
      return false;
    } catch {
      // known, not forgotten
    }
    try {
      snap = await readAttempt(dir, taskId, attempt);
    } catch (e) {
      if (!isErr(e, 'ENOENT')) throw e;
      return this.stopUnlaunched(taskId, attempt, reason);
    }
    this.running.delete(`${taskId}/${attempt}`);
    if (snap.exit) return true;
    if (snap.stop) {
      // Already stopping (the server repeats its orders until it hears of the exit).
      this.ensureEscalation(snap);
      return true;
    }
    const now = this.clock.now();
    const stop: StopRecord = { reason, at: now, killAt: now + graceMs };
    // The marker first: if the agent dies right after signalling, the outcome is still known.
    await writeAtomic(join(dir, FILES.stop), JSON.stringify(stop));
    if (reason === 'preempted') await appendFile(join(dir, FILES.signal), 'FASTGPU_PREEMPTED=1\n');
    snap.stop = stop;
    // The supervisor checks for the marker right after it writes its pid, so a stop that
    // lands before the pid exists is not lost.
    const fresh = await readAttempt(dir, taskId, attempt);
    if (fresh.pid && !fresh.exit) {
      terminate(fresh.pid.pgid);
      this.ensureEscalation({ ...fresh, stop });
    }
    return true;
  }

  /** Claims a pair that was never launched here as stopped: a late assignment finds it taken. */
  private async stopUnlaunched(taskId: string, attempt: number, reason: StopReason): Promise<boolean> {
    const dir = this.attemptDir(taskId, attempt);
    mkdirSync(join(this.tasksDir, taskId), { recursive: true });
    try {
      mkdirSync(dir);
    } catch (e) {
      if (!isErr(e, 'EEXIST')) throw e;
      return this.stop(taskId, attempt, 0, reason); // launched meanwhile
    }
    const now = this.clock.now();
    await writeAtomic(join(dir, FILES.stop), JSON.stringify({ reason, at: now, killAt: now } satisfies StopRecord));
    await writeFile(join(dir, FILES.error), 'stopped before it was launched on this node\n');
    await writeAtomic(join(dir, FILES.exit), formatExit({ status: -1, timedOut: false, launchFailed: false, startedAt: now, endedAt: now }));
    return true;
  }

  /** Arms (once) the SIGKILL that follows a stop's SIGTERM; after a restart, finishes it. */
  private ensureEscalation(snap: AttemptSnapshot): void {
    if (!snap.stop || !snap.pid || snap.exit || this.disposed) return;
    const key = `${snap.taskId}/${snap.attempt}`;
    if (this.kills.has(key)) return;
    const pgid = snap.pid.pgid;
    const dir = snap.dir;
    const delay = Math.max(0, snap.stop.killAt - this.clock.now());
    const t = this.timers.timeout(() => {
      this.kills.delete(key);
      void stat(join(dir, FILES.exit)).catch(() => {
        this.log(`task ${key}: grace period over, sending SIGKILL`);
        signalGroup(pgid, 'SIGKILL');
      });
    }, delay);
    t.unref();
    this.kills.set(key, t);
  }

  private clearEscalation(taskId: string, attempt: number): void {
    const key = `${taskId}/${attempt}`;
    this.kills.get(key)?.clear();
    this.kills.delete(key);
  }

  async forget(taskId: string, attempt: number): Promise<void> {
    this.clearEscalation(taskId, attempt);
    this.running.delete(`${taskId}/${attempt}`);
    const dir = this.attemptDir(taskId, attempt);
    let entries: string[];
    try {
      entries = await readdir(dir);
    } catch (e) {
      if (isErr(e, 'ENOENT')) return;
      throw e;
    }
    // Tombstone first: a crash half-way through the clean-up still leaves a forgotten attempt.
    await writeFile(join(dir, FILES.forgotten), String(this.clock.now()));
    for (const e of entries) if (e !== FILES.forgotten) await rm(join(dir, e), { recursive: true, force: true });
  }

  dispose(): void {
    this.disposed = true;
    for (const t of this.kills.values()) t.clear();
    this.kills.clear();
    this.running.clear();
    for (const c of this.children) c.removeAllListeners();
    this.children.clear();
    this.listeners.length = 0;
  }
}

/**
 * `fastgpu` under the agent's own cgroup v2, if the host has cgroup v2 (alone or beside v1) and
 * the agent may make folders there; else null. Made here, so a supervisor only adds a leaf.
 */
export function defaultCgroupRoot(): string | null {
  try {
    const mount = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' '))
      .find((f) => f[f.indexOf('-') + 1] === 'cgroup2')?.[4];
    const own = /^0::(\/.*)$/m.exec(readFileSync('/proc/self/cgroup', 'utf8'))?.[1];
    if (!mount || own === undefined) return null;
    const root = join(mount, own, 'fastgpu');
    mkdirSync(root, { recursive: true });
    accessSync(root, fsConstants.W_OK);
    return root;
  } catch {
    return null;
  }
}

/** `uid gid setpriv-path` for `--run-as USER`; throws a clear error when it cannot work here. */
export function resolveRunAs(user: string): string {
  const r = compileRunAs(user, thisHost(which('setpriv')));
  const line = r.kind === 'per-task' ? null : runAsLine(r);
  if (line === null) throw new Error(`--run-as ${user} names no single user`);
  return line;
}
