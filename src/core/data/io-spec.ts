// Data inputs of a task (issue 16 item 2): `inputs: [{dataset: NAME[@VERSION], path: data}]` in
// the spec. Each is staged by the agent through its node cache into a read-only folder at `path`
// under the task's working directory, and its location is also in FASTGPU_INPUT_<NAME>. Pure: the
// shape and its checks. The server pins the version at submit (server/datasets-inputs.ts), so
// every attempt of a task reads the same bytes however many versions are pushed meanwhile.
import { z } from 'zod';
import { invalid, type FastGpuError } from '../errors.js';
import { checkRelativePath, parseDatasetRef } from './dataset.js';

/** Most inputs of one task. */
export const MAX_INPUTS = 32;

/** One dataset input, normalised. */
export interface TaskInput {
  dataset: string;
  /** Absent until the server resolves "the newest" at submit; always set on a stored task. */
  version?: number;
  /** Relative to the task's working directory, `/`-separated, no `..`. */
  path: string;
  /** The environment variable holding the input's absolute location. */
  env: string;
}

const inputSchema = z.strictObject(
  {
    dataset: z.string({ error: 'must be a dataset reference, NAME or NAME@VERSION' }).optional(),
    path: z.string({ error: 'must be a relative path (under the task’s working directory)' }).optional(),
    name: z.string({ error: 'must be a name for FASTGPU_INPUT_<NAME>' }).optional(),
    url: z.unknown().optional(),
    hostPath: z.unknown().optional(),
  },
  { error: 'must be an object such as {dataset: NAME[@VERSION], path: data}' },
);

const DATA_KEYS: readonly string[] = ['dataset', 'url', 'hostPath'];

/**
 * Whether a submitted `inputs:` is a list of data inputs rather than a map's inputs (issue 14's
 * `inputs:` gives element i of an array inputs[i]): every element an object naming a `dataset`
 * (or `url`/`hostPath`, which are refused with their reason).
 */
export function isDataInputList(v: unknown): boolean {
  return (
    Array.isArray(v) &&
    v.length > 0 &&
    v.every((x) => typeof x === 'object' && x !== null && !Array.isArray(x) && Object.keys(x).some((k) => DATA_KEYS.includes(k)))
  );
}

/** A list item's first zod issue as INVALID_ARGUMENT naming `at` and the field; `fields` says which an item has. */
export function itemError(error: z.ZodError, at: string, fields: string): FastGpuError {
  const issue = error.issues[0]!;
  const key = issue.code === 'unrecognized_keys' ? issue.keys[0] : undefined;
  return invalid([at, ...issue.path.map(String), ...(key ? [key] : [])].join('.'), key ? `unknown field ${JSON.stringify(key)}; ${fields}` : issue.message);
}

/** `imagenet-1k` → `IMAGENET_1K` (what FASTGPU_INPUT_ is followed by). */
export function inputEnvSuffix(name: string): string {
  return name.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
}

/**
 * Validates a spec's `inputs:`.
 * @example parseInputs([{dataset: 'imgs@2', path: 'data/imgs'}]) // [{dataset: 'imgs', version: 2, path: 'data/imgs', env: 'FASTGPU_INPUT_IMGS'}]
 */
export function parseInputs(raw: unknown, field = 'inputs'): TaskInput[] {
  if (!Array.isArray(raw) || raw.length === 0) throw invalid(field, 'must be a non-empty list such as [{dataset: NAME[@VERSION], path: data}]');
  if (raw.length > MAX_INPUTS) throw invalid(field, `has ${raw.length} inputs; at most ${MAX_INPUTS}`);
  const out: TaskInput[] = [];
  const envs = new Map<string, number>();
  const paths = new Map<string, number>();
  raw.forEach((item, i) => {
    const at = `${field}.${i}`;
    const r = inputSchema.safeParse(item);
    if (!r.success) throw itemError(r.error, at, 'an input has dataset, path and name');
    const o = r.data;
    if (o.url !== undefined) throw invalid(`${at}.url`, 'URL inputs are not supported by this server; push the data as a dataset (`fastgpu data push DIR NAME`) and give {dataset: NAME}');
    if (o.hostPath !== undefined) throw invalid(`${at}.hostPath`, 'host path inputs are not supported by this server; push the data as a dataset (`fastgpu data push DIR NAME`) and give {dataset: NAME}');
    if (o.dataset === undefined) throw invalid(`${at}.dataset`, 'is missing; give the dataset to stage, NAME or NAME@VERSION');
    const ref = parseDatasetRef(o.dataset, `${at}.dataset`);
    const rawPath = (o.path ?? ref.name).replace(/\/+$/, '');
    if (rawPath.startsWith('/')) throw invalid(`${at}.path`, `${JSON.stringify(rawPath.slice(0, 200))} must be relative: an input is staged under the task's working directory`);
    const path = checkRelativePath(rawPath, `${at}.path`);
    const envName = o.name ?? ref.name;
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(envName)) throw invalid(`${at}.name`, `${JSON.stringify(envName.slice(0, 80))} is not a name: use 1–63 of A-Z, a-z, 0-9, '.', '_', '-'`);
    const env = `FASTGPU_INPUT_${inputEnvSuffix(envName)}`;
    const sameEnv = envs.get(env);
    if (sameEnv !== undefined) throw invalid(`${at}.name`, `${env} is input ${sameEnv}'s variable too; give one of them another name: (name: …)`);
    envs.set(env, i);
    for (const [p, j] of paths) {
      if (p === path || p.startsWith(`${path}/`) || path.startsWith(`${p}/`)) throw invalid(`${at}.path`, `${JSON.stringify(path)} overlaps input ${j}'s path ${JSON.stringify(p)}`);
    }
    paths.set(path, i);
    out.push({ dataset: ref.name, ...(ref.version !== undefined ? { version: ref.version } : {}), path, env });
  });
  return out;
}
