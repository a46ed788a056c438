// What the control plane needs of task outputs (issue 16), apart from the routes
// (datasets-outputs.ts) so that the control plane does not import route modules.
import { formatBytes } from '../core/data/dataset.js';
import type { Task } from '../core/types.js';
import type { Assignment, RunningReport } from '../protocol/agent.js';

/** The outputs as an assignment carries them. */
export function assignmentOutputs(t: Task): NonNullable<Assignment['outputs']> {
  return (t.spec.outputs ?? []).map((o) => ({ path: o.path, dataset: o.dataset }));
}

/**
 * A RUNNING task whose agent reports `uploading`: reason Uploading with the progress in words.
 * Null when nothing changed (no write).
 */
export function uploadingUpdate(t: Task, r: RunningReport): Task | null {
  if (t.state !== 'RUNNING') return null;
  const p = r.uploading;
  const message =
    !p || p.totalBytes === 0 ? 'uploading outputs' : `uploading outputs: ${formatBytes(p.doneBytes)} of ${formatBytes(p.totalBytes)} (${Math.floor((100 * Math.min(p.doneBytes, p.totalBytes)) / p.totalBytes)} %)`;
  if (t.reason === 'Uploading' && t.reasonMessage === message) return null;
  return { ...t, reason: 'Uploading', reasonMessage: message };
}
