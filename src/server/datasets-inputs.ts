// A task's data inputs at submit (issue 16): every dataset must exist for the task's tenant, and
// "the newest" is pinned to a version number now, so each attempt (a retry, a requeue after a
// lost node) stages the same bytes, and a later push does not change what a queued task reads.
import { invalid } from '../core/errors.js';
import { formatBytes } from '../core/data/dataset.js';
import { inputKeys } from '../core/data/locality.js';
import type { NodeRecord, Task, TaskSpec } from '../core/types.js';
import type { Assignment, RunningReport } from '../protocol/agent.js';
import type { Store } from '../store/port.js';

/**
 * Resolves `spec.inputs` in place: a missing dataset or version is an INVALID_ARGUMENT naming the
 * input (`inputs.0.dataset`). A spec without inputs is left alone.
 * @example await pinInputs(spec, store) // spec.inputs[0].version === 3 (the newest at submit)
 */
export async function pinInputs(spec: TaskSpec, store: Pick<Store, 'getDataset'>): Promise<void> {
  if (!spec.inputs) return;
  for (const [i, input] of spec.inputs.entries()) {
    const d = await store.getDataset(spec.tenant, input.dataset, input.version);
    if (d) {
      input.version = d.version;
      continue;
    }
    const any = input.version === undefined ? null : await store.getDataset(spec.tenant, input.dataset);
    throw invalid(
      `inputs.${i}.dataset`,
      any
        ? `dataset ${input.dataset} has no version ${input.version} (tenant ${spec.tenant}; the newest is ${any.version}; \`fastgpu data show ${input.dataset}\` lists them)`
        : `dataset ${input.dataset} not found (tenant ${spec.tenant}; push it first with \`fastgpu data push DIR ${input.dataset}\`, or see \`fastgpu data ls\`)`,
    );
  }
}

/** The inputs as an assignment carries them: with the tenant whose chunks the agent reads. */
export function assignmentInputs(spec: TaskSpec): NonNullable<Assignment['inputs']> {
  return (spec.inputs ?? []).map((i) => ({ tenant: spec.tenant, ...i }));
}

/**
 * A SCHEDULED task whose agent reports `staging`: reason Staging, with the progress in words
 * (`fastgpu ps`/`show` print them). Null when nothing changed (no write).
 */
export function stagingUpdate(t: Task, r: RunningReport): Task | null {
  if (t.state !== 'SCHEDULED') return null;
  const message = stagingMessage(r.staging);
  if (t.reason === 'Staging' && t.reasonMessage === message) return null;
  return { ...t, reason: 'Staging', reasonMessage: message };
}

/** `staging inputs: 1.5 GiB of 4.0 GiB (37 %)`. */
export function stagingMessage(p: RunningReport['staging']): string {
  if (!p || p.totalBytes === 0) return 'staging inputs';
  const pct = Math.floor((100 * Math.min(p.doneBytes, p.totalBytes)) / p.totalBytes);
  return `staging inputs: ${formatBytes(p.doneBytes)} of ${formatBytes(p.totalBytes)} (${pct} %)`;
}

/** For the task.scheduled event of a task with inputs: whether its node's cache held them all (`inputsCached`). */
export function localityNote(t: Task, node: NodeRecord | undefined): { inputsCached?: boolean } {
  if (!t.spec.inputs) return {};
  const held = node?.cache?.datasets ?? [];
  return { inputsCached: inputKeys(t).every((k) => held.includes(k)) };
}
