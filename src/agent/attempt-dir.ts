// One attempt's folder, `<stateDir>/tasks/<taskId>/<attempt>/`, and how to read it. The folder is
// the durable record of a launch: the agent creates it with an atomic mkdir before starting the
// supervisor (so a pair is never launched twice), the supervisor fills it in (see supervisor.sh),
// and a restarted agent rebuilds everything it knows from it.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic-file.js';
import { constants } from 'node:os';
import type { RunningReport, StopOrder } from '../protocol/agent.js';
import type { LogStream } from '../core/types.js';

export type StopReason = StopOrder['reason'];

export const FILES = {
  spec: 'spec.json',
  pid: 'pid',
  exit: 'exit',
  error: 'error',
  stop: 'stop',
  signal: 'signal',
  claim: 'claim',
  forgotten: 'forgotten',
  log: (s: LogStream) => `${s}.log`,
} as const;

/** Written by the agent before it starts the supervisor. */
export interface SpecRecord {
  taskId: string;
  attempt: number;
  launchedAt: number;
  /** Kernel boot id at launch: after a reboot, recorded pids mean nothing. */
  bootId: string;
  timeLimitMs?: number;
  graceMs: number;
  assignment: unknown;
}

/** Written by the supervisor once the task runs. */
export interface PidRecord {
  /** The task's process group (GNU timeout's pid). */
  pgid: number;
  supervisorPid: number;
  /** The pid file's mtime: when the task started. */
  startedAt: number;
}

/** Written by the supervisor (or by the agent when the supervisor never ran) when the attempt is over. */
export interface ExitRecord {
  /** Shell-style status: the exit code, or 128+N when ended by signal N. */
  status: number;
  timedOut: boolean;
  launchFailed: boolean;
  /**
   * Written by the agent alone, after it won the claim on a launch whose supervisor never
   * started: the task's process never ran and never will.
   */
  notStarted?: boolean;
  /** The supervisor fenced it: the node's lease ran out before the task ended (src/protocol/lease.ts). */
  fenced?: boolean;
  startedAt: number;
  endedAt: number;
}

/** Written by the agent before it signals the task, so the outcome survives an agent crash. */
export interface StopRecord {
  reason: StopReason;
  at: number;
  /** When SIGKILL follows the SIGTERM. */
  killAt: number;
}

export interface AttemptSnapshot {
  taskId: string;
  attempt: number;
  dir: string;
  spec?: SpecRecord;
  pid?: PidRecord;
  exit?: ExitRecord;
  stop?: StopRecord;
  error?: string;
  /** The folder's creation (≈ launch) time, for launches that never got a spec. */
  createdAt: number;
}

/** A task id usable as one path segment; anything else is refused at launch. */
export const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$/;

/** A file's text, or undefined when it does not exist. */
export async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Parses `key=value` lines. */
function kv(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) m.set(line.slice(0, i), line.slice(i + 1));
  }
  return m;
}

export function parseExit(text: string): ExitRecord | undefined {
  const m = kv(text);
  const status = Number(m.get('status'));
  const endedAt = Number(m.get('ended'));
  if (!Number.isInteger(status) || !Number.isFinite(endedAt) || !m.has('ended')) return undefined;
  return {
    status,
    timedOut: m.get('timedout') === '1',
    launchFailed: m.get('launchfailed') === '1',
    ...(m.get('fenced') === '1' ? { fenced: true } : {}),
    ...(m.get('notstarted') === '1' ? { notStarted: true } : {}),
    startedAt: Number(m.get('started')) || endedAt,
    endedAt,
  };
}

export function formatExit(e: ExitRecord): string {
  const notStarted = e.notStarted ? 'notstarted=1\n' : '';
  return `status=${e.status}\ntimedout=${e.timedOut ? 1 : 0}\nlaunchfailed=${e.launchFailed ? 1 : 0}\n${notStarted}started=${e.startedAt}\nended=${e.endedAt}\n`;
}

/** Parses the supervisor's pid line; undefined while it is not completely written. */
export function parsePid(text: string, startedAt: number): PidRecord | undefined {
  if (!text.endsWith('\n')) return undefined;
  const [pgid, sup] = text.trim().split(/\s+/).map(Number);
  if (!pgid || !sup || !Number.isInteger(pgid) || !Number.isInteger(sup)) return undefined;
  return { pgid, supervisorPid: sup, startedAt };
}

/** Writes a small file atomically: readers see all of it or nothing (see writeFileAtomic). */
export const writeAtomic = (path: string, data: string): Promise<void> => writeFileAtomic(path, data);

/** Reads what the folder says about the attempt. */
export async function readAttempt(dir: string, taskId: string, attempt: number): Promise<AttemptSnapshot> {
  const [specT, pidT, exitT, stopT, errT, st] = await Promise.all([
    readText(join(dir, FILES.spec)),
    readText(join(dir, FILES.pid)),
    readText(join(dir, FILES.exit)),
    readText(join(dir, FILES.stop)),
    readText(join(dir, FILES.error)),
    stat(dir),
  ]);
  const snap: AttemptSnapshot = { taskId, attempt, dir, createdAt: st.birthtimeMs || st.mtimeMs };
  if (specT !== undefined) {
    try {
      snap.spec = JSON.parse(specT) as SpecRecord;
    } catch {
      // A spec cut short by a crash: the launch never got as far as the supervisor.
    }
  }
  if (pidT !== undefined) {
    const started = await stat(join(dir, FILES.pid)).then((s) => Math.round(s.mtimeMs), () => 0);
    snap.pid = parsePid(pidT, started);
  }
  if (exitT !== undefined) snap.exit = parseExit(exitT);
  if (stopT !== undefined) {
    try {
      snap.stop = JSON.parse(stopT) as StopRecord;
    } catch {
      // unreadable marker: treat as absent
    }
  }
  if (errT !== undefined) snap.error = errT.trim();
  return snap;
}

const SIGNAL_NAMES = new Map<number, string>(
  Object.entries(constants.signals).map(([name, n]) => [n, name] as [number, string]),
);

/** The report for an attempt that is over. */
export function exitedReport(s: AttemptSnapshot, exit: ExitRecord): RunningReport {
  const sig = exit.status > 128 ? SIGNAL_NAMES.get(exit.status - 128) : undefined;
  const r: RunningReport = {
    taskId: s.taskId,
    attempt: s.attempt,
    status: 'exited',
    startedAt: exit.startedAt,
    endedAt: exit.endedAt,
    exitCode: exit.status,
    signal: sig ?? null,
    endReason: 'exit',
  };
  if (s.pid) r.pid = s.pid.pgid;
  if (exit.notStarted) {
    // Nothing ran: no start time, no exit code; the server runs it again as a new attempt.
    delete r.startedAt;
    r.exitCode = null;
    r.signal = null;
    r.endReason = 'never-started';
    r.error = s.error ?? 'the task was never started';
  } else if (exit.launchFailed) {
    r.endReason = 'launch-failed';
    r.error = s.error ?? 'the task could not be started';
    r.signal = null;
  } else if (exit.fenced) {
    r.endReason = 'fenced';
  } else if (s.stop) {
    r.endReason = s.stop.reason === 'preempted' ? 'preempted' : 'cancelled';
  } else if (exit.timedOut) {
    r.endReason = 'timeout';
  }
  return r;
}

/** The report for an attempt still running (or starting). */
export function runningReport(s: AttemptSnapshot): RunningReport {
  const r: RunningReport = { taskId: s.taskId, attempt: s.attempt, status: 'running' };
  if (s.pid) {
    r.pid = s.pid.pgid;
    r.startedAt = s.pid.startedAt;
  }
  return r;
}
