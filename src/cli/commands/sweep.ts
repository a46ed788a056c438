// `fastgpu sweep FILE.yaml` starts a hyper-parameter sweep (- reads stdin);
// `fastgpu sweep ls|status ID|best ID|cancel ID` follow and stop it.
import { readFile, stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { parse } from 'yaml';
import type { SweepDetail, SweepInput, SweepSummary, TrialView } from '../../sdk/sweeps.js';
import { MAX_YAML_ALIASES } from '../../util/nesting.js';
import { contextOf, type CliContext } from '../context.js';
import { UsageError, clientFor, outputFlag, withConnection, withOutput } from '../flags.js';
import { dash, gpuAmount, mib, table } from '../format.js';

const MAX_SWEEP_FILE_BYTES = 1024 * 1024;
const VERBS = ['ls', 'status', 'best', 'cancel'] as const;

async function readSweepFile(ctx: CliContext, file: string): Promise<SweepInput> {
  let text: string;
  if (file === '-') {
    const parts: Buffer[] = [];
    for await (const c of ctx.stdin) parts.push(typeof c === 'string' ? Buffer.from(c) : c);
    text = Buffer.concat(parts).toString('utf8');
  } else {
    try {
      const st = await stat(file);
      if (st.isDirectory()) throw new UsageError(`${file}: is a directory, not a sweep file`);
      if (st.size > MAX_SWEEP_FILE_BYTES) throw new UsageError(`${file}: ${st.size} bytes; a sweep file may be at most 1 MiB`);
      text = await readFile(file, 'utf8');
    } catch (e) {
      if (e instanceof UsageError) throw e;
      throw new UsageError(`${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
    }
  }
  let doc: unknown;
  try {
    doc = parse(text, { maxAliasCount: MAX_YAML_ALIASES });
  } catch (e) {
    throw new UsageError(`${file}: not YAML or JSON: ${(e as Error).message.split('\n')[0]}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new UsageError(`${file}: a sweep file is one mapping (command, space, trials, metric, …)`);
  return doc as SweepInput;
}

const fmt = (v: number): string => (Number.isInteger(v) ? String(v) : Math.abs(v) < 1e-3 || Math.abs(v) >= 1e6 ? v.toExponential(3) : v.toPrecision(4));
const paramsText = (p: TrialView['params']): string =>
  Object.entries(p)
    .map(([k, v]) => `${k}=${typeof v === 'number' ? fmt(v) : String(v)}`)
    .join(' ');

/** The status page as text: a header line, counts, then a row per trial. */
export function sweepStatusText(d: SweepDetail): string {
  const s = d.sweep;
  const counts = Object.entries(d.counts)
    .map(([k, n]) => `${n} ${k.toLowerCase()}`)
    .join(', ');
  const cap = d.costCap !== null ? ` of cap ${d.costCap.toFixed(2)}` : '';
  const head = `sweep ${s.id} (${s.name}): ${s.state}, ${s.nextTrial}/${s.trials} trials started${counts ? ` (${counts})` : ''}; ${d.goal} ${d.metric}; cost ${d.cost.toFixed(2)} ${d.currency}${cap}${s.message ? `; ${s.message}` : ''}\n`;
  const rows = d.trials.map((t) => [
    String(t.index),
    t.taskId,
    t.state,
    t.slice ? `${gpuAmount(t.slice.gpuMilli)} GPU ${mib(t.slice.memoryMiB)}` : '-',
    t.cost.toFixed(4),
    t.best ? fmt(t.best.value) : '-',
    dash(t.lastStep),
    paramsText(t.params),
  ]);
  const best = d.best ? `best: trial ${d.best.index} ${d.metric}=${fmt(d.best.best!.value)} at step ${d.best.best!.step} (${paramsText(d.best.params)})\n` : 'best: none yet (no trial has reported the metric)\n';
  return head + table(['TRIAL', 'TASK', 'STATE', 'SLICE', 'COST', `BEST ${d.metric.toUpperCase()}`, 'STEP', 'PARAMS'], rows) + best;
}

function listText(list: SweepSummary[]): string {
  if (list.length === 0) return 'no sweeps\n';
  return table(
    ['SWEEP', 'NAME', 'STATE', 'TRIALS', 'TENANT'],
    list.map((s) => [s.id, s.name, s.state, `${s.nextTrial}/${s.trials}`, s.tenant]),
  );
}

export function register(program: Command): void {
  withOutput(withConnection(program.command('sweep')))
    .description('start a hyper-parameter sweep from a YAML file; or: sweep ls | status ID | best ID | cancel ID')
    .argument('<file-or-verb>', 'sweep file (- reads stdin), or ls, status, best, cancel')
    .argument('[id]', 'the sweep id, for status, best and cancel')
    .option('--tenant <name>', 'start it for this tenant (admins)')
    .action(async (what: string, id: string | undefined, raw: { output?: string; tenant?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const output = outputFlag(raw.output);
      const client = clientFor(cmd);
      const out = (json: unknown, text: string): void => void ctx.stdout.write(output === 'json' ? `${JSON.stringify(json, null, 2)}\n` : text);
      if ((VERBS as readonly string[]).includes(what)) {
        if (what === 'ls') {
          const list = await client.sweeps.list();
          return out(list, listText(list));
        }
        if (id === undefined) throw new UsageError(`sweep ${what}: give the sweep id (fastgpu sweep ls lists them)`);
        if (what === 'status') {
          const d = await client.sweeps.get(id);
          return out(d, sweepStatusText(d));
        }
        if (what === 'best') {
          const d = await client.sweeps.get(id);
          if (!d.best) return out(null, `sweep ${id}: no trial has reported ${d.metric} yet\n`);
          return out(d.best, `trial ${d.best.index} (${d.best.taskId}): ${d.metric}=${fmt(d.best.best!.value)} at step ${d.best.best!.step}\n${paramsText(d.best.params)}\n`);
        }
        const s = await client.sweeps.cancel(id);
        return out(s, `sweep ${s.id}: ${s.state}\n`);
      }
      if (id !== undefined) throw new UsageError(`sweep: unexpected ${JSON.stringify(id)} after the file; give one sweep file`);
      const input = await readSweepFile(ctx, what);
      // Optuna's sampler runs in Python: the driver starts the sweep and asks for its trials.
      if ((input as { backend?: unknown }).backend === 'optuna') {
        throw new UsageError(`${what}: backend: optuna is driven from Python, where Optuna runs: python -m fastgpu.sweep_optuna ${what === '-' ? 'FILE' : what} (pip install 'fastgpu-sdk[optuna]'), or fastgpu.Sweep(..., backend="optuna").run()`);
      }
      const d = await client.sweeps.create(input, raw.tenant !== undefined ? { tenant: raw.tenant } : {});
      out(d, `${d.sweep.id}\n`);
    });
}
