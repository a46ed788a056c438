// Task arrays (issue 14): one spec, N elements, as Slurm's `--array`. An element is an ordinary
// task that carries its place in the array; the array itself is no row of its own, only the
// elements that share its id, so every task path (retries, logs, cancel, billing) holds as is.
import { invalid } from './errors.js';
import { TERMINAL_STATES, type ArrayPlace, type Task, type TaskState } from './types.js';

export type { ArrayPlace };

/** Most elements one array may have: one request, one store transaction. */
export const MAX_ARRAY_SIZE = 10_000;
/** Highest index an element may carry (Slurm's MaxArraySize is about indices, too). */
export const MAX_ARRAY_INDEX = 1_000_000;

/** A parsed `--array` value. */
export interface ArrayRange {
  /** Distinct indices, ascending. */
  indices: number[];
  max?: number;
}

const PART_RE = /^(\d+)(?:-(\d+)(?::(\d+))?)?$/;
const FORMS = 'use a range "0-99", a stepped range "0-99:2", a list "1,3,8-10", or any of them with "%N" for the most at once ("0-99%8")';

function wholeIndex(text: string, field: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n > MAX_ARRAY_INDEX) throw invalid(field, `index ${text} is above the highest allowed, ${MAX_ARRAY_INDEX}`);
  return n;
}

/**
 * Read a Slurm-style array: a range, a stepped range or a list, then an optional `%N` cap.
 * A number alone (`8`) means indices 0…7, as the SDKs' `array: 8`.
 * @example parseArrayRange('0-99%8') // {indices: [0, 1, …, 99], max: 8}
 * @example parseArrayRange('1,5-9:2') // {indices: [1, 5, 7, 9]}
 */
export function parseArrayRange(input: unknown, field = 'array'): ArrayRange {
  if (typeof input === 'number') {
    if (!Number.isInteger(input) || input < 1 || input > MAX_ARRAY_SIZE) throw invalid(field, `${input}: an array size must be a whole number from 1 to ${MAX_ARRAY_SIZE}`);
    return { indices: Array.from({ length: input }, (_, i) => i) };
  }
  if (typeof input !== 'string') throw invalid(field, `must be a string; ${FORMS}`);
  const text = input.replace(/\s+/g, '');
  if (text === '') throw invalid(field, `is empty; ${FORMS}`);
  const pct = text.split('%');
  if (pct.length > 2) throw invalid(field, `${JSON.stringify(input)} has more than one "%"; ${FORMS}`);
  const [body = '', cap] = pct;
  let max: number | undefined;
  if (cap !== undefined) {
    if (!/^\d+$/.test(cap)) throw invalid(field, `"%${cap}" is not a number; after % give the most elements that may run at once, e.g. "%8"`);
    max = Number(cap);
    if (max < 1) throw invalid(field, '"%0" would let no element run; give at least %1');
  }
  if (body === '') throw invalid(field, `${JSON.stringify(input)} names no indices; ${FORMS}`);
  const seen = new Set<number>();
  for (const part of body.split(',')) {
    const m = PART_RE.exec(part);
    if (!m) throw invalid(field, `cannot read ${JSON.stringify(part)} in ${JSON.stringify(input)}; ${FORMS}`);
    const from = wholeIndex(m[1]!, field);
    const to = m[2] !== undefined ? wholeIndex(m[2], field) : from;
    const step = m[3] !== undefined ? Number(m[3]) : 1;
    if (to < from) throw invalid(field, `${JSON.stringify(part)} runs backwards; write the lower index first`);
    if (!Number.isSafeInteger(step) || step < 1) throw invalid(field, `${JSON.stringify(part)}: the step must be 1 or more`);
    if ((to - from) / step + 1 + seen.size > MAX_ARRAY_SIZE) throw invalid(field, `${JSON.stringify(input)} has more than ${MAX_ARRAY_SIZE} elements`);
    for (let i = from; i <= to; i += step) seen.add(i);
  }
  const indices = [...seen].sort((a, b) => a - b);
  return max !== undefined ? { indices, max } : { indices };
}

/** The canonical text of a range, for people (`0-99%8`, `1,3,5-7`). */
export function formatArrayRange(r: ArrayRange): string {
  const parts: string[] = [];
  let i = 0;
  while (i < r.indices.length) {
    let j = i;
    while (j + 1 < r.indices.length && r.indices[j + 1] === r.indices[j]! + 1) j++;
    parts.push(j > i ? `${r.indices[i]}-${r.indices[j]}` : String(r.indices[i]));
    i = j + 1;
  }
  return parts.join(',') + (r.max !== undefined ? `%${r.max}` : '');
}

/** An array's status: one line of counts, as `fastgpu ps` and `GET /v1/arrays/ID` show it. */
export interface ArrayStatus {
  id: string;
  name: string;
  tenant: string;
  size: number;
  max: number | null;
  counts: Partial<Record<TaskState, number>>;
  /** Every element has finished. */
  done: boolean;
  /** Every element finished SUCCEEDED. */
  ok: boolean;
  createdAt: number;
  finishedAt: number | null;
}

/** Sum up the elements of one array (all of them, in any order). */
export function arrayStatus(elements: readonly Task[]): ArrayStatus {
  const first = elements[0];
  if (!first?.array) throw new Error('arrayStatus: no elements, or not an array');
  const counts: Partial<Record<TaskState, number>> = {};
  let terminal = 0;
  let succeeded = 0;
  let finishedAt = 0;
  let createdAt = first.createdAt;
  for (const t of elements) {
    counts[t.state] = (counts[t.state] ?? 0) + 1;
    if (TERMINAL_STATES.includes(t.state)) {
      terminal++;
      finishedAt = Math.max(finishedAt, t.finishedAt ?? 0);
    }
    if (t.state === 'SUCCEEDED') succeeded++;
    createdAt = Math.min(createdAt, t.createdAt);
  }
  const done = terminal === first.array.size;
  return {
    id: first.array.id,
    name: first.spec.name,
    tenant: first.spec.tenant,
    size: first.array.size,
    max: first.array.max ?? null,
    counts,
    done,
    ok: done && succeeded === first.array.size,
    createdAt,
    finishedAt: done ? finishedAt : null,
  };
}

/** Why an element beyond its array's %N cap waits (reason `ArrayTaskLimit`). */
export function arrayLimitMessage(arrayId: string, max: number): string {
  return `Its array ${arrayId} runs at most ${max} elements at once (%${max})`;
}

/**
 * The pending elements the %N cap lets the scheduler see this cycle: per array, the lowest
 * indices first, as many as `max` minus those holding resources. The rest wait with reason
 * `ArrayTaskLimit` (Slurm's name for it).
 */
export function capArrays(pending: readonly Task[], active: readonly Task[]): { eligible: Task[]; held: Task[] } {
  const running = new Map<string, number>();
  for (const t of active) if (t.array?.max !== undefined) running.set(t.array.id, (running.get(t.array.id) ?? 0) + 1);
  const capped = new Map<string, Task[]>();
  const eligible: Task[] = [];
  for (const t of pending) {
    if (t.array?.max === undefined) eligible.push(t);
    else {
      let list = capped.get(t.array.id);
      if (!list) capped.set(t.array.id, (list = []));
      list.push(t);
    }
  }
  const held: Task[] = [];
  for (const [id, list] of capped) {
    const room = Math.max(0, list[0]!.array!.max! - (running.get(id) ?? 0));
    list.sort((a, b) => a.array!.index - b.array!.index);
    eligible.push(...list.slice(0, room));
    held.push(...list.slice(room));
  }
  return { eligible, held };
}
