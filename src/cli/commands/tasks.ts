// Task commands: `ps`, `get`, `events`, `logs`, `cancel`, `wait`.
import type { Command } from 'commander';
import { formatDuration } from '../../core/quantity.js';
import type { TaskState } from '../../core/types.js';
import { FastGpuApiError } from '../../sdk/errors.js';
import { isTerminal } from '../../sdk/types.js';
import type { LogChunkView, PoolEvent, TaskView } from '../../sdk/types.js';
import { contextOf, type CliContext } from '../context.js';
import { cancelArray, isArrayId, psArrayTable, psRows, waitArray } from './arrays.js';
import { UsageError, clientFor, durationFlag, intFlag, outputFlag, withConnection, withOutput } from '../flags.js';
import { LastLines, logWriter } from '../logs.js';
import { detachMessage, watchProgress, type Progress } from '../progress.js';
import { age, clock, dash, placedGpus, placedOn, requestColumn, requestedGpus, table } from '../format.js';

const STATES: readonly TaskState[] = ['PENDING', 'SCHEDULED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'PREEMPTED', 'LOST'];
/** The states a task can still be cancelled in. */
const LIVE_STATES: readonly TaskState[] = ['PENDING', 'SCHEDULED', 'RUNNING'];

export function register(program: Command): void {
  withOutput(withConnection(program.command('ps')))
    .description('list tasks: live ones and the last 100 finished (--all: every task)')
    .option('-a, --all', 'every task, finished ones included')
    .option('--state <states>', 'only these states, comma separated (e.g. PENDING,RUNNING)')
    .option('--vgpu <id>', 'only the tasks run in this vGPU')
    .action(async (raw: { all?: boolean; state?: string; vgpu?: string; output?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const output = outputFlag(raw.output);
      const states = raw.state === undefined ? undefined : parseStates(raw.state);
      const list = await clientFor(cmd).tasks.list({
        ...(raw.all ? { all: true } : {}),
        ...(states ? { state: states } : {}),
        ...(raw.vgpu !== undefined ? { vgpu: raw.vgpu } : {}),
      });
      if (output === 'json') return void ctx.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
      // An array's elements are one row (arrays.ts).
      if (list.some((t) => t.array)) return void ctx.stdout.write(psArrayTable(await psRows(clientFor(cmd), list)));
      ctx.stdout.write(psTable(list));
    });

  withOutput(withConnection(program.command('get')))
    .description('show one task with its attempts')
    .argument('<id>', 'task id')
    .action(async (id: string, raw: { output?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const output = outputFlag(raw.output);
      const t = await clientFor(cmd).tasks.get(id);
      if (output === 'json') return void ctx.stdout.write(`${JSON.stringify(t, null, 2)}\n`);
      const lines: [string, string][] = [
        ['id', t.id],
        ['name', t.name],
        ['state', t.state + (t.reason ? ` (${t.reason}${t.reasonMessage ? `: ${t.reasonMessage}` : ''})` : '')],
        ['exit code', dash(t.exitCode)],
        ['priority', String(t.priority)],
        ['command', (t.spec?.command ?? []).map((a) => (/[\s'"]/.test(a) ? JSON.stringify(a) : a)).join(' ')],
        ['request', requestColumn(t) === '-' ? 'no GPU' : `${requestColumn(t)} GPU`],
        ['placed on', placedOn(t.placement)],
        ['created', dash(t.createdAt)],
        ['started', dash(t.startedAt)],
        ['finished', dash(t.finishedAt)],
        ['attempts', String(t.attempts)],
        // A limit the task did not set came from its tenant's or the pool's default.
        ['time limit', t.spec?.timeLimitMs !== undefined ? formatDuration(t.spec.timeLimitMs) : 'none'],
      ];
      if (t.vgpuId) lines.push(['vgpu', t.vgpuId]);
      // Issue 16: each output and the dataset version it made (pending until the upload commits).
      for (const [i, o] of (t.outputs ?? []).entries()) lines.push([i === 0 ? 'outputs' : '', `${o.path} → ${o.dataset}${o.version !== null ? `@${o.version}` : isTerminal(t.state) ? ' (none made)' : t.reason === 'Uploading' ? ' (uploading)' : ' (after a successful exit)'}`]);
      ctx.stdout.write(lines.map(([k, v]) => `${(k ? `${k}:` : '').padEnd(12)}${v}`).join('\n') + '\n');
      if (t.history.length > 0) {
        ctx.stdout.write(
          '\n' +
            table(
              ['ATTEMPT', 'NODE', 'GPU', 'OUTCOME', 'EXIT', 'STARTED', 'ENDED'],
              t.history.map((a) => [
                String(a.attempt),
                a.node ?? a.placement?.node ?? a.nodeId,
                a.placement ? placedGpus(a.placement) : '-',
                dash(a.outcome ?? 'live'),
                dash(a.exitCode),
                time(a.startedAt),
                time(a.endedAt),
              ]),
            ),
        );
      }
    });

  withOutput(withConnection(program.command('events')))
    .description("show a task's history: every event stored for it, oldest first")
    .argument('<id>', 'task id')
    .action(async (id: string, raw: { output?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const output = outputFlag(raw.output);
      const client = clientFor(cmd);
      const events: PoolEvent[] = [];
      for await (const e of client.tasks.eventHistory(id)) events.push(e);
      if (output === 'json') return void ctx.stdout.write(`${JSON.stringify(events, null, 2)}\n`);
      // Nodes by name rather than id, when the history names any.
      const names = new Map<string, string>();
      if (events.some((e) => e.nodeId !== undefined)) for (const n of await client.nodes()) names.set(n.id, n.name);
      ctx.stdout.write(eventsTable(events, names));
    });

  withConnection(program.command('logs'))
    .description("print a task's output (stdout to stdout, stderr to stderr)")
    .argument('<id>', 'task id')
    .option('-f, --follow', 'keep printing until the task ends, then say how it ended')
    .option('-n, --tail <lines>', 'only the last N lines (with -f: then follow on)')
    .option('-t, --timestamps', 'start each line with the time it was recorded (UTC, ISO 8601)')
    .action(async (id: string, raw: { follow?: boolean; tail?: string; timestamps?: boolean }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const client = clientFor(cmd);
      const tail = raw.tail === undefined ? undefined : intFlag(raw.tail, '--tail', 0, 1_000_000);
      const out = logWriter(ctx, raw.timestamps === true);
      let after: number | undefined;
      if (!raw.follow || tail !== undefined) {
        let any = false;
        const kept = tail === undefined ? undefined : new LastLines(tail);
        for await (const c of client.tasks.history(id)) {
          any = true;
          after = c.pos;
          if (kept) kept.add(c);
          else out.write(c);
        }
        if (kept) for (const c of kept.chunks()) out.write(c);
        out.flush();
        if (!any && !raw.follow) {
          const { prunedAt } = await client.tasks.logs(id);
          if (prunedAt !== undefined) ctx.stderr.write(`fastgpu: the logs of ${id} were deleted at ${prunedAt} (log retention)\n`);
        }
        if (!raw.follow) return;
      }
      const ac = new AbortController();
      const off = ctx.onInterrupt(() => ac.abort());
      try {
        for await (const c of client.tasks.follow(id, { signal: ac.signal, ...(after !== undefined ? { after } : {}) })) out.write(c);
        out.flush();
        // The stream ends when the task does: say how, unless it simply succeeded.
        const t = await client.tasks.get(id);
        if (t.state !== 'SUCCEEDED') ctx.stderr.write(`fastgpu: task ${t.id} ended ${t.state}${t.exitCode !== null ? ` (exit ${t.exitCode})` : ''}${t.reasonMessage ? `: ${t.reasonMessage}` : ''}\n`);
      } catch (e) {
        if (!ac.signal.aborted) throw e;
        out.flush();
        ctx.exitCode = 130;
      } finally {
        off();
      }
    });

  withConnection(program.command('cancel'))
    .description('cancel tasks: by id, every live one (--all), or those in some states (--state)')
    .argument('[ids...]', 'task ids')
    .option('-a, --all', 'every task still pending or running (yours; an admin: the whole pool)')
    .option('--state <states>', 'only tasks in these states, comma separated (e.g. PENDING)')
    .action(async (given: string[], raw: { all?: boolean; state?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const client = clientFor(cmd);
      const states = raw.state === undefined ? undefined : parseStates(raw.state);
      if (given.length > 0 && (raw.all || states)) throw new UsageError('cancel: give task ids, or --all/--state, not both');
      if (given.length === 0 && !raw.all && !states) throw new UsageError('cancel: give task ids, --all (every live task) or --state STATES');
      let ids = given;
      if (given.length === 0) {
        const live = states ?? LIVE_STATES;
        const ended = live.filter((st) => !LIVE_STATES.includes(st));
        if (ended.length > 0) throw new UsageError(`--state: ${ended.join(', ')} tasks have ended; only ${LIVE_STATES.join(', ')} can be cancelled`);
        ids = (await client.tasks.list({ state: [...live], all: true })).map((t) => t.id);
        if (ids.length === 0) return void ctx.stderr.write(`fastgpu: no ${live.join('/')} task to cancel\n`);
      }
      for (const id of ids) {
        try {
          if (isArrayId(id)) {
            await cancelArray(ctx, client, id);
            continue;
          }
          const t = await client.tasks.cancel(id);
          // A running task ends once its agent has stopped it: say so rather than print RUNNING.
          ctx.stdout.write(`${t.id} ${t.state === 'CANCELLED' ? 'CANCELLED' : `cancelling (was ${t.state}; its agent stops it)`}\n`);
        } catch (e) {
          if (!(e instanceof FastGpuApiError) || e.code === 'NETWORK' || e.code === 'UNAUTHENTICATED' || e.code === 'NOT_CONFIGURED') throw e;
          ctx.stderr.write(`fastgpu: ${id}: ${e.message}\n`);
          ctx.exitCode = 1;
        }
      }
    });

  withConnection(program.command('wait'))
    .description("wait until a task ends; exits with the task's exit code")
    .argument('<id>', 'task id')
    .option('--timeout <duration>', 'give up after this long (e.g. 90s, 2h)')
    .action(async (id: string, raw: { timeout?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const timeoutMs = raw.timeout === undefined ? undefined : durationFlag(raw.timeout, '--timeout');
      const client = clientFor(cmd);
      if (isArrayId(id)) return waitArray(ctx, client, id, timeoutMs);
      const ac = new AbortController();
      const off = ctx.onInterrupt(() => ac.abort());
      let progress: Progress | undefined;
      try {
        const first = await client.tasks.get(id);
        progress = isTerminal(first.state) ? undefined : watchProgress(ctx, client, first);
        const t = await client.tasks.wait(id, { signal: ac.signal, ...(timeoutMs !== undefined ? { timeoutMs } : {}) });
        progress?.stop();
        ctx.stdout.write(`${t.id} ${t.state}${t.exitCode !== null ? ` exit ${t.exitCode}` : ''}\n`);
        ctx.exitCode = taskExitCode(t, ctx);
      } catch (e) {
        progress?.stop();
        if (!ac.signal.aborted) throw e;
        if (progress) ctx.stderr.write(`\nfastgpu: stopped waiting; ${detachMessage(progress.last()).replace(/^detached; /, '')}\n`);
        ctx.exitCode = 130;
      } finally {
        progress?.stop();
        off();
      }
    });
}

function parseStates(raw: string): TaskState[] {
  const out: TaskState[] = [];
  for (const part of raw.split(',')) {
    const s = part.trim().toUpperCase();
    if (!STATES.includes(s as TaskState)) throw new UsageError(`--state: ${JSON.stringify(part)} is not a task state; use ${STATES.join(', ')}`);
    out.push(s as TaskState);
  }
  return out;
}

/**
 * `ps` rows. STARTED and ENDED (the latest attempt's, local clock time) show what ran when and
 * one after another; a VGPU column appears when a listed task runs inside a vGPU, so tasks that
 * shared one slice read as such.
 */
export function psTable(list: readonly TaskView[], now = Date.now()): string {
  const withVgpu = list.some((t) => t.vgpuId);
  const header = ['ID', 'NAME', 'STATE', 'REASON', 'PRI', 'REQUEST', ...(withVgpu ? ['VGPU'] : []), 'PLACED', 'STARTED', 'ENDED', 'AGE'];
  return table(
    header,
    list.map((t) => [
      t.id,
      t.name,
      t.state,
      dash(t.reason),
      String(t.priority),
      t.vgpuId ? requestedGpus(t.spec?.resources?.gpu ?? null) : requestColumn(t),
      ...(withVgpu ? [dash(t.vgpuId)] : []),
      placedOn(t.placement),
      clock(t.startedAt, now),
      clock(t.finishedAt, now),
      age(t.createdAt, now),
    ]),
  );
}


/**
 * A task's history as a table: time, event type, node (by name where known), and the event's
 * data as `key=value` pairs.
 * @example eventsTable(events, new Map([['n_1', 'box']]))
 */
export function eventsTable(events: readonly PoolEvent[], nodeNames: ReadonlyMap<string, string> = new Map()): string {
  return table(
    ['TIME', 'TYPE', 'NODE', 'DETAILS'],
    events.map((e) => {
      const node = e.nodeId !== undefined ? (nodeNames.get(e.nodeId) ?? (typeof e.data.node === 'string' ? e.data.node : e.nodeId)) : '-';
      return [new Date(e.at).toISOString(), e.type, node, details(e.data, node)];
    }),
  );
}

/** `attempt=1 gpus=[0] state=SUCCEEDED`: empty values left out, and the node the NODE column shows. */
function details(data: Record<string, unknown>, node: string): string {
  const out: string[] = [];
  for (const [k, v] of Object.entries(data)) {
    if (v === null || v === undefined || v === '' || (k === 'node' && v === node)) continue;
    out.push(`${k}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v)}`);
  }
  return out.join(' ');
}

export function writeChunk(ctx: CliContext, c: LogChunkView): void {
  (c.stream === 'stderr' ? ctx.stderr : ctx.stdout).write(c.data);
}

/** The exit code a finished task stands for: its own, or 1 (with a line saying why) when it has none. */
export function taskExitCode(t: TaskView, ctx: CliContext): number {
  if (t.state === 'SUCCEEDED') return t.exitCode ?? 0;
  if (t.exitCode !== null && t.exitCode !== 0 && t.state === 'FAILED') {
    // The task's own output says why it exited; a launch failure (bad workdir, no such
    // command) happened before there was any, so say it here.
    if (t.reasonMessage?.startsWith('Launch failed')) ctx.stderr.write(`fastgpu: task ${t.id}: ${t.reasonMessage}\n`);
    return t.exitCode;
  }
  const why = t.reasonMessage ?? (t.exitCode !== null ? `exit code ${t.exitCode}` : undefined);
  ctx.stderr.write(`fastgpu: task ${t.id} ended ${t.state}${why ? `: ${why}` : ''}\n`);
  return 1;
}

function time(v: string | number | null | undefined): string {
  if (v === null || v === undefined) return '-';
  return typeof v === 'number' ? new Date(v).toISOString() : v;
}
