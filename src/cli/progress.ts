// What `run` and `wait` say on stderr while a task waits: its state and pending reason each
// time they change. On a terminal one status line is redrawn in place with a spinner and the
// time spent in the state; otherwise (a pipe, a log file) each change is one plain line.
import type { FastGPU } from '../sdk/client.js';
import type { TaskView } from '../sdk/types.js';
import { isTerminal } from '../sdk/types.js';
import type { CliContext } from './context.js';
import { placedGpus } from './format.js';

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
/** How often the task is read again; a change shows within this long. */
export const PROGRESS_POLL_MS = 1000;
/** How often the terminal line is redrawn (spinner and elapsed time). */
const FRAME_MS = 100;

/** `PENDING (Priority: 3 tasks ahead …)`, `RUNNING on node-1, GPU 0:0.5`: one task's state as a phrase. */
export function describeState(t: Pick<TaskView, 'state' | 'reason' | 'reasonMessage' | 'placement'>): string {
  if (t.state === 'PENDING') return t.reason ? `pending (${t.reason}${t.reasonMessage ? `: ${t.reasonMessage}` : ''})` : 'pending (queued for the scheduler)';
  if ((t.state === 'RUNNING' || t.state === 'SCHEDULED') && t.placement) {
    const gpus = t.placement.gpus.length > 0 ? `, GPU ${placedGpus(t.placement)}` : '';
    return `${t.state === 'RUNNING' ? 'running' : 'starting'} on ${t.placement.node}${gpus}`;
  }
  return t.state.toLowerCase() + (t.reasonMessage ? ` (${t.reasonMessage})` : '');
}

/** `4s`, `2m05s`, `1h02m`: time in a state, for the status line. */
export function elapsed(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export interface Progress {
  /** Clears the status line (a terminal) before output is written. */
  clear(): void;
  /** The task as last seen. */
  last(): TaskView;
  /** Stops polling and clears the line. */
  stop(): void;
}

/**
 * Reports `first`'s state changes on ctx.stderr until stopped or the task ends. The spinner is
 * drawn only while the task is not running, so it never mixes with the task's own output.
 */
export function watchProgress(ctx: CliContext, client: FastGPU, first: TaskView, now: () => number = Date.now): Progress {
  const tty = ctx.stderr.isTTY === true;
  let last = first;
  let key = '';
  let since = now();
  let drawn = false;
  let stopped = false;
  let frame = 0;
  // Whether anything was said yet: a task that starts at once gets no lines at all, so the
  // stderr of a script that runs quick tasks holds only the tasks' own output.
  let said = false;

  const clear = (): void => {
    if (drawn) ctx.stderr.write('\r\x1b[K');
    drawn = false;
  };
  const draw = (): void => {
    if (stopped || !tty || last.state === 'RUNNING' || isTerminal(last.state)) return;
    const line = `${SPINNER[frame++ % SPINNER.length]} task ${last.id} ${describeState(last)} · ${elapsed(now() - since)}`;
    const width = ctx.stderr.columns ?? 100;
    ctx.stderr.write(`\r\x1b[K${line.length >= width ? `${line.slice(0, width - 2)}…` : line}`);
    drawn = true;
    said = true;
  };
  const see = (t: TaskView): void => {
    last = t;
    const k = `${t.state}|${t.reason ?? ''}|${t.reasonMessage ?? ''}|${t.placement?.node ?? ''}`;
    if (k === key) return;
    key = k;
    since = now();
    if (isTerminal(t.state)) return; // the caller reports the end
    // Waiting for a reason is news; so is a start or a requeue after that. A pending task the
    // scheduler has not looked at yet has nothing to say.
    const news = (t.state === 'PENDING' && t.reason !== null) || (said && t.state !== 'PENDING') || (said && t.reason !== null);
    // A terminal shows the waiting states on its status line and prints the start.
    if (news && (!tty || t.state === 'RUNNING')) {
      clear();
      ctx.stderr.write(`fastgpu: task ${t.id} ${describeState(t)}\n`);
      said = true;
    }
    draw();
  };

  see(first);
  const frames = tty ? setInterval(draw, FRAME_MS) : undefined;
  frames?.unref?.();
  let wake: (() => void) | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const poll = async (): Promise<void> => {
    while (!stopped) {
      await new Promise<void>((r) => {
        wake = r;
        timer = setTimeout(r, PROGRESS_POLL_MS);
      });
      if (stopped) return;
      try {
        see(await client.tasks.get(first.id));
      } catch {
        // A failed read is not news: the follow/wait loop beside this one reports a lost server.
        continue;
      }
      if (isTerminal(last.state)) return;
    }
  };
  void poll();
  return {
    clear,
    last: () => last,
    stop() {
      stopped = true;
      if (frames) clearInterval(frames);
      clearTimeout(timer);
      wake?.();
      clear();
    },
  };
}

/**
 * What a detach (Ctrl-C) leaves behind, said as it is: "still pending (Priority: …)" for a task
 * that never started, "still running on node-1" for one that did.
 */
export function detachMessage(t: TaskView): string {
  const follow = `Follow it with \`fastgpu logs -f ${t.id}\``;
  const stop = `stop it with \`fastgpu cancel ${t.id}\``;
  if (isTerminal(t.state)) return `detached; task ${t.id} has ended: ${t.state}${t.exitCode !== null ? ` (exit ${t.exitCode})` : ''}.`;
  if (t.state === 'PENDING') return `detached; task ${t.id} has not started: it is still ${describeState(t)}, and stays queued. ${follow}; ${stop}.`;
  return `detached; task ${t.id} is still ${describeState(t)} and keeps running. ${follow}; ${stop}.`;
}
