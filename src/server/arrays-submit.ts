// Submitting arrays and dependencies (issue 14). A submitted spec may carry `array:` (a Slurm
// range, `0-99%8`) and `after:` (task or array ids with ok/any/failed); both are read here, off the
// body, before the task spec itself is parsed, and applied to the tasks the submit makes: an array
// becomes one task per index, all stored in the submit's one transaction.
import { checkExecLimits } from '../core/argv-limits.js';
import { arrayLimitMessage, arrayStatus, formatArrayRange, parseArrayRange, type ArrayRange } from '../core/array.js';
import { isDataInputList } from '../core/data/io-spec.js';
import { findCycle, parseAfter, type Dependency } from '../core/deps.js';
import type { z } from 'zod';
import { FastGpuError, invalid } from '../core/errors.js';
import type { Task } from '../core/types.js';
import type { ArraySubmitted, TaskSubmitAnswerSchema } from '../protocol/arrays.js';
import type { Store } from '../store/port.js';
import { newId, randomBase32 } from './ids.js';
import { taskView } from './views.js';

/** What a submit body says beyond the task spec. */
export interface SubmitExtras {
  /** The body without `array` and `after`, for parseTaskSpec. */
  body: unknown;
  array?: ArrayRange;
  after?: Dependency[];
  /** `inputs:` (map): element i gets inputs[i] as JSON in FASTGPU_INPUT. */
  inputs?: string[];
  /** `reduce: a_…`: wait for the array to succeed, then get its results in FASTGPU_RESULTS. */
  reduce?: string;
}

/** Bytes of one map input as JSON (FASTGPU_INPUT is one environment string: Linux caps those at 128 KiB). */
export const MAX_INPUT_BYTES = 65_536;

/** A new array id, `a_` and ten base32 characters (as task ids). */
export function newArrayId(): string {
  return `a_${randomBase32(10)}`;
}

/** Take `array` and `after` off a submit body (JSON or YAML, already parsed). */
export function takeSubmitExtras(body: unknown): SubmitExtras {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { body };
  const o = body as Record<string, unknown>;
  // A list of `{dataset: …}` objects is the task's data inputs (issue 16), left to the spec.
  if (isDataInputList(o.inputs)) {
    const { inputs: data, ...others } = o;
    const got = takeSubmitExtras(others);
    return { ...got, body: { ...(got.body as Record<string, unknown>), inputs: data } };
  }
  if (!Object.hasOwn(o, 'array') && !Object.hasOwn(o, 'after') && !Object.hasOwn(o, 'inputs') && !Object.hasOwn(o, 'reduce')) return { body };
  const { array, after, inputs, reduce, ...rest } = o;
  const out: SubmitExtras = { body: rest };
  if (array !== undefined && array !== null) out.array = parseArrayRange(array, 'array');
  if (inputs !== undefined && inputs !== null) {
    if (!Array.isArray(inputs) || inputs.length === 0) throw invalid('inputs', 'must be a non-empty list: element i of the array gets inputs[i] (as JSON) in FASTGPU_INPUT');
    const size = out.array?.indices.length;
    if (size !== undefined && size !== inputs.length) throw invalid('inputs', `has ${inputs.length} entries but the array has ${size} elements`);
    out.inputs = inputs.map((x, i) => {
      const text = JSON.stringify(x) as string | undefined;
      if (text === undefined) throw invalid(`inputs.${i}`, 'is not a JSON value');
      if (Buffer.byteLength(text) > MAX_INPUT_BYTES) throw invalid(`inputs.${i}`, `is ${Buffer.byteLength(text)} bytes as JSON; at most ${MAX_INPUT_BYTES} (pass a path or a URL to large data instead)`);
      return text;
    });
    out.array ??= parseArrayRange(inputs.length, 'inputs');
  }
  if (after !== undefined && after !== null) {
    const deps = parseAfter(after, 'after');
    if (deps.length > 0) out.after = deps;
  }
  if (reduce !== undefined && reduce !== null) {
    if (typeof reduce !== 'string' || !/^a_[A-Za-z0-9]{1,62}$/.test(reduce)) throw invalid('reduce', 'must be the id of an array (a_…) whose results this task receives');
    if (out.array) throw invalid('reduce', 'a reduce step is one task; give either array or reduce');
    out.reduce = reduce;
    // It runs once the array has succeeded.
    if (!out.after?.some((d) => d.id === reduce)) out.after = [...(out.after ?? []), { id: reduce, on: 'ok' }];
  }
  return out;
}

/** Stored tasks the cycle check reads at most, per submit. */
const MAX_WALK = 200;

/** Where a dependency's id is looked up: live tasks first, then the store. */
export interface DependencyLookup {
  liveTask(id: string): Task | undefined;
  store: Pick<Store, 'getTask' | 'listTasks'>;
}

/** Any one task a dependency id names (the task, or an element of the array), or null. */
async function anyTaskOf(id: string, lookup: DependencyLookup): Promise<Task | null> {
  if (id.startsWith('a_')) return (await lookup.store.listTasks({ arrayId: id, limit: 1 }))[0] ?? null;
  return lookup.liveTask(id) ?? (await lookup.store.getTask(id));
}

/**
 * Refuse dependencies that name nothing (or another tenant's work, answered the same way) and any
 * that would close a cycle. New work can only name ids that exist already, so the graph of the
 * new tasks with what they name is a DAG unless it names itself; the check walks the stored
 * dependencies as well, so a cycle through older tasks is named too.
 */
export async function checkDependencies(newIds: ReadonlySet<string>, deps: readonly Dependency[], tenant: string, lookup: DependencyLookup): Promise<void> {
  const graph = new Map<string, string[]>();
  const self = '(this submission)';
  graph.set(self, deps.map((d) => d.id));
  const queue = deps.map((d, i) => ({ id: d.id, field: `after.${i}` }));
  const seen = new Set<string>();
  while (queue.length > 0) {
    const { id, field } = queue.shift()!;
    if (seen.has(id)) continue;
    seen.add(id);
    if (newIds.has(id)) {
      graph.set(id, [self]);
      continue;
    }
    const t = await anyTaskOf(id, lookup);
    if (!t || t.spec.tenant !== tenant) {
      throw invalid(field, `${id} is not a known ${id.startsWith('a_') ? 'array' : 'task'} id; give the id of a task or array of this tenant (see fastgpu ps)`);
    }
    const next = t.after?.map((d) => d.id) ?? [];
    graph.set(id, next);
    // Deeper levels were checked for existence when they were submitted; walked (a bounded
    // number of them) only to name a cycle through them.
    if (seen.size < MAX_WALK) for (const n of next) queue.push({ id: n, field });
  }
  const cycle = findCycle(graph);
  if (cycle) throw new FastGpuError('INVALID_ARGUMENT', `after: the dependencies form a cycle: ${cycle.join(' → ')}; a task cannot wait for itself`, 'after');
}

/**
 * Apply `array` and `after` to the tasks a submit made (one task: a gang with an array is
 * refused). Returns the tasks to store: the elements, each with FASTGPU_ARRAY_* in its env.
 */
export function expandSubmit(tasks: readonly Task[], extras: SubmitExtras): Task[] {
  const after = extras.after;
  const reduce = extras.reduce;
  if (!extras.array) return tasks.map((t) => ({ ...t, ...(after ? { after } : {}), ...(reduce !== undefined ? { reduce } : {}) }));
  const base = tasks[0];
  if (!base || tasks.length !== 1) throw invalid('array', 'an array cannot be a gang; give either gang or array');
  const { indices, max } = extras.array;
  const id = newArrayId();
  const size = indices.length;
  if (extras.inputs) checkLargestInput(base, extras.inputs, id, size);
  const out: Task[] = new Array<Task>(size);
  // Elements past the first %N cannot be placed before one of those ends (the cap takes the
  // lowest indices first, capArrays), so they are born waiting with the reason the first cycle
  // would give them: that cycle then writes nothing for them (10,000 reason writes and
  // `task.pending` events before). With `after:` the first reason is Dependency, the cycle's.
  const held = max !== undefined && !after ? { reason: 'ArrayTaskLimit' as const, reasonMessage: arrayLimitMessage(id, max) } : null;
  for (let k = 0; k < size; k++) {
    const index = indices[k]!;
    const env: Record<string, string> = { ...base.spec.env, FASTGPU_ARRAY_ID: id, FASTGPU_ARRAY_INDEX: String(index), FASTGPU_ARRAY_SIZE: String(size) };
    const input = extras.inputs?.[k];
    if (input !== undefined) env.FASTGPU_INPUT = input;
    const t: Task = { ...base, id: k === 0 ? base.id : newId('t'), spec: { ...base.spec, env }, array: max !== undefined ? { id, index, size, max } : { id, index, size } };
    if (after) t.after = after;
    if (held && k >= max!) Object.assign(t, held);
    out[k] = t;
  }
  return out;
}

/**
 * The spec was checked against execve's limits without FASTGPU_INPUT: the element with the largest
 * input must still start (its environment is the base's plus that one string), or the submit is
 * refused naming that input rather than an element failing at launch.
 */
function checkLargestInput(base: Task, inputs: readonly string[], id: string, size: number): void {
  let k = 0;
  const bytes = inputs.map((x) => Buffer.byteLength(x));
  for (let i = 1; i < inputs.length; i++) if (bytes[i]! > bytes[k]!) k = i;
  const env = { ...base.spec.env, FASTGPU_ARRAY_ID: id, FASTGPU_ARRAY_INDEX: String(size), FASTGPU_ARRAY_SIZE: String(size), FASTGPU_INPUT: inputs[k]! };
  try {
    checkExecLimits(base.spec.command, env, false);
  } catch (e) {
    if (!(e instanceof FastGpuError)) throw e;
    throw invalid(`inputs.${k}`, `with this input in FASTGPU_INPUT, element ${k} could never start: ${e.message}`);
  }
}

/**
 * The answer to a submit (`POST /v1/tasks`): every task it made, or for an array its first
 * element and the array in brief (`array`, with links to page the rest). Elements are given in
 * index order (expandSubmit's), or any order (a replayed submit's); the brief sorts them out.
 */
export function submitAnswer(tasks: readonly Task[]): z.infer<typeof TaskSubmitAnswerSchema> {
  const any = tasks[0];
  if (!any?.array) return { tasks: tasks.map(taskView) };
  let first = any;
  let last = any;
  for (const t of tasks) {
    if (t.array!.index < first.array!.index) first = t;
    if (t.array!.index > last.array!.index) last = t;
  }
  const s = arrayStatus(tasks);
  const id = encodeURIComponent(s.id);
  const range = { indices: tasks.map((t) => t.array!.index).sort((a, b) => a - b), ...(s.max !== null ? { max: s.max } : {}) };
  const array: ArraySubmitted = {
    id: s.id,
    name: s.name,
    tenant: s.tenant,
    size: s.size,
    max: s.max,
    range: formatArrayRange(range),
    firstTaskId: first.id,
    lastTaskId: last.id,
    counts: s.counts,
    links: { status: `/v1/arrays/${id}`, tasks: `/v1/arrays/${id}/tasks`, results: `/v1/arrays/${id}/results` },
  };
  return { tasks: [taskView(first)], array };
}
