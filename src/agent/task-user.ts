// Who a task runs as (issue 9 §5). An agent running as root runs each task as an unprivileged
// user by default: a uid of its own per running attempt, from systemd's range for dynamic users
// (61184–65519, which no distribution hands out), with no passwd entry and no groups. Tasks of
// one shared user (`nobody`) could read each other's /proc/PID/environ, the very secrets the
// state dir's 0600 files keep from them; tasks of distinct uids cannot, nor signal, nor read
// each other's files. The choices, as `--run-as`:
//   (none)    root: a uid per task (`per-task`); not root: the agent's own user (it cannot switch)
//   per-task  the same, said explicitly (refused when the agent is not root)
//   USER      a name or uid: every task runs as that user (`nobody`, a service account)
//   root      the opt-out: tasks run as the agent's user, root included; the agent says so
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

/** How tasks run: what the launcher writes to each attempt's `runas` file (or not). */
export type RunAs =
  /**
   * As the agent itself. `optedOut`: a root agent told so (`--run-as root`). `closedAt`: a root
   * agent left to its default, on a host where a task of its own uid could not reach its files
   * (see `settleDefault`): the folder that is closed.
   */
  | { kind: 'agent'; optedOut: boolean; closedAt?: string }
  /** Every task as this one user. */
  | { kind: 'user'; user: string; uid: number; gid: number; setpriv: string }
  /** Each running attempt as a uid (and gid) of its own from [first, last]. */
  | { kind: 'per-task'; first: number; last: number; setpriv: string };

/** systemd's DynamicUser= range: reserved for this use on every systemd distribution. */
export const TASK_UID_RANGE = { first: 61184, last: 65519 } as const;

/** The host's facts `compileRunAs` depends on (a test passes its own). */
export interface RunAsHost {
  isRoot: boolean;
  /** Path of setpriv (util-linux), if on PATH. */
  setpriv: string | undefined;
  /** `[uid, gid]` of a user name or uid, or undefined when there is none. */
  lookup(user: string): [number, number] | undefined;
}

/**
 * The `--run-as` flag (or its absence) as a policy; throws a message naming the flag when it
 * cannot work on this host.
 * @example compileRunAs(undefined, host) // root: { kind: 'per-task', … }; else { kind: 'agent' }
 */
export function compileRunAs(flag: string | undefined, host: RunAsHost): RunAs {
  const v = flag?.trim();
  if (v === 'root') return { kind: 'agent', optedOut: host.isRoot };
  if (v === undefined || v === '' || v === 'per-task') {
    if (!host.isRoot) {
      if (v === 'per-task') throw new Error('--run-as per-task needs an agent running as root (it switches each task to a uid of its own)');
      return { kind: 'agent', optedOut: false };
    }
    if (!host.setpriv) throw new Error('tasks of a root agent run as unprivileged users through setpriv (util-linux), which is not on PATH: install util-linux, or pass --run-as root to run them as root');
    return { kind: 'per-task', ...TASK_UID_RANGE, setpriv: host.setpriv };
  }
  if (!host.setpriv) throw new Error('--run-as needs setpriv (util-linux) on PATH');
  if (!host.isRoot) throw new Error('--run-as needs an agent running as root (it switches each task to that user)');
  const ids = host.lookup(v);
  if (!ids) throw new Error(`--run-as: no user ${JSON.stringify(v)} on this host`);
  if (ids[0] === 0) throw new Error('--run-as: the user must not be root (to run tasks as root, say --run-as root)');
  return { kind: 'user', user: v, uid: ids[0], gid: ids[1], setpriv: host.setpriv };
}

/** This host, as `compileRunAs` needs it. */
export function thisHost(setpriv: string | undefined): RunAsHost {
  return {
    isRoot: typeof process.getuid === 'function' && process.getuid() === 0,
    setpriv,
    lookup: (user) => {
      try {
        const [u, g] = ['-u', '-g'].map((f) => Number(execFileSync('id', [f, user], { encoding: 'utf8' }).trim()));
        return u !== undefined && g !== undefined && Number.isInteger(u) && Number.isInteger(g) ? [u, g] : undefined;
      } catch {
        return undefined;
      }
    },
  };
}

/** Uids some process on this host runs as (real uids, from /proc). */
export function uidsInUse(proc = '/proc'): Set<number> {
  const out = new Set<number>();
  let entries: string[];
  try {
    entries = readdirSync(proc);
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const m = /^Uid:\s+(\d+)/m.exec(readFileSync(`${proc}/${e}/status`, 'utf8'));
      if (m) out.add(Number(m[1]));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Uids /etc/passwd names (a real user is never borrowed, even in the range). */
export function passwdUids(path = '/etc/passwd'): Set<number> {
  const out = new Set<number>();
  try {
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      const uid = Number(line.split(':')[2]);
      if (line !== '' && Number.isInteger(uid)) out.add(uid);
    }
  } catch {
    // no passwd file: nothing to avoid
  }
  return out;
}

/**
 * Picks a uid for a new attempt: in the range, named by no passwd entry, run by no process, and
 * not handed to an attempt of this agent that may still run (`taken`). Starts at a random
 * place, so two agents on one host rarely try the same one. Throws when the range is full.
 */
export function pickTaskUid(range: { first: number; last: number }, taken: ReadonlySet<number>, busy: ReadonlySet<number>, random: () => number = Math.random): number {
  const size = range.last - range.first + 1;
  const start = Math.floor(random() * size);
  for (let i = 0; i < size; i++) {
    const uid = range.first + ((start + i) % size);
    if (!taken.has(uid) && !busy.has(uid)) return uid;
  }
  throw new Error(`no free task uid in ${range.first}–${range.last}: ${size} tasks run already`);
}

/** The `runas` line of an attempt, or null when the task runs as the agent. */
export function runAsLine(r: RunAs, uid?: number): string | null {
  if (r.kind === 'agent') return null;
  if (r.kind === 'user') return `${r.uid} ${r.gid} ${r.setpriv}`;
  if (uid === undefined) throw new Error('a per-task run-as needs the attempt its uid');
  return `${uid} ${uid} ${r.setpriv}`;
}

/**
 * The first folder above `dir` that other users cannot traverse (no `o+x`), if any. A task of
 * another uid reaches its signal, result and metrics files in the state dir only through it.
 */
/**
 * The default per-task uids hold only where the host lets a task reach its own signal, result and
 * metrics files: every folder above the state dir traversable by others. `fastgpu up` keeps the
 * agent's state in its data dir (`0700`, it holds the admin token), and `/root` is `0700` too; a
 * task of its own uid there could not even report its result. So a root agent left to its
 * default runs tasks as itself in that case, and says why (`closedAt`); a `--run-as` the user
 * gave is kept as given (the agent warns).
 */
export function settleDefault(runAs: RunAs, explicit: boolean, closed: string | undefined): RunAs {
  if (explicit || runAs.kind !== 'per-task' || closed === undefined) return runAs;
  return { kind: 'agent', optedOut: false, closedAt: closed };
}

export function untraversableAbove(dir: string): string | undefined {
  for (let d = dirname(dir); ; d = dirname(d)) {
    try {
      if ((statSync(d).mode & 0o001) === 0) return d;
    } catch {
      // Not there yet (the agent makes it): the folders above it still decide.
    }
    if (dirname(d) === d) return undefined;
  }
}
