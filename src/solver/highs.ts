// The MILP solver port (core/placement/lp-solver.ts) on HiGHS (WebAssembly, the `highs` package
// the bounds already use), in two forms:
// - HighsMilpSolver solves in the caller's thread. HiGHS checks its clock between phases, so a
//   solve can run past its time limit (up to 2× was seen on a loaded machine). The simulator and
//   the tests use it: there the answer matters, not the wall clock.
// - HighsThreadSolver solves in a thread of its own and waits for the answer at most the time
//   limit: a solve not answered by then is given up on (`limit` with no solution, so the cycle
//   falls back to `default` and counts it), and solves are refused until the thread is free
//   again. The server uses it: a cycle never holds the event loop past its budget.
// The solve itself is one piece of plain JavaScript (highs-solve.mjs) that both run.
import { performance } from 'node:perf_hooks';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import type { Highs } from 'highs';
import type { MilpOutcome, MilpProblem, MilpSolver } from '../core/placement/lp-solver.js';
import { loadHighs, solveMilp, warmUp } from './highs-solve.mjs';

let loading: Promise<Highs> | null = null;

/** Loads the HiGHS runtime once per process. */
export function loadHighsRuntime(): Promise<Highs> {
  loading ??= loadHighs();
  return loading;
}

const systemNow = (): number => performance.now();

/** A `MilpSolver` on HiGHS in the caller's thread; `now` is a monotonic clock in ms. */
export class HighsMilpSolver implements MilpSolver {
  constructor(
    private readonly highs: Highs,
    private readonly now: () => number,
  ) {}

  solve(p: MilpProblem, timeLimitMs: number): MilpOutcome {
    return solveMilp(this.highs, p, timeLimitMs, this.now);
  }
}

/**
 * Loads HiGHS and returns a solver on it in this thread, warmed up: the first MIP solves of a
 * process pay for compiling the WebAssembly (some 100 ms here), which would otherwise eat the
 * first cycle's budget.
 */
export async function loadHighsSolver(now: () => number = systemNow): Promise<HighsMilpSolver> {
  const highs = await loadHighsRuntime();
  warmUp(highs, now);
  return new HighsMilpSolver(highs, now);
}

/** HiGHS's own time limit, as a share of the hard one: the rest covers the hand-over and its overrun. */
const SOFT_SHARE = 0.75;

/**
 * The wait for an answer ends this much before the limit (5 %, at most 10 ms): waking from the
 * wait and returning take a few ms on a loaded machine (4–5 ms were measured past a 200 ms limit).
 */
const wakeMargin = (limitMs: number): number => Math.min(10, limitMs * 0.05);

/**
 * A solve given up on may finish in the thread (HiGHS stops on its own limit, late): the thread is
 * then used again. One still running this many times its limit after it was given up on is
 * ended, and a fresh thread started (which costs loading HiGHS again).
 */
const KILL_AFTER_LIMITS = 10;

/** Counts of a HighsThreadSolver, for tests and the bench. */
export interface ThreadSolverStats {
  solves: number;
  /** Solves given up on at their limit (outcome `limit`, no solution: the cycle falls back). */
  overran: number;
  /** Solves refused at once: the thread was starting, or still on a solve given up on. */
  refused: number;
  /** Threads ended because a solve given up on ran on far past its limit. */
  restarts: number;
}

/** One solver thread: its shared flags (see highs-worker.mjs) and its port. */
interface SolverThread {
  worker: Worker;
  port: MessagePort;
  flags: Int32Array;
}

/** flags[1] once the thread has HiGHS loaded and warmed up. */
const READY = 1;

/**
 * A `MilpSolver` whose solves run in a thread of their own and never hold the caller past their
 * time limit: `solve` blocks (Atomics.wait) until the thread answers or the limit passes. A solve
 * not answered by then is given up on (`limit`, no solution); until the thread is free again,
 * solves are refused at once (`error`). Start it with `startHighsThreadSolver()`; `close()` ends
 * the thread.
 */
export class HighsThreadSolver implements MilpSolver {
  private thread: SolverThread;
  private seq = 0;
  /** The solve given up on that the thread still works on, and when (this.now()) and its limit. */
  private late: { id: number; at: number; limitMs: number } | null = null;
  private closed = false;
  readonly stats: ThreadSolverStats = { solves: 0, overran: 0, refused: 0, restarts: 0 };

  constructor(
    private readonly now: () => number = systemNow,
    /** The thread's module (tests give one that never answers, or answers late). */
    private readonly workerUrl: URL = new URL('./highs-worker.mjs', import.meta.url),
  ) {
    this.thread = this.spawn();
  }

  /** Resolves once the thread has HiGHS loaded and warmed up; rejects if it could not load it. */
  ready(): Promise<void> {
    const { worker, flags } = this.thread;
    if (Atomics.load(flags, 1) === READY) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const fail = (why: string): void => reject(new Error(`the solver thread could not load HiGHS: ${why}`));
      worker.once('message', (m: { ready?: true; loadError?: string }) => (m.ready ? resolve() : fail(m.loadError ?? 'unknown error')));
      worker.once('error', (e) => fail(e.message));
      worker.once('exit', (code) => fail(`it exited (${code})`));
    });
  }

  solve(p: MilpProblem, timeLimitMs: number): MilpOutcome {
    this.stats.solves++;
    const t0 = this.now();
    const busy = this.closed ? 'the solver is closed' : this.busy(t0);
    if (busy !== null) {
      this.stats.refused++;
      return { status: 'error', x: null, solveMs: this.now() - t0, message: busy };
    }
    const { flags, port } = this.thread;
    const id = ++this.seq;
    const before = Atomics.load(flags, 0);
    port.postMessage({ id, problem: p, timeLimitMs: Math.max(1, timeLimitMs * SOFT_SHARE) });
    for (;;) {
      const got = receiveMessageOnPort(port)?.message as { id: number; out: MilpOutcome } | undefined;
      if (got !== undefined && got.id === id) return { ...got.out, solveMs: this.now() - t0 };
      if (got !== undefined) continue; // an answer to a solve given up on earlier: dropped
      const left = t0 + timeLimitMs - wakeMargin(timeLimitMs) - this.now();
      if (left <= 0) break;
      // Wakes when the thread stores a new answer id; a value already changed returns at once.
      if (Atomics.load(flags, 0) === before) Atomics.wait(flags, 0, before, left);
    }
    this.stats.overran++;
    const at = this.now();
    this.late = { id, at, limitMs: timeLimitMs };
    return { status: 'limit', x: null, solveMs: at - t0, message: `no answer within its ${timeLimitMs.toFixed(0)} ms limit: given up on` };
  }

  /** Ends the solver thread. */
  async close(): Promise<void> {
    this.closed = true;
    this.thread.port.close();
    await this.thread.worker.terminate();
  }

  /** Why the thread cannot take a solve now, or null when it can. */
  private busy(now: number): string | null {
    if (Atomics.load(this.thread.flags, 1) !== READY) return 'the solver thread is starting';
    const late = this.late;
    if (late === null) return null;
    if (Atomics.load(this.thread.flags, 0) >= late.id) {
      // It finished: its answer is dropped, and the thread is free.
      while (receiveMessageOnPort(this.thread.port) !== undefined);
      this.late = null;
      return null;
    }
    if (now - late.at < late.limitMs * KILL_AFTER_LIMITS) return 'the solver thread is still on a solve that ran over its limit';
    this.late = null;
    this.stats.restarts++;
    const old = this.thread;
    old.port.close();
    void old.worker.terminate();
    this.thread = this.spawn();
    return 'the solver thread is starting (the last one ran far over its limit and was ended)';
  }

  private spawn(): SolverThread {
    const flags = new Int32Array(new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT));
    const { port1, port2 } = new MessageChannel();
    const worker = new Worker(this.workerUrl, { workerData: { flags, port: port2 }, transferList: [port2] });
    // Once ready, neither keeps the process alive: a server that stops does not wait for its
    // solver (while it loads, the thread does: a start-up waits for it).
    worker.once('message', () => worker.unref());
    port1.unref();
    // A thread that dies once ready (out of memory, say) is replaced: a solve given to it meanwhile
    // is given up on at its limit. One that never got ready (HiGHS would not load) is not: every
    // solve is then refused, and the cycles fall back to `default`.
    worker.on('error', () => {}); // said by the exit that follows
    worker.once('exit', () => {
      if (this.closed || this.thread.worker !== worker || Atomics.load(flags, 1) !== READY) return;
      this.late = null;
      this.thread = this.spawn();
    });
    return { worker, port: port1, flags };
  }
}

/** Starts a HighsThreadSolver and waits until its thread has HiGHS loaded and warmed up. */
export async function startHighsThreadSolver(now: () => number = systemNow): Promise<HighsThreadSolver> {
  const solver = new HighsThreadSolver(now);
  try {
    await solver.ready();
  } catch (e) {
    await solver.close();
    throw e;
  }
  return solver;
}
