// `fastgpu submit FILE [--dry-run]`: task specs from YAML or JSON (`-` reads stdin). A file may
// hold one spec, a list of specs, or several YAML documents; with more than one, all are
// checked first so that a bad one leaves none created.
import { readFile, stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { parseAllDocuments, stringify } from 'yaml';
import { MAX_YAML_ALIASES, valueNestingError, yamlNestingError } from '../../util/nesting.js';
import type { FastGPU } from '../../sdk/client.js';
import { FastGpuApiError } from '../../sdk/errors.js';
import type { Quote } from '../../sdk/billing.js';
import type { TaskSpecInput, TaskView } from '../../sdk/types.js';
import { contextOf, type CliContext } from '../context.js';
import { UsageError, clientFor, withConnection } from '../flags.js';
import { modelsOf, sliceNote } from '../slice.js';

/** Larger files are refused before reading: no task spec comes near this. */
export const MAX_SPEC_FILE_BYTES = 4 * 1024 * 1024;

export function register(program: Command): void {
  withConnection(program.command('submit'))
    .description('submit task specs from a YAML or JSON file (- reads stdin); prints the task ids')
    .argument('[file]', 'spec file, or - for stdin')
    .option('-f, --filename <file>', 'the spec file, as kubectl takes it (same as the argument)')
    .option('--dry-run', 'validate and check feasibility, print the normalised spec, create nothing')
    .action(async (given: string | undefined, raw: { dryRun?: boolean; filename?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      if (given !== undefined && raw.filename !== undefined) throw new UsageError('submit: give the file once, as an argument or with -f');
      const file = given ?? raw.filename;
      if (file === undefined) throw new UsageError('submit: no spec file given; use `fastgpu submit FILE` or `-f FILE` (- reads stdin)');
      const specs = parseSpecFile(await readSpecFile(ctx, file), file);
      const client = clientFor(cmd);
      if (raw.dryRun) return dryRun(ctx, client, specs, file);
      if (specs.length > 1) for (const [i, s] of specs.entries()) await check(client, s, label(file, i, specs.length));
      for (const [i, s] of specs.entries()) {
        const tasks = await submitOne(client, s, label(file, i, specs.length), false);
        // An array answers its first element only: its id (a_…) is what wait/cancel/array take.
        for (const t of tasks) ctx.stdout.write(`${t.array?.id ?? t.id}\n`);
      }
    });
}

async function readSpecFile(ctx: CliContext, file: string): Promise<Buffer> {
  if (file === '-') {
    const parts: Buffer[] = [];
    let size = 0;
    for await (const c of ctx.stdin) {
      const b = typeof c === 'string' ? Buffer.from(c) : c;
      size += b.length;
      if (size > MAX_SPEC_FILE_BYTES) throw new UsageError(`stdin: more than ${MAX_SPEC_FILE_BYTES / 1024 / 1024} MiB; a spec file cannot be this large`);
      parts.push(b);
    }
    return Buffer.concat(parts);
  }
  try {
    const st = await stat(file);
    if (st.isDirectory()) throw new UsageError(`${file}: is a directory, not a spec file`);
    if (st.size > MAX_SPEC_FILE_BYTES) throw new UsageError(`${file}: ${st.size} bytes; a spec file may be at most ${MAX_SPEC_FILE_BYTES / 1024 / 1024} MiB`);
    return await readFile(file);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (e as Error).message}`);
  }
}

/** The specs in a file's bytes, or a UsageError naming the file and what is wrong. */
export function parseSpecFile(bytes: Buffer, file: string): TaskSpecInput[] {
  const name = file === '-' ? 'stdin' : file;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new UsageError(`${name}: not valid UTF-8 text`);
  }
  if (text.trim() === '') throw new UsageError(`${name}: is empty; a task spec needs at least \`command\``);
  const deep = yamlNestingError(text);
  if (deep) throw new UsageError(`${name}: ${deep}`);
  const docs = parseAllDocuments(text, { uniqueKeys: true });
  if (!Array.isArray(docs)) throw new UsageError(`${name}: malformed YAML/JSON`);
  const specs: unknown[] = [];
  for (const doc of docs) {
    const err = doc.errors[0];
    if (err) throw new UsageError(`${name}: ${yamlError(err.message, err.linePos?.[0], text)}`);
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: MAX_YAML_ALIASES });
    } catch (e) {
      throw new UsageError(`${name}: malformed YAML/JSON: ${(e as Error).message}`);
    }
    const deepValue = valueNestingError(value);
    if (deepValue) throw new UsageError(`${name}: ${deepValue}`);
    if (value === null || value === undefined) continue;
    if (Array.isArray(value)) specs.push(...(value as unknown[]));
    else specs.push(value);
  }
  if (specs.length === 0) throw new UsageError(`${name}: holds no task spec`);
  for (const [i, s] of specs.entries()) {
    if (typeof s !== 'object' || s === null || Array.isArray(s)) {
      throw new UsageError(`${label(file, i, specs.length)}: a task spec must be a mapping (e.g. \`command: [python, train.py]\`), not ${Array.isArray(s) ? 'a list' : JSON.stringify(s)}`);
    }
    const bad = nonFinite(s, '');
    if (bad !== undefined) throw new UsageError(`${label(file, i, specs.length)}: ${bad.path}: ${bad.value} is not a number; use a finite value`);
  }
  return specs as TaskSpecInput[];
}

/**
 * A YAML parse error on one line, as every CLI error is: `line 2, column 1: what is wrong (at
 * "the line")`. The parser's own first line ends in a colon before a multi-line excerpt.
 */
export function yamlError(message: string, pos: { line: number; col: number } | undefined, text: string): string {
  const what = message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '').replace(/:$/, '');
  if (!pos) return `malformed YAML/JSON: ${what}`;
  const line = (text.split(/\r?\n/)[pos.line - 1] ?? '').replace(/\t/g, '\\t').trim();
  const shown = line.length > 60 ? `${line.slice(0, 57)}...` : line;
  return `line ${pos.line}, column ${pos.col}: malformed YAML/JSON: ${what}${shown ? ` (at ${JSON.stringify(shown)})` : ''}`;
}

/** The first NaN or ±Infinity (YAML's `.nan`, `.inf`), which JSON cannot carry, with its path. */
function nonFinite(v: unknown, path: string): { path: string; value: string } | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? undefined : { path: path || 'value', value: String(v) };
  if (typeof v !== 'object' || v === null) return undefined;
  for (const [k, x] of Object.entries(v)) {
    const found = nonFinite(x, Array.isArray(v) ? `${path}[${k}]` : path ? `${path}.${k}` : k);
    if (found) return found;
  }
  return undefined;
}

async function dryRun(ctx: CliContext, client: FastGPU, specs: TaskSpecInput[], file: string): Promise<void> {
  // The server checks feasibility against the nodes it knows; with none, there is nothing to check.
  const feasibility = (await client.nodes()).length > 0 ? 'fits the pool' : 'feasibility not checked: no node has joined yet';
  const gpus = await client.gpus().catch(() => []);
  for (const [i, s] of specs.entries()) {
    const tasks = await submitOne(client, s, label(file, i, specs.length), true);
    const first = tasks[0];
    if (specs.length > 1) ctx.stdout.write(`# ${label(file, i, specs.length)}\n`);
    const made = first?.array?.size ?? tasks.length;
    ctx.stdout.write(`# valid: would create ${made} task${made === 1 ? '' : 's'}${first?.array ? ' (an array)' : ''}; ${feasibility}`);
    ctx.stdout.write(first?.reason ? ` (would wait now: ${first.reason}${first.reasonMessage ? `, ${first.reasonMessage}` : ''})\n` : '\n');
    const note = sliceNote(first?.spec.resources.gpu, modelsOf(gpus), 'memory in resources.gpu (e.g. {fraction: 0.5, memory: 10GiB})');
    if (note) ctx.stdout.write(`# ${note}\n`);
    const q = await client.billing.quote(s).catch(() => null);
    if (q) ctx.stdout.write(quoteLines(q));
    if (first) ctx.stdout.write(stringify(first.spec));
    if (i < specs.length - 1) ctx.stdout.write('---\n');
  }
}

/** The price of a dry run as `#` comment lines (the output stays valid YAML). */
export function quoteLines(q: Quote): string {
  const m = (n: number): string => `${n.toFixed(2)} ${q.currency}`;
  const gpus = q.gpuCount > 1 ? `${q.gpuCount} × ${q.gpuModel}` : q.gpuMilli < 1000 ? `${q.gpuMilli / 1000} × ${q.gpuModel}` : q.gpuModel;
  const out = [`# price: ${m(q.listPerHour)}/h list (${gpus} at ${m(q.unitPrice)} per GPU-hour)`];
  if (q.promotion) out.push(`# promotion ${q.promotion.name} (${q.promotion.discount} off): ${m(q.promotion.pricePerHour)}/h until ${q.promotion.endsAt}`);
  if (q.estimate) {
    const e = q.estimate;
    const h = e.timeLimitMs / 3_600_000;
    out.push(`# estimate for the ${Number(h.toFixed(3))} h time limit: ${m(e.chargedAmount)}${e.discountAmount > 0 ? ` (list ${m(e.listAmount)}, discount ${m(e.discountAmount)})` : ''}`);
  } else out.push('# estimate: no time limit; set one (timeLimit) for a total');
  return out.join('\n') + '\n';
}

async function check(client: FastGPU, spec: TaskSpecInput, where: string): Promise<void> {
  await submitOne(client, spec, where, true);
}

async function submitOne(client: FastGPU, spec: TaskSpecInput, where: string, dryRun: boolean): Promise<TaskView[]> {
  try {
    return await client.tasks.create(spec, { dryRun });
  } catch (e) {
    if (e instanceof FastGpuApiError && e.status >= 400 && e.status < 500) {
      throw new FastGpuApiError(e.code, `${where}: ${e.message}`, e.status, e.field);
    }
    throw e;
  }
}

function label(file: string, i: number, n: number): string {
  const name = file === '-' ? 'stdin' : file;
  return n > 1 ? `${name} (spec ${i + 1})` : name;
}
