// A sweep file (YAML or JSON, already parsed) → a validated SweepSpec. zod checks the shape and
// rejects unknown fields; every error is an INVALID_ARGUMENT whose `field` names the culprit,
// including a search space that cannot be sampled (an empty choice, low ≥ high, a log range
// through zero, more grid points than trials).
import { z } from 'zod';
import { FastGpuError, invalid } from '../errors.js';
import { parseMoney } from '../pricing/money.js';
import { parseTaskSpec } from '../spec.js';
import type { TaskSpec } from '../types.js';
import { gridSize } from './sample.js';
import type { EarlyStopping, ParamSpec, SweepSpec } from './types.js';

export const MAX_TRIALS = 10_000;
const PARAM_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const MAX_PARAMS = 64;

const value = z.union([z.string().max(1024), z.number(), z.boolean()]);
const range = z.tuple([z.number(), z.number()]);
const paramSchema = z.union([
  z.array(value),
  z.strictObject({ grid: z.array(value) }),
  z.strictObject({ choice: z.array(value) }),
  z.strictObject({ uniform: range, int: z.boolean().optional() }),
  z.strictObject({ loguniform: range, int: z.boolean().optional() }),
]);

/** A sweep file's shape (what the API documents; parseSweepSpec checks the rest). */
export const SweepFileSchema = z.strictObject({
  name: z.string().max(100).optional(),
  command: z.union([z.string(), z.array(z.string())]),
  env: z.record(z.string(), z.string()).optional(),
  workdir: z.string().optional(),
  time_limit: z.union([z.string(), z.number()]).optional(),
  space: z.record(z.string(), paramSchema).optional(),
  trials: z.number().int().optional(),
  max_concurrent: z.number().int().optional(),
  gpu: z.union([z.number(), z.string(), z.record(z.string(), z.unknown())]).optional(),
  memory: z.union([z.string(), z.number()]).optional(),
  cpu: z.union([z.string(), z.number()]).optional(),
  host_memory: z.union([z.string(), z.number()]).optional(),
  priority: z.number().int().min(0).max(100).optional(),
  retries: z.number().int().min(0).max(100).optional(),
  preemptible: z.boolean().optional(),
  metric: z.union([z.string(), z.strictObject({ name: z.string(), goal: z.enum(['minimize', 'maximize']).optional() })]),
  goal: z.enum(['minimize', 'maximize']).optional(),
  early_stopping: z
    .strictObject({
      rule: z.enum(['none', 'median', 'asha']),
      min_steps: z.number().int().min(0).optional(),
      min_trials: z.number().int().min(1).optional(),
      min_step: z.number().int().min(1).optional(),
      max_step: z.number().int().min(1).optional(),
      reduction_factor: z.number().int().min(2).max(100).optional(),
    })
    .optional(),
  cost_cap: z.union([z.string(), z.number()]).optional(),
  seed: z.number().int().min(0).max(0xffffffff).optional(),
  backend: z.enum(['native', 'optuna']).optional(),
});

function zodField(issue: z.core.$ZodIssue | undefined): string {
  return issue && issue.path.length > 0 ? issue.path.map(String).join('.') : 'sweep';
}

function parseParam(name: string, raw: z.infer<typeof paramSchema>): ParamSpec {
  const field = `space.${name}`;
  if (!PARAM_NAME_RE.test(name)) throw invalid(field, 'a parameter name is a letter or _ then letters, digits or _ (at most 64), so it can name an environment variable');
  const nonEmpty = (values: readonly (string | number | boolean)[], kind: string): void => {
    if (values.length === 0) throw invalid(`${field}.${kind}`, 'has no values: nothing can be sampled from it');
    if (values.some((v) => typeof v === 'number' && !Number.isFinite(v))) throw invalid(`${field}.${kind}`, 'values must be finite numbers');
  };
  if (Array.isArray(raw)) {
    nonEmpty(raw, 'grid');
    return { kind: 'grid', values: raw };
  }
  if ('grid' in raw) {
    nonEmpty(raw.grid, 'grid');
    return { kind: 'grid', values: raw.grid };
  }
  if ('choice' in raw) {
    nonEmpty(raw.choice, 'choice');
    return { kind: 'choice', values: raw.choice };
  }
  const log = 'loguniform' in raw;
  const kind = log ? 'loguniform' : 'uniform';
  const [low, high] = log ? raw.loguniform : raw.uniform;
  const f = `${field}.${kind}`;
  if (!Number.isFinite(low) || !Number.isFinite(high)) throw invalid(f, 'bounds must be finite numbers');
  if (!(low < high)) throw invalid(f, `[${low}, ${high}]: low must be below high`);
  if (log && low <= 0) throw invalid(f, `[${low}, ${high}]: a log-uniform range must be above 0 (log of ${low} is undefined)`);
  const integer = raw.int ?? false;
  if (integer && Math.ceil(low) > Math.floor(high)) throw invalid(f, `[${low}, ${high}] holds no integer`);
  return { kind, low, high, integer };
}

function parseStopping(raw: z.infer<typeof SweepFileSchema>['early_stopping']): EarlyStopping {
  if (!raw || raw.rule === 'none') return { kind: 'none' };
  if (raw.rule === 'median') return { kind: 'median', minSteps: raw.min_steps ?? 1, minTrials: raw.min_trials ?? 3 };
  const minStep = raw.min_step ?? 1;
  const maxStep = raw.max_step ?? 100;
  if (maxStep <= minStep) throw invalid('early_stopping.max_step', `${maxStep} must be above min_step ${minStep}`);
  return { kind: 'asha', minStep, maxStep, reductionFactor: raw.reduction_factor ?? 3 };
}

/** The task fields of the sweep file, in the task spec's own form (so they are parsed the same way). */
function templateInput(s: z.infer<typeof SweepFileSchema>, name: string): Record<string, unknown> {
  let gpu: unknown = s.gpu ?? 1;
  if (s.memory !== undefined) {
    if (typeof gpu === 'number') gpu = gpu < 1 ? { fraction: gpu, memory: s.memory } : { count: gpu, memory: s.memory };
    else if (typeof gpu === 'object' && gpu !== null) gpu = { ...gpu, memory: s.memory };
    else throw invalid('memory', 'give memory with a numeric gpu (gpu: 0.25, memory: 10GiB) or inside a gpu object');
  }
  const resources: Record<string, unknown> = { gpu };
  if (s.cpu !== undefined) resources.cpu = s.cpu;
  if (s.host_memory !== undefined) resources.memory = s.host_memory;
  return {
    name,
    command: s.command,
    resources,
    ...(s.env !== undefined ? { env: s.env } : {}),
    ...(s.workdir !== undefined ? { workdir: s.workdir } : {}),
    ...(s.time_limit !== undefined ? { timeLimit: s.time_limit } : {}),
    ...(s.priority !== undefined ? { priority: s.priority } : {}),
    ...(s.retries !== undefined ? { retries: s.retries } : {}),
    ...(s.preemptible !== undefined ? { preemptible: s.preemptible } : {}),
  };
}

/** The task spec's field names as the sweep file spells them. */
function sweepField(field: string): string {
  if (field === 'resources.gpu.memory') return 'memory';
  if (field.startsWith('resources.gpu')) return field.replace('resources.gpu', 'gpu');
  if (field === 'resources.cpu') return 'cpu';
  if (field === 'resources.memory') return 'host_memory';
  if (field === 'timeLimit') return 'time_limit';
  return field;
}

/**
 * Validate and compile a sweep file.
 * @example parseSweepSpec({command: 'python train.py --lr {lr}', space: {lr: {loguniform: [1e-5, 1e-1]}}, trials: 32, gpu: 0.25, metric: 'loss'}, {tenant: 'default'})
 */
export function parseSweepSpec(input: unknown, ctx: { tenant: string; defaultTimeLimitMs?: number }): SweepSpec {
  const r = SweepFileSchema.safeParse(input);
  if (!r.success) {
    const issue = r.error.issues[0];
    const field = zodField(issue);
    throw invalid(field, issue?.message ?? 'is not a valid sweep');
  }
  const s = r.data;
  const rawSpace = s.space ?? {};
  const names = Object.keys(rawSpace);
  if (names.length > MAX_PARAMS) throw invalid('space', `${names.length} parameters: at most ${MAX_PARAMS}`);
  const space: Record<string, ParamSpec> = {};
  for (const name of names) space[name] = parseParam(name, rawSpace[name]!);

  const points = gridSize(space);
  const hasSampled = Object.values(space).some((p) => p.kind !== 'grid');
  if (points > MAX_TRIALS) throw invalid('space', `the grid has ${points} points: at most ${MAX_TRIALS}`);
  let trials = s.trials;
  if (trials === undefined) {
    if (hasSampled || names.length === 0) throw invalid('trials', 'is required when the space has sampled (non-grid) parameters or none at all');
    trials = points;
  }
  if (trials < 1 || trials > MAX_TRIALS) throw invalid('trials', `${trials}: must be from 1 to ${MAX_TRIALS}`);
  if (trials < points) throw invalid('trials', `${trials} is fewer than the grid's ${points} points; raise trials or shrink the grid`);
  const maxConcurrent = s.max_concurrent ?? trials;
  if (maxConcurrent < 1) throw invalid('max_concurrent', `${maxConcurrent}: must be at least 1`);

  const metric = typeof s.metric === 'string' ? s.metric : s.metric.name;
  if (!PARAM_NAME_RE.test(metric)) throw invalid('metric', `${JSON.stringify(metric)}: a metric name is a letter or _ then letters, digits or _`);
  const goal = (typeof s.metric === 'object' ? s.metric.goal : undefined) ?? s.goal ?? 'minimize';

  const name = s.name ?? 'sweep';
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw invalid('name', `${JSON.stringify(name)}: use letters, digits, . _ -`);
  let template: TaskSpec;
  try {
    template = parseTaskSpec(templateInput(s, name), ctx);
  } catch (e) {
    if (e instanceof FastGpuError && e.field !== undefined) {
      const f = sweepField(e.field);
      throw new FastGpuError(e.code, e.message.replace(e.field, f), f);
    }
    throw e;
  }
  if (template.gang > 1) throw invalid('gang', 'a trial is one task');
  return {
    name,
    space,
    trials,
    maxConcurrent: Math.min(maxConcurrent, trials),
    objective: { metric, goal },
    earlyStopping: parseStopping(s.early_stopping),
    costCap: s.cost_cap !== undefined ? parseMoney(s.cost_cap, 'cost_cap') : null,
    seed: s.seed ?? 0,
    backend: s.backend ?? 'native',
    template,
  };
}
