// What the control loop asks before each scheduling cycle (issue 14): which pending tasks may be
// placed now. A task whose dependencies are not met yet waits (`Dependency`); one whose
// dependencies can never be met is to be cancelled; an array element beyond its array's %N cap
// waits (`ArrayTaskLimit`). The verdicts are core's (deps.ts, array.ts); this class finds the
// dependency targets: live tasks in memory, finished ones in the store, read once and cached
// (a finished task never changes; an array with no live element is finished for good).
import { arrayLimitMessage, capArrays } from '../core/array.js';
import { judgeDependencies, taskTarget, type DependencyTarget } from '../core/deps.js';
import { TERMINAL_STATES, type PendingReason, type Task } from '../core/types.js';
import type { Store } from '../store/port.js';

const FAILED_STATES = TERMINAL_STATES.filter((s) => s !== 'SUCCEEDED');
/** FASTGPU_RESULTS is one environment string: Linux caps one at 128 KiB. */
export const MAX_RESULTS_BYTES = 120 * 1024;
const isArrayId = (id: string): boolean => id.startsWith('a_');

export interface GateResult {
  /** Pending tasks the scheduler may place this cycle. */
  eligible: Task[];
  /** Pending tasks that wait, with the reason to show. */
  held: { task: Task; reason: PendingReason; message: string }[];
  /** Pending tasks whose dependencies can never be met: cancel them, reason Dependency. */
  doomed: { task: Task; message: string }[];
}

export class DependencyGate {
  /** Finished targets (tasks and arrays), final: never read again. */
  private readonly final = new Map<string, DependencyTarget | null>();
  /** Arrays known to have an element that ended other than SUCCEEDED. */
  private readonly failedArrays = new Set<string>();
  /** Arrays whose failed elements were looked up in the store (once per process). */
  private readonly checkedArrays = new Set<string>();
  /** Results of finished arrays that a pending reduce step waits for: FASTGPU_RESULTS's text. */
  private readonly results = new Map<string, string>();

  constructor(private readonly store: Pick<Store, 'getTask' | 'listTasks'>) {}

  /** A live task reached a terminal state (control's put): arrays learn of a failure at once. */
  finished(t: Task): void {
    if (t.array && t.state !== 'SUCCEEDED') this.failedArrays.add(t.array.id);
  }

  /**
   * Read from the store what the pending tasks' dependencies name and memory does not hold.
   * `live` are all live tasks. Async, so the caller runs it before its synchronous cycle.
   */
  async prepare(pending: readonly Task[], live: ReadonlyMap<string, Task>, liveArrays: ReadonlySet<string>): Promise<void> {
    const wanted = new Set<string>();
    for (const t of pending) for (const d of t.after ?? []) if (!this.final.has(d.id)) wanted.add(d.id);
    for (const t of pending) {
      const f = t.reduce !== undefined ? this.final.get(t.reduce) : undefined;
      if (t.reduce !== undefined && f?.finished && !f.anyFailed && !this.results.has(t.reduce)) {
        const elements = await this.store.listTasks({ arrayId: t.reduce, limit: 1_000_000 });
        elements.sort((a, b) => a.array!.index - b.array!.index);
        this.results.set(t.reduce, JSON.stringify(elements.map((e) => e.result ?? null)));
      }
    }
    for (const id of wanted) {
      if (isArrayId(id)) {
        if (!liveArrays.has(id)) {
          const any = await this.store.listTasks({ arrayId: id, limit: 1 });
          const failed = any.length > 0 && (this.failedArrays.has(id) || (await this.store.listTasks({ arrayId: id, states: FAILED_STATES, limit: 1 })).length > 0);
          this.final.set(id, any.length === 0 ? null : arrayTarget(id, true, failed));
        } else if (!this.checkedArrays.has(id)) {
          this.checkedArrays.add(id);
          if ((await this.store.listTasks({ arrayId: id, states: FAILED_STATES, limit: 1 })).length > 0) this.failedArrays.add(id);
        }
      } else if (!live.has(id)) {
        const t = await this.store.getTask(id);
        // A task not live and not terminal in the store raced a write: judged again next cycle.
        if (!t) this.final.set(id, null);
        else if (TERMINAL_STATES.includes(t.state)) this.final.set(id, taskTarget(id, t.state));
      }
    }
  }

  /** The results text of a finished array a reduce step waits for (loaded by prepare). */
  resultsOf(arrayId: string): string | undefined {
    return this.results.get(arrayId);
  }

  /** Sort the pending tasks (synchronous: call `prepare` first with the same tasks). */
  judge(pending: readonly Task[], active: readonly Task[], live: ReadonlyMap<string, Task>, liveArrays: ReadonlySet<string>): GateResult {
    const targetOf = (id: string): DependencyTarget | undefined => {
      const f = this.final.get(id);
      if (f !== undefined) return f ?? undefined;
      if (isArrayId(id)) return liveArrays.has(id) ? arrayTarget(id, false, this.failedArrays.has(id)) : undefined;
      const t = live.get(id);
      // Not live, not read yet (it finished after prepare): wait for the next cycle.
      return t ? taskTarget(id, t.state) : { finished: false, anyFailed: false, label: `task ${id}` };
    };
    const ready: Task[] = [];
    const held: GateResult['held'] = [];
    const doomed: GateResult['doomed'] = [];
    for (const t of pending) {
      if (!t.after) {
        ready.push(t);
        continue;
      }
      const v = judgeDependencies(t.after, targetOf);
      const results = t.reduce !== undefined ? this.results.get(t.reduce) : undefined;
      if (v.kind === 'met' && t.reduce !== undefined && results === undefined) held.push({ task: t, reason: 'Dependency', message: `Collecting the results of ${t.reduce}` });
      else if (v.kind === 'met' && results !== undefined && Buffer.byteLength(results) > MAX_RESULTS_BYTES) {
        doomed.push({ task: t, message: `The results of ${t.reduce} are ${Buffer.byteLength(results)} bytes as JSON, more than FASTGPU_RESULTS carries (${MAX_RESULTS_BYTES}); read them with GET /v1/arrays/${t.reduce}/results instead` });
      } else if (v.kind === 'met') ready.push(t);
      else if (v.kind === 'waiting') held.push({ task: t, reason: 'Dependency', message: v.message });
      else doomed.push({ task: t, message: v.message });
    }
    const { eligible, held: capped } = capArrays(ready, active);
    for (const t of capped) held.push({ task: t, reason: 'ArrayTaskLimit', message: arrayLimitMessage(t.array!.id, t.array!.max!) });
    return { eligible, held, doomed };
  }
}

/** A reduce step's environment once placed: its spec's, plus FASTGPU_RESULTS (its array's results by index). */
export function resultsEnv(gate: DependencyGate, t: Task): Record<string, string> | undefined {
  const text = t.reduce !== undefined ? gate.resultsOf(t.reduce) : undefined;
  return text === undefined ? undefined : { ...t.spec.env, FASTGPU_RESULTS: text };
}

function arrayTarget(id: string, finished: boolean, anyFailed: boolean): DependencyTarget {
  const label = anyFailed ? `array ${id} has an element that did not succeed` : finished ? `array ${id} finished` : `array ${id} is running`;
  return { finished, anyFailed, label };
}

/** Ids of the arrays that have a live element. */
export function liveArrayIds(live: Iterable<Task>): Set<string> {
  const out = new Set<string>();
  for (const t of live) if (t.array) out.add(t.array.id);
  return out;
}
