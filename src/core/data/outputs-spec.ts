// Data outputs of a task (issue 16 item 2): `outputs: [{path: out/, dataset: NAME}]` in the spec.
// After the task's process exits 0, its agent uploads each path (a folder or one file) as a new
// version of NAME, owned by the task's tenant, with the chunked, deduplicated, compressed protocol
// of `fastgpu data push` (agent/outputs.ts). Pure: the shape and its checks at submit.
//
// Arrays and sweeps: every element runs the same spec, so each element that succeeds makes its
// own new version of the same dataset; the version names the element's task id (`fastgpu data
// show NAME` lists which element made which version).
import { z } from 'zod';
import { invalid } from '../errors.js';
import { checkDatasetName, checkRelativePath } from './dataset.js';
import { itemError, type TaskInput } from './io-spec.js';

/** Most outputs of one task. */
export const MAX_OUTPUTS = 16;

/** One output, normalised. */
export interface TaskOutput {
  /** Relative to the task's working directory, `/`-separated, no `..`: a folder or one file. */
  path: string;
  /** The dataset it becomes a new version of. */
  dataset: string;
}

const outputSchema = z.strictObject(
  {
    path: z.string({ error: 'must be a relative path (a folder or file under the task’s working directory)' }).optional(),
    dataset: z.string({ error: 'must be a dataset name' }).optional(),
  },
  { error: 'must be an object such as {path: out/, dataset: NAME}' },
);

const overlaps = (a: string, b: string): boolean => a === b || a.startsWith(`${b}/`) || b.startsWith(`${a}/`);

/**
 * Validates a spec's `outputs:`; `inputs` (already parsed) may not overlap an output's path: they
 * are read-only links into the node cache.
 * @example parseOutputs([{path: 'out/', dataset: 'ckpt'}]) // [{path: 'out', dataset: 'ckpt'}]
 */
export function parseOutputs(raw: unknown, inputs: readonly TaskInput[] = [], field = 'outputs'): TaskOutput[] {
  if (!Array.isArray(raw) || raw.length === 0) throw invalid(field, 'must be a non-empty list such as [{path: out/, dataset: NAME}]');
  if (raw.length > MAX_OUTPUTS) throw invalid(field, `has ${raw.length} outputs; at most ${MAX_OUTPUTS}`);
  const out: TaskOutput[] = [];
  raw.forEach((item, i) => {
    const at = `${field}.${i}`;
    const r = outputSchema.safeParse(item);
    if (!r.success) throw itemError(r.error, at, 'an output has path and dataset');
    const o = r.data;
    if (o.dataset === undefined) throw invalid(`${at}.dataset`, 'is missing; give the dataset the path becomes a new version of');
    if (o.path === undefined) throw invalid(`${at}.path`, 'is missing; give the folder or file to upload, relative to the task’s working directory (out/)');
    const dataset = checkDatasetName(o.dataset, `${at}.dataset`);
    const rawPath = o.path.replace(/\/+$/, '');
    if (o.path.startsWith('/')) throw invalid(`${at}.path`, `${JSON.stringify(o.path.slice(0, 200))} must be relative: an output is read from the task's working directory`);
    if (rawPath === '' || rawPath === '.') throw invalid(`${at}.path`, 'must name a folder or file under the task’s working directory, not the directory itself (out/)');
    const path = checkRelativePath(rawPath, `${at}.path`);
    for (const [j, o2] of out.entries()) {
      if (o2.dataset === dataset) throw invalid(`${at}.dataset`, `${dataset} is output ${j}'s dataset too; a task makes one version of a dataset (upload one folder, or use two datasets)`);
      if (overlaps(o2.path, path)) throw invalid(`${at}.path`, `${JSON.stringify(path)} overlaps output ${j}'s path ${JSON.stringify(o2.path)}`);
    }
    for (const [j, input] of inputs.entries()) {
      if (overlaps(input.path, path)) throw invalid(`${at}.path`, `${JSON.stringify(path)} overlaps input ${j}'s path ${JSON.stringify(input.path)} (inputs are read-only)`);
    }
    out.push({ path, dataset });
  });
  return out;
}
