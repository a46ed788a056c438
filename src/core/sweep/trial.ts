// A trial's task spec: the sweep's template with its parameters filled in. `{name}` in the
// command becomes the value (only for names in the space, so a shell's `${HOME}` is left alone),
// and every parameter is in the environment too: FASTGPU_PARAMS (JSON) and FASTGPU_PARAM_<NAME>.
import type { TaskSpec } from '../types.js';
import type { ParamValue, Params } from './types.js';

/** A parameter value as it appears in a command line or an environment variable. */
export function formatParam(v: ParamValue): string {
  return typeof v === 'number' ? String(v) : typeof v === 'boolean' ? (v ? 'true' : 'false') : v;
}

/** Replaces `{name}` for each parameter name (longest first so `{lr}` never eats `{lr_decay}`). */
export function fillCommand(arg: string, params: Params): string {
  let out = arg;
  for (const name of Object.keys(params).sort((a, b) => b.length - a.length)) {
    out = out.split(`{${name}}`).join(formatParam(params[name]!));
  }
  return out;
}

/**
 * The spec of trial `index` of sweep `sweepId`.
 * @example trialSpec(spec.template, 's_1', 3, {lr: 0.01}) // command with {lr} → 0.01, FASTGPU_PARAM_LR=0.01
 */
export function trialSpec(template: TaskSpec, sweepId: string, index: number, params: Params): TaskSpec {
  const env: Record<string, string> = { ...template.env, FASTGPU_SWEEP_ID: sweepId, FASTGPU_TRIAL: String(index), FASTGPU_PARAMS: JSON.stringify(params) };
  for (const [name, v] of Object.entries(params)) env[`FASTGPU_PARAM_${name.toUpperCase()}`] = formatParam(v);
  return {
    ...template,
    name: `${template.name}-${index}`,
    command: template.command.map((a) => fillCommand(a, params)),
    env,
  };
}
