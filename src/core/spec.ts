// The task spec a user submits (YAML or JSON, already parsed) → a validated, defaulted TaskSpec.
// zod checks the shape (and rejects unknown fields); the quantity parsers and the catalogue
// read the values. Every error is an INVALID_ARGUMENT whose `field` is the dotted path.
import { z } from 'zod';
import { checkExecLimits } from './argv-limits.js';
import { requireGpuModel } from './catalogue.js';
import { FastGpuError, invalid } from './errors.js';
import { parseCpu, parseDuration, parseSize } from './quantity.js';
import { closest } from './suggest.js';
import { parseInputs } from './data/io-spec.js';
import { parseOutputs } from './data/outputs-spec.js';
import { MILLI_PER_GPU, type GpuRequest, type GpuShare, type TaskSpec } from './types.js';

/** Most GPUs one task may ask for (one node's worth, generously). */
export const MAX_GPUS_PER_TASK = 64;
export const MAX_NAME_LENGTH = 128;
export const DEFAULT_PRIORITY = 50;
// A quarter core: enough for a launcher that feeds a GPU, and small enough that four 0.25 GPU
// slices pack on one GPU of a laptop-sized node (2 cores) with no --cpu on each task.
export const DEFAULT_CPU_MILLI = 250;
export const DEFAULT_MEMORY_MIB = 1024;
const MAX_GANG = 1024;
const MAX_RETRIES = 100;
// Beyond these a spec is a mistake or an attack, not a task.
const MAX_ARGS = 4096;
const MAX_ENV = 1024;

const NAME_RE = /^[A-Za-z0-9._-]+$/;
const ENV_KEY_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
// The launcher sets these for every task; a user value would silently escape or confuse the
// slice. Other CUDA_ variables (CUDA_LAUNCH_BLOCKING, CUDA_HOME, …) are the user's to set.
const RESERVED_ENV_PREFIXES = ['FASTGPU_', 'CUDA_MPS_'];
const RESERVED_ENV_NAMES = ['CUDA_VISIBLE_DEVICES', 'CUDA_DEVICE_ORDER', 'NVIDIA_VISIBLE_DEVICES'];

const wholeIn = (min: number, max: number) => {
  const error = `must be a whole number from ${min} to ${max}`;
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
};
const quantity = (error: string) => z.union([z.string(), z.number()], { error });

export const resourcesSchema = z.strictObject(
  {
    gpu: z.unknown().optional(),
    cpu: quantity('must be cores (2, 0.5) or milli-cores ("500m")').nullish(),
    memory: quantity('must be a size such as "4GiB"').nullish(),
  },
  { error: 'must be an object with gpu, cpu and memory' },
);

/** The task spec's shape as parseTaskSpec validates it (and as /v1/openapi.json states it). */
export const specSchema = z.strictObject(
  {
    name: z.string({ error: 'must be a string' }).nullish(),
    command: z.union([z.string(), z.array(z.string())], {
      error: (iss) =>
        iss.input === undefined
          ? 'is missing; give the command to run, as a string (run with sh -c) or a list of strings (argv)'
          : 'must be a string (run with sh -c) or a list of strings (argv)',
    }),
    env: z.record(z.string(), z.string({ error: 'must be a string (quote numbers and booleans)' }), {
      error: 'must be an object of NAME: "value"',
    }).nullish(),
    workdir: z.string({ error: 'must be an absolute path' }).nullish(),
    resources: resourcesSchema.nullish(),
    priority: wholeIn(0, 100).nullish(),
    timeLimit: quantity('must be a duration such as "2h" or "90s"').nullish(),
    retries: wholeIn(0, MAX_RETRIES).nullish(),
    preemptible: z.boolean({ error: 'must be true or false' }).nullish(),
    gang: wholeIn(1, MAX_GANG).nullish(),
    vgpu: z.string({ error: 'must be a vGPU id' }).nullish(),
    // Data inputs (issue 16): checked by parseInputs (data/io-spec.ts).
    inputs: z.unknown().optional(),
    // Data outputs (issue 16): checked by parseOutputs (data/outputs-spec.ts).
    outputs: z.unknown().optional(),
  },
  { error: 'a task spec must be an object (a mapping of fields)' },
);

/** The body of POST /v1/vgpus as parseVgpuRequest validates it (and as /v1/openapi.json states it). */
export const vgpuSchema = z.strictObject(
  {
    name: z.string({ error: 'must be a string' }).nullish(),
    gpu: quantity('must be 1, a fraction such as 0.5, or "MODEL:0.5"').nullish(),
    memory: quantity('must be a size such as "20GiB"').nullish(),
    tflops: z.number({ error: 'must be a positive number' }).nullish(),
    model: z.string({ error: 'must be a GPU model name' }).nullish(),
  },
  { error: 'a vGPU request must be an object' },
);

export const gpuObjectSchema = z.strictObject(
  {
    count: z.number({ error: 'must be a whole number' }).nullish(),
    model: z.string({ error: 'must be a GPU model name' }).nullish(),
    fraction: z.number({ error: 'must be a number between 0 and 1' }).nullish(),
    memory: quantity('must be a size such as "20GiB"').nullish(),
    tflops: z.number({ error: 'must be a positive number' }).nullish(),
  },
  { error: 'must be an object' },
);

/** Every field name a spec, a resource request or a GPU request knows, for "did you mean". */
const KNOWN_FIELDS = [
  // `array`, `after` and `inputs` are read off the body before the spec (server/arrays-submit.ts, issue 14).
  ...new Set([...Object.keys(specSchema.shape), ...Object.keys(resourcesSchema.shape), ...Object.keys(gpuObjectSchema.shape), ...Object.keys(vgpuSchema.shape), 'array', 'after', 'inputs', 'reduce']),
];

/** The first zod issue as a FastGpuError whose field is `prefix` + the issue's dotted path. */
function fromZod(error: z.ZodError, prefix: string | undefined, root: string): FastGpuError {
  const issue = error.issues[0];
  const join = (path: readonly PropertyKey[]): string =>
    [prefix, ...path.map(String)].filter((p) => p !== undefined && p !== '').join('.');
  if (!issue) return invalid(prefix ?? root, 'is invalid');
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0] ?? '';
    const field = join([...issue.path, key]);
    const near = closest(key, KNOWN_FIELDS.filter((k) => k !== key));
    return invalid(field, `unknown field ${JSON.stringify(key)}${near ? `; did you mean ${near}?` : ''}`);
  }
  const field = join(issue.path) || root;
  return invalid(field, issue.message);
}

function hasNul(s: string): boolean {
  return s.includes('\0');
}

/** Replace what a name may not hold with `-`; what is left is a valid task name, or ''. */
function sanitiseName(raw: string): string {
  return raw
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^[-.]+|-+$/g, '')
    .slice(0, MAX_NAME_LENGTH);
}

function checkName(name: string, field: string): string {
  if (name.length === 0 || name.length > MAX_NAME_LENGTH || !NAME_RE.test(name)) {
    throw invalid(field, `${JSON.stringify(name.slice(0, 40))} is not a valid name; use 1 to ${MAX_NAME_LENGTH} characters from A-Z a-z 0-9 . _ -`);
  }
  return name;
}

function defaultName(command: readonly string[], fromString: string | undefined): string {
  // A string command names the task after its first word; argv after its program's basename.
  const first = fromString !== undefined ? (fromString.trim().split(/\s+/)[0] ?? '') : (command[0] ?? '');
  const base = first.split('/').filter((p) => p !== '').pop() ?? '';
  return sanitiseName(base) || 'task';
}

function parseCommand(input: string | string[]): string[] {
  if (typeof input === 'string') {
    if (input.trim() === '') throw invalid('command', 'is empty; give a command line or a list of arguments');
    if (hasNul(input)) throw invalid('command', 'must not contain NUL characters');
    return ['sh', '-c', input];
  }
  if (input.length === 0) throw invalid('command', 'is empty; give a command line or a list of arguments');
  if (input.length > MAX_ARGS) throw invalid('command', `has ${input.length} arguments; at most ${MAX_ARGS} are allowed`);
  if (input[0]!.trim() === '') throw invalid('command.0', 'the program to run is empty');
  input.forEach((a, i) => {
    if (hasNul(a)) throw invalid(`command.${i}`, 'must not contain NUL characters');
  });
  return [...input];
}

function parseEnv(input: Record<string, string> | null | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  if (!input) return env;
  const keys = Object.keys(input);
  if (keys.length > MAX_ENV) throw invalid('env', `has ${keys.length} variables; at most ${MAX_ENV} are allowed`);
  for (const key of keys) {
    const field = `env.${key}`;
    if (!ENV_KEY_RE.test(key)) throw invalid(field, `${JSON.stringify(key)} is not a valid variable name; use letters, digits and _, not starting with a digit`);
    const prefix = RESERVED_ENV_PREFIXES.find((p) => key.startsWith(p));
    if (prefix) throw invalid(field, `names starting with ${prefix} are set by FastGPU and cannot be given`);
    if (RESERVED_ENV_NAMES.includes(key)) throw invalid(field, `${key} is set by FastGPU to the task's GPUs and cannot be given`);
    const value = input[key]!;
    if (hasNul(value)) throw invalid(field, 'must not contain NUL characters');
    // defineProperty: a key such as `__proto__` must become a variable, not a prototype.
    Object.defineProperty(env, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return env;
}

// ---------------------------------------------------------------------------------------------
// GPU requests

interface GpuParts {
  /** Whole GPUs, or a fraction below 1 read from a number. */
  amount?: { value: number; field: string };
  model?: { name: string; field: string };
  memory?: { value: string | number; field: string };
  tflops?: { value: number; field: string };
}

const allowedGpu = 'use 1, 0.5, "A100:0.5", "2xH100", {count: 2, model: H100}, {memory: 20GiB}, {tflops: 20} or {fraction: 0.5, memory: 10GiB}';

function fractionOrCount(value: number, field: string): { count: number; milli: number } {
  if (!Number.isFinite(value) || value <= 0) throw invalid(field, `${value} GPUs: ask for a positive number of GPUs or a fraction such as 0.5`);
  if (value < 1) {
    const milli = Math.max(1, Math.round(value * MILLI_PER_GPU));
    return { count: 1, milli: Math.min(milli, MILLI_PER_GPU) };
  }
  if (!Number.isInteger(value)) throw invalid(field, `${value} GPUs: ask for whole GPUs or a fraction below 1`);
  if (value > MAX_GPUS_PER_TASK) throw invalid(field, `${value} GPUs: at most ${MAX_GPUS_PER_TASK} GPUs per task`);
  return { count: value, milli: MILLI_PER_GPU };
}

/** Combine the parts of a GPU request, whichever form they came from, into a GpuRequest. */
function buildGpuRequest(parts: GpuParts, field: string): GpuRequest {
  const model = parts.model ? requireGpuModel(parts.model.name, parts.model.field) : undefined;
  const memoryMiB = parts.memory ? parseSize(parts.memory.value, parts.memory.field) : undefined;
  if (parts.tflops && (!Number.isFinite(parts.tflops.value) || parts.tflops.value <= 0)) {
    throw invalid(parts.tflops.field, `${parts.tflops.value} TFLOPS: must be a positive number`);
  }
  if (parts.amount && parts.tflops) {
    throw invalid(parts.tflops.field, 'give either a GPU amount or tflops, not both');
  }
  if (model && memoryMiB !== undefined && memoryMiB > model.memoryMiB) {
    throw invalid(parts.memory!.field, `${memoryMiB} MiB is more than the ${model.memoryMiB} MiB of a ${model.name}`);
  }
  if (model && parts.tflops && parts.tflops.value > model.tflops) {
    throw invalid(parts.tflops.field, `${parts.tflops.value} TFLOPS is more than the ${model.tflops} of a ${model.name}`);
  }

  let count = 1;
  let share: GpuShare;
  let explicitMemory: number | undefined;
  if (parts.amount) {
    const a = fractionOrCount(parts.amount.value, parts.amount.field);
    count = a.count;
    share = { kind: 'milli', milli: a.milli };
    if (memoryMiB !== undefined) {
      if (a.milli >= MILLI_PER_GPU) throw invalid(parts.memory!.field, 'a whole GPU has all its memory; give memory only with a fraction below 1');
      explicitMemory = memoryMiB;
    }
  } else if (parts.tflops) {
    share = { kind: 'tflops', tflops: parts.tflops.value };
    explicitMemory = memoryMiB;
  } else if (memoryMiB !== undefined) {
    share = { kind: 'memory', memoryMiB };
  } else if (model) {
    share = { kind: 'milli', milli: MILLI_PER_GPU };
  } else {
    throw invalid(field, `says no amount; ${allowedGpu}`);
  }

  const req: GpuRequest = { count, share };
  if (explicitMemory !== undefined) req.memoryMiB = explicitMemory;
  if (model) req.model = model.name;
  return req;
}

const PLAIN_NUMBER_RE = /^\s*(?:\d+(?:\.\d*)?|\.\d+)\s*$/;

function partsFromString(s: string, field: string): GpuParts {
  const text = s.trim();
  if (text === '') throw invalid(field, `is empty; ${allowedGpu}`);
  if (PLAIN_NUMBER_RE.test(text)) return { amount: { value: Number(text), field } };
  const times = /^(\d+)\s*[x*]\s*(.+)$/i.exec(text);
  if (times) return { amount: { value: Number(times[1]), field }, model: { name: times[2]!, field } };
  const colon = text.lastIndexOf(':');
  if (colon >= 0) {
    const amount = text.slice(colon + 1);
    if (!PLAIN_NUMBER_RE.test(amount)) throw invalid(field, `cannot read the amount ${JSON.stringify(amount)} in ${JSON.stringify(s)}; ${allowedGpu}`);
    return { amount: { value: Number(amount), field }, model: { name: text.slice(0, colon), field } };
  }
  return { model: { name: text, field } };
}

/**
 * A GPU request in any of the accepted forms.
 * @example parseGpuRequest('A100:0.5', 'resources.gpu') // {count: 1, share: {kind: 'milli', milli: 500}, model: 'A100-80GB'}
 */
export function parseGpuRequest(input: unknown, field: string): GpuRequest {
  if (typeof input === 'number') return buildGpuRequest({ amount: { value: input, field } }, field);
  if (typeof input === 'string') return buildGpuRequest(partsFromString(input, field), field);
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw invalid(field, `cannot read a GPU request from ${Array.isArray(input) ? 'a list' : String(input)}; ${allowedGpu}`);
  }
  const r = gpuObjectSchema.safeParse(input);
  if (!r.success) throw fromZod(r.error, field, field);
  const o = r.data;
  const parts: GpuParts = {};
  if (o.model != null) parts.model = { name: o.model, field: `${field}.model` };
  if (o.memory != null) parts.memory = { value: o.memory, field: `${field}.memory` };
  if (o.tflops != null) parts.tflops = { value: o.tflops, field: `${field}.tflops` };
  if (o.count != null && o.fraction != null) throw invalid(`${field}.fraction`, 'give either count or fraction, not both');
  if (o.count != null) {
    if (!Number.isInteger(o.count) || o.count < 1 || o.count > MAX_GPUS_PER_TASK) {
      throw invalid(`${field}.count`, `${o.count} GPUs: count must be a whole number from 1 to ${MAX_GPUS_PER_TASK}; use fraction for part of a GPU`);
    }
    // `{count: 1, memory: 20GiB}` is a memory share of one GPU; `count` adds nothing to it.
    if (o.count === 1 && (parts.memory || parts.tflops)) return buildGpuRequest(parts, field);
    if (o.count > 1 && (parts.memory || parts.tflops)) {
      throw invalid(`${field}.count`, 'a memory or tflops share is of one GPU; use count 1 or drop memory/tflops');
    }
    parts.amount = { value: o.count, field: `${field}.count` };
  }
  if (o.fraction != null) {
    if (!Number.isFinite(o.fraction) || o.fraction <= 0 || o.fraction > 1) {
      throw invalid(`${field}.fraction`, `${o.fraction}: a fraction must be above 0 and at most 1`);
    }
    parts.amount = { value: o.fraction, field: `${field}.fraction` };
  }
  return buildGpuRequest(parts, field);
}

/** Whether `gpu` says "no GPU" (absent, null, 0): a CPU-only task. */
function isNoGpu(gpu: unknown): boolean {
  return gpu === undefined || gpu === null || gpu === 0 || (typeof gpu === 'string' && gpu.trim() === '0');
}

/**
 * Validate and normalise a submitted task spec.
 * @example parseTaskSpec({command: 'nvidia-smi', resources: {gpu: 0.5}}, {tenant: 'default'})
 */
export function parseTaskSpec(input: unknown, ctx: { tenant: string; defaultTimeLimitMs?: number }): TaskSpec {
  const r = specSchema.safeParse(input);
  if (!r.success) throw fromZod(r.error, undefined, 'spec');
  // zod drops an own `__proto__` key from records; say so rather than lose it silently.
  const rawEnv = (input as { env?: unknown }).env;
  if (typeof rawEnv === 'object' && rawEnv !== null && Object.hasOwn(rawEnv, '__proto__')) {
    throw invalid('env.__proto__', 'is not an allowed variable name');
  }
  const s = r.data;

  const command = parseCommand(s.command);
  const name = s.name != null ? checkName(s.name, 'name') : defaultName(command, typeof s.command === 'string' ? s.command : undefined);
  const env = parseEnv(s.env);
  checkExecLimits(command, env, typeof s.command === 'string');
  const res: z.infer<typeof resourcesSchema> = s.resources ?? { gpu: undefined };
  const spec: TaskSpec = {
    name,
    command,
    env,
    resources: {
      gpu: isNoGpu(res.gpu) ? null : parseGpuRequest(res.gpu, 'resources.gpu'),
      cpuMilli: res.cpu != null ? parseCpu(res.cpu, 'resources.cpu') : DEFAULT_CPU_MILLI,
      memoryMiB: res.memory != null ? parseSize(res.memory, 'resources.memory') : DEFAULT_MEMORY_MIB,
    },
    priority: s.priority ?? DEFAULT_PRIORITY,
    retries: s.retries ?? 0,
    preemptible: s.preemptible ?? false,
    gang: s.gang ?? 1,
    tenant: ctx.tenant,
  };
  if (s.workdir != null) {
    if (!s.workdir.startsWith('/') || hasNul(s.workdir)) throw invalid('workdir', `${JSON.stringify(s.workdir)} must be an absolute path (starting with /)`);
    spec.workdir = s.workdir;
  }
  if (s.timeLimit != null) spec.timeLimitMs = parseDuration(s.timeLimit, 'timeLimit');
  else if (ctx.defaultTimeLimitMs !== undefined) spec.timeLimitMs = ctx.defaultTimeLimitMs; // the pool's default (Slurm's DefaultTime)
  if (s.vgpu != null) {
    if (s.vgpu.trim() === '') throw invalid('vgpu', 'is empty; give the id of a vGPU reservation');
    spec.vgpuId = s.vgpu.trim();
  }
  if (s.inputs != null) spec.inputs = parseInputs(s.inputs);
  if (s.outputs != null) spec.outputs = parseOutputs(s.outputs, spec.inputs);
  return spec;
}

/**
 * The body of POST /v1/vgpus: one GPU or a share of one, with an optional name.
 * @example parseVgpuRequest({tflops: 20}) // {name: undefined, request: {count: 1, share: {kind: 'tflops', tflops: 20}}}
 */
export function parseVgpuRequest(input: unknown): { name: string | undefined; request: GpuRequest } {
  const r = vgpuSchema.safeParse(input);
  if (!r.success) throw fromZod(r.error, undefined, 'body');
  const o = r.data;
  const name = o.name != null ? checkName(o.name, 'name') : undefined;

  let parts: GpuParts = {};
  if (o.gpu != null) {
    parts = typeof o.gpu === 'number' ? { amount: { value: o.gpu, field: 'gpu' } } : partsFromString(o.gpu, 'gpu');
  }
  if (o.model != null) {
    if (parts.model && requireGpuModel(parts.model.name, 'gpu').name !== requireGpuModel(o.model, 'model').name) {
      throw invalid('model', `${JSON.stringify(o.model)} differs from the model in gpu (${JSON.stringify(o.gpu)})`);
    }
    parts.model = { name: o.model, field: 'model' };
  }
  if (o.memory != null) parts.memory = { value: o.memory, field: 'memory' };
  if (o.tflops != null) parts.tflops = { value: o.tflops, field: 'tflops' };
  if (!parts.amount && !parts.memory && !parts.tflops && !parts.model) {
    throw invalid('gpu', 'a vGPU needs an amount: give gpu (1, 0.5 or "A100:0.5"), memory ("20GiB") or tflops (20)');
  }
  const request = buildGpuRequest(parts, 'gpu');
  if (request.count !== 1) throw invalid('gpu', `a vGPU is one GPU or a share of one, not ${request.count}`);
  return { name, request };
}
