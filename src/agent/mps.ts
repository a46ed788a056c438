// The NVIDIA MPS control daemon, run by the agent on a node shared with `mps`: started with the
// agent's own pipe and log folders (the ones its tasks are pointed at), asked regularly whether
// it answers, restarted when it does not, and told to quit when the agent stops. Slices' caps
// are per client (env.ts sets CUDA_MPS_ACTIVE_THREAD_PERCENTAGE and
// CUDA_MPS_PINNED_DEVICE_MEM_LIMIT in each task's environment); the daemon only has to be there.
//
// `MpsControl` is the seam: `MpsDaemon` drives a real `nvidia-cuda-mps-control` (tests run it
// against fixtures/nvidia-cuda-mps-control, a shell script that behaves like one).
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock, Gpu } from '../core/types.js';
import type { MpsHealthReport } from '../protocol/agent.js';
import type { Launcher } from './launcher.js';
import { sleepOn, systemClock, timerClock, type Timer } from '../util/clock.js';

export type MpsState = 'starting' | 'ok' | 'down' | 'stopped';

/** What the node reports about its MPS daemon. */
export interface MpsHealth {
  state: MpsState;
  /** Why it is down, or what answered. */
  detail?: string;
  /** Times the agent started it again after it stopped answering. */
  restarts: number;
  /** When it last answered (ms since the epoch). */
  lastOkAt?: number;
  pipeDir: string;
  logDir: string;
}

/** What the agent needs from an MPS daemon. */
export interface MpsControl {
  /** Starts the daemon (or adopts one already answering on the same pipe folder) and waits until it answers. */
  start(): Promise<MpsHealth>;
  /** Asks it once; restarts it when it does not answer. */
  check(): Promise<MpsHealth>;
  health(): MpsHealth;
  /** Tells it to quit and waits for it to be gone. Checks stop. */
  stop(): Promise<void>;
}

export interface MpsDaemonOptions {
  pipeDir: string;
  logDir: string;
  /** Path or name of the control program; default `nvidia-cuda-mps-control` on PATH. */
  controlBin?: string;
  clock?: Clock;
  log?: (line: string) => void;
  /** How long one command to the daemon may take. */
  timeoutMs?: number;
  /** How long a fresh daemon may take to answer. */
  startTimeoutMs?: number;
  /** Checks every this many ms once started; 0: only when `check()` is called. */
  checkEveryMs?: number;
  /** Waits between polls while starting or stopping (tests pass a promise they control). */
  pause?: (ms: number) => Promise<void>;
}

interface Ran {
  code: number | null;
  out: string;
  /** Set when the program could not be run at all. */
  error?: string;
}

const PID_FILE = 'nvidia-cuda-mps-control.pid';

/** Alive and not a zombie (a daemon's parent may never reap it). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    // no /proc (or gone): ask the kernel
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class MpsDaemon implements MpsControl {
  private readonly bin: string;
  private readonly clock: Clock;
  private readonly log: (line: string) => void;
  private readonly pause: (ms: number) => Promise<void>;
  private state: MpsHealth;
  private timer: Timer | undefined;
  private checking: Promise<MpsHealth> | undefined;
  private stopped = false;

  constructor(private readonly opts: MpsDaemonOptions) {
    this.bin = opts.controlBin ?? 'nvidia-cuda-mps-control';
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? (() => {});
    this.pause = opts.pause ?? ((ms) => sleepOn(timerClock(this.clock), ms));
    this.state = { state: 'starting', restarts: 0, pipeDir: opts.pipeDir, logDir: opts.logDir };
  }

  /** The control program's environment: the agent's, with our folders. */
  private env(): NodeJS.ProcessEnv {
    return { ...process.env, CUDA_MPS_PIPE_DIRECTORY: this.opts.pipeDir, CUDA_MPS_LOG_DIRECTORY: this.opts.logDir };
  }

  /** Runs the control program with `args`, writing `input` to it, as NVIDIA documents (`echo quit | …`). */
  private run(args: string[], input?: string): Promise<Ran> {
    const timeoutMs = this.opts.timeoutMs ?? 10_000;
    return new Promise((resolve) => {
      let out = '';
      let settled = false;
      const done = (r: Ran): void => {
        if (settled) return;
        settled = true;
        timer.clear();
        resolve(r);
      };
      // `-d` forks the daemon, which keeps the pipes we gave it: only read output of the commands.
      const child = spawn(this.bin, args, { env: this.env(), stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], detached: args.includes('-d') });
      const timer = timerClock(this.clock).timeout(() => {
        child.kill('SIGKILL');
        done({ code: null, out, error: `${this.bin} ${args.join(' ')} did not finish within ${timeoutMs} ms` });
      }, timeoutMs);
      child.stdout?.setEncoding('utf8').on('data', (s: string) => (out += s));
      child.stderr?.setEncoding('utf8').on('data', (s: string) => (out += s));
      child.once('error', (e: NodeJS.ErrnoException) =>
        done({ code: null, out, error: e.code === 'ENOENT' ? `${this.bin} not found (is the NVIDIA driver's MPS installed?)` : `${this.bin}: ${e.message}` }),
      );
      if (args.includes('-d')) {
        // The daemon it forks may keep our pipes open: its parent's exit is the answer.
        child.once('exit', (code) => {
          child.stdout?.destroy();
          child.stderr?.destroy();
          done({ code, out: out.trim() });
        });
      } else child.once('close', (code) => done({ code, out: out.trim() }));
      if (input !== undefined) {
        child.stdin?.on('error', () => {}); // it may exit before reading: its exit code says enough
        child.stdin?.end(input);
      }
    });
  }

  /** The daemon's pid, from the file it writes in the pipe folder. */
  private pid(): number | undefined {
    try {
      const pid = Number(readFileSync(join(this.opts.pipeDir, PID_FILE), 'utf8').trim());
      return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  /** One question to the daemon: does it list its servers? */
  private async answers(): Promise<Ran & { ok: boolean }> {
    const r = await this.run([], 'get_server_list\n');
    return { ...r, ok: r.error === undefined && r.code === 0 };
  }

  private set(next: Partial<MpsHealth>): MpsHealth {
    const before = this.state.state;
    this.state = { ...this.state, ...next };
    // A detail belongs to the state it came with.
    if (next.detail === undefined) delete this.state.detail;
    if (before !== this.state.state) this.log(`mps: ${this.state.state}${this.state.detail ? ` (${this.state.detail})` : ''}`);
    return this.health();
  }

  health(): MpsHealth {
    return { ...this.state };
  }

  private async launch(): Promise<MpsHealth> {
    mkdirSync(this.opts.pipeDir, { recursive: true, mode: 0o755 });
    mkdirSync(this.opts.logDir, { recursive: true, mode: 0o755 });
    const first = await this.answers();
    if (first.ok) return this.set({ state: 'ok', lastOkAt: this.clock.now() });
    const started = await this.run(['-d']);
    if (started.error !== undefined || started.code !== 0) {
      const why = started.error ?? `${this.bin} -d exited ${String(started.code)}${started.out ? `: ${started.out.split('\n')[0]}` : ''}`;
      return this.set({ state: 'down', detail: why });
    }
    const deadline = this.clock.now() + (this.opts.startTimeoutMs ?? 10_000);
    let last = first;
    for (;;) {
      last = await this.answers();
      if (last.ok) return this.set({ state: 'ok', lastOkAt: this.clock.now() });
      if (this.stopped || this.clock.now() >= deadline) break;
      await this.pause(100);
    }
    return this.set({ state: 'down', detail: `started, but does not answer: ${last.error ?? (last.out.split('\n')[0] || `exit ${String(last.code)}`)}` });
  }

  async start(): Promise<MpsHealth> {
    this.stopped = false;
    const h = await this.launch();
    const every = this.opts.checkEveryMs ?? 5_000;
    if (every > 0 && this.timer === undefined) {
      this.timer = timerClock(this.clock).interval(() => void this.check(), every);
      this.timer.unref();
    }
    return h;
  }

  check(): Promise<MpsHealth> {
    // One check at a time: a slow daemon must not pile up restarts.
    this.checking ??= this.checkOnce().finally(() => (this.checking = undefined));
    return this.checking;
  }

  private async checkOnce(): Promise<MpsHealth> {
    if (this.stopped) return this.health();
    const r = await this.answers();
    if (r.ok) return this.set({ state: 'ok', lastOkAt: this.clock.now() });
    const why = r.error ?? (r.out.split('\n')[0] || `exit ${String(r.code)}`);
    this.set({ state: 'down', detail: `does not answer (${why}); restarting it` });
    // A daemon that hangs rather than died still holds the pipe folder: end it first.
    const pid = this.pid();
    if (pid !== undefined && alive(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    this.state.restarts += 1;
    const h = await this.launch();
    if (h.state === 'ok') this.log(`mps: restarted the control daemon (${h.restarts} restart(s) so far)`);
    return h;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.clear();
    this.timer = undefined;
    // A check that failed already recorded its failure in the health; stopping only waits for it.
    await this.checking?.catch(() => undefined);
    const pid = this.pid();
    const r = await this.run([], 'quit\n');
    // quit returns at once; the daemon ends its servers first. Wait a little, then insist.
    if (pid !== undefined) {
      for (let i = 0; i < 50 && alive(pid); i++) await this.pause(100);
      if (alive(pid)) {
        this.log(`mps: the control daemon (pid ${pid}) did not quit${r.error ? ` (${r.error})` : ''}; killing it`);
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
    }
    this.set({ state: 'stopped' });
  }
}

/** What the agent sends in its heartbeat (no local paths). */
export function mpsReport(h: MpsHealth): MpsHealthReport {
  return {
    state: h.state,
    ...(h.detail !== undefined ? { detail: h.detail.slice(0, 1000) } : {}),
    restarts: h.restarts,
    ...(h.lastOkAt !== undefined ? { lastOkAt: h.lastOkAt } : {}),
  };
}

/**
 * The agent's side: on a node of real GPUs shared with `mps`, starts the daemon (failing with
 * the reason when it cannot: slices would run uncapped) and returns it; elsewhere undefined.
 */
export async function startNodeMps(
  gpus: readonly Gpu[],
  opts: Omit<MpsDaemonOptions, 'pipeDir' | 'logDir'> & { stateDir: string; pipeDir?: string | undefined; logDir?: string | undefined },
): Promise<MpsControl | undefined> {
  if (gpus.length === 0 || gpus.some((g) => g.sharing !== 'mps')) return undefined;
  const { stateDir, pipeDir, logDir, ...rest } = opts;
  // The folders the launcher points tasks at (launcher.ts uses the same defaults).
  const mps = new MpsDaemon({ ...rest, pipeDir: pipeDir ?? join(stateDir, 'mps', 'pipe'), logDir: logDir ?? join(stateDir, 'mps', 'log') });
  const h = await mps.start();
  if (h.state !== 'ok') {
    await mps.stop();
    throw new Error(`sharing mps: the MPS control daemon did not start (${h.detail ?? h.state}); without it slices would run without their caps`);
  }
  opts.log?.(`mps: control daemon answering on ${h.pipeDir} (logs in ${h.logDir})`);
  return mps;
}

/**
 * On the agent's exit: tells the daemon to quit, unless tasks still run (they outlive the agent
 * and would lose their MPS server); the next agent adopts the daemon then (`start`).
 */
export async function stopNodeMps(mps: MpsControl | undefined, launcher: Pick<Launcher, 'scan'>, log: (line: string) => void): Promise<void> {
  if (!mps) return;
  let running = 0;
  try {
    running = (await launcher.scan()).filter((a) => a.report.status === 'running').length;
  } catch {
    // cannot tell: leave it to the tasks rather than cut them off
    running = -1;
  }
  if (running === 0) {
    await mps.stop();
    return;
  }
  log(`mps: leaving the control daemon running for ${running > 0 ? `${running} running task(s)` : 'tasks that may still run'}; the next agent adopts it`);
}
