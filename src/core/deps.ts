// Dependencies between tasks and arrays (issue 14), as Slurm's `--dependency=afterok:ID`: a task
// waits (reason `Dependency`) until each of its dependencies is met, and ends CANCELLED with that
// reason as soon as one can no longer be met (Slurm leaves such jobs pending forever).
import { invalid } from './errors.js';
import type { Dependency, DependencyKind, TaskState } from './types.js';

export type { Dependency, DependencyKind };

/** Most dependencies one task may list. */
export const MAX_DEPENDENCIES = 100;

const KINDS: Record<string, DependencyKind> = { ok: 'ok', afterok: 'ok', any: 'any', afterany: 'any', failed: 'failed', notok: 'failed', afternotok: 'failed' };
const ID_RE = /^[A-Za-z0-9_.-]{1,64}$/;
const FORM = 'write ID, ID:ok, ID:any or ID:failed (several separated by commas)';

/**
 * `--after` values (one string with commas, or a list) → dependencies. Without a kind, `ok`.
 * @example parseAfter('t_abc,a_xyz:any') // [{id: 't_abc', on: 'ok'}, {id: 'a_xyz', on: 'any'}]
 */
export function parseAfter(input: unknown, field = 'after'): Dependency[] {
  const items: unknown[] = Array.isArray(input) ? input : [input];
  const out: Dependency[] = [];
  const seen = new Set<string>();
  items.forEach((item, i) => {
    const f = Array.isArray(input) ? `${field}.${i}` : field;
    if (typeof item === 'object' && item !== null && !Array.isArray(item)) {
      const o = item as { id?: unknown; on?: unknown };
      const keys = Object.keys(o).filter((k) => k !== 'id' && k !== 'on');
      if (keys.length > 0) throw invalid(`${f}.${keys[0]}`, 'unknown field; a dependency has id and on');
      if (typeof o.id !== 'string') throw invalid(`${f}.id`, 'must be a task or array id');
      const text = o.on === undefined ? o.id : `${o.id}:${String(o.on)}`;
      item = text;
    }
    if (typeof item !== 'string') throw invalid(f, `must be a string; ${FORM}`);
    for (const raw of item.split(',')) {
      const part = raw.trim();
      if (part === '') throw invalid(f, `has an empty entry; ${FORM}`);
      const colon = part.lastIndexOf(':');
      const id = colon >= 0 ? part.slice(0, colon) : part;
      const kindText = colon >= 0 ? part.slice(colon + 1).toLowerCase() : 'ok';
      const on = Object.hasOwn(KINDS, kindText) ? KINDS[kindText] : undefined;
      if (!on) throw invalid(f, `${JSON.stringify(kindText)} in ${JSON.stringify(part)} is not a dependency kind; use ok, any or failed`);
      if (!ID_RE.test(id)) throw invalid(f, `${JSON.stringify(id)} is not a task or array id; ${FORM}`);
      const key = `${id}:${on}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ id, on });
    }
  });
  if (out.length > MAX_DEPENDENCIES) throw invalid(field, `lists ${out.length} dependencies; at most ${MAX_DEPENDENCIES} are allowed`);
  return out;
}

/** How far what a dependency names has got: a task, or an array's elements taken together. */
export interface DependencyTarget {
  /** Everything it names has finished. */
  finished: boolean;
  /** Some part finished other than SUCCEEDED (an array can know this before it finishes). */
  anyFailed: boolean;
  /** What to tell a person, e.g. `task t_abc ended FAILED`. */
  label: string;
}

export type DependencyVerdict = { kind: 'met' } | { kind: 'waiting'; message: string } | { kind: 'never'; message: string };

const WORDS: Record<DependencyKind, string> = { ok: 'to succeed', any: 'to end', failed: 'to fail' };

/**
 * Judge one dependency. `target` undefined: the id names nothing (any more): never met.
 * @example judgeDependency({id: 't_a', on: 'ok'}, {finished: true, anyFailed: true, label: 'task t_a ended FAILED'}) // never
 */
export function judgeDependency(dep: Dependency, target: DependencyTarget | undefined): DependencyVerdict {
  if (!target) return { kind: 'never', message: `Dependency ${dep.id} no longer exists` };
  const waiting = (): DependencyVerdict => ({ kind: 'waiting', message: `Waiting for ${dep.id} ${WORDS[dep.on]}` });
  switch (dep.on) {
    case 'ok':
      if (target.anyFailed) return { kind: 'never', message: `Dependency not met: ${target.label}, and this task ran only after it succeeded (${dep.id}:ok)` };
      return target.finished ? { kind: 'met' } : waiting();
    case 'any':
      return target.finished ? { kind: 'met' } : waiting();
    case 'failed':
      if (!target.finished) return waiting();
      return target.anyFailed ? { kind: 'met' } : { kind: 'never', message: `Dependency not met: ${target.label}, and this task ran only if it failed (${dep.id}:failed)` };
  }
}

/** All of a task's dependencies together: never as soon as one is never, met when all are. */
export function judgeDependencies(deps: readonly Dependency[], targetOf: (id: string) => DependencyTarget | undefined): DependencyVerdict {
  let firstWait: DependencyVerdict | undefined;
  for (const d of deps) {
    const v = judgeDependency(d, targetOf(d.id));
    if (v.kind === 'never') return v;
    if (v.kind === 'waiting') firstWait ??= v;
  }
  return firstWait ?? { kind: 'met' };
}

/** A task's state as a dependency target. */
export function taskTarget(id: string, state: TaskState): DependencyTarget {
  const finished = state === 'SUCCEEDED' || state === 'FAILED' || state === 'CANCELLED' || state === 'TIMEOUT';
  return { finished, anyFailed: finished && state !== 'SUCCEEDED', label: finished ? `task ${id} ended ${state}` : `task ${id} is ${state}` };
}

/**
 * The first cycle in a dependency graph (node → the nodes it waits for), as the path that closes
 * it (`[a, b, a]`), or null. Iterative, so a long chain does not overflow the stack.
 */
export function findCycle(graph: ReadonlyMap<string, readonly string[]>): string[] | null {
  const state = new Map<string, 1 | 2>(); // 1: on the current path, 2: done
  for (const root of graph.keys()) {
    if (state.has(root)) continue;
    const path: string[] = [];
    const stack: { node: string; next: number }[] = [{ node: root, next: 0 }];
    state.set(root, 1);
    path.push(root);
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const edges = graph.get(top.node) ?? [];
      if (top.next >= edges.length) {
        state.set(top.node, 2);
        stack.pop();
        path.pop();
        continue;
      }
      const to = edges[top.next++]!;
      const s = state.get(to);
      if (s === 1) return [...path.slice(path.indexOf(to)), to];
      if (s === undefined) {
        state.set(to, 1);
        path.push(to);
        stack.push({ node: to, next: 0 });
      }
    }
  }
  return null;
}
