// Trials asked for by an outside sampler (`backend: optuna`): the driver (Python, Optuna's
// ask/tell) samples the parameters and the server runs them. What it sends is checked here: the
// space's parameters, each value of its kind and within its range, so a trial the server runs is
// one the sweep file allows.
import { invalid } from '../errors.js';
import type { ParamSpec, ParamValue, Params } from './types.js';

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

function checkValue(name: string, p: ParamSpec | undefined, v: unknown): ParamValue {
  const field = `params.${name}`;
  if (typeof v !== 'string' && typeof v !== 'boolean' && (typeof v !== 'number' || !Number.isFinite(v))) throw invalid(field, `${JSON.stringify(v)} is not a string, a finite number or a boolean`);
  if (typeof v === 'string' && v.length > 1024) throw invalid(field, 'is longer than 1024 characters');
  if (!p) return v;
  if (p.kind === 'grid' || p.kind === 'choice') {
    if (!p.values.some((x) => x === v)) throw invalid(field, `${JSON.stringify(v)} is not one of the space's values (${p.values.map((x) => JSON.stringify(x)).join(', ')})`);
    return v;
  }
  if (typeof v !== 'number') throw invalid(field, `${JSON.stringify(v)}: the space's ${p.kind} range takes a number`);
  if (v < p.low || v > p.high) throw invalid(field, `${v} is outside the space's ${p.kind} range [${p.low}, ${p.high}]`);
  if (p.integer && !Number.isInteger(v)) throw invalid(field, `${v}: the space's range is of integers`);
  return v;
}

/**
 * The parameters of an asked trial, checked against the sweep's space: every parameter of the
 * space, each within it. With an empty space (the driver defines its own), any names and values.
 * @example checkAskedParams({lr: 0.01}, {lr: {kind: 'loguniform', low: 1e-5, high: 0.1, integer: false}})
 */
export function checkAskedParams(input: unknown, space: Readonly<Record<string, ParamSpec>>): Params {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw invalid('params', 'must be an object of parameter names to values');
  const names = Object.keys(input);
  if (names.length > 64) throw invalid('params', `${names.length} parameters: at most 64`);
  const out: Params = {};
  const defined = Object.keys(space).length > 0;
  for (const name of names) {
    if (!NAME_RE.test(name)) throw invalid(`params.${name}`, 'a parameter name is a letter or _ then letters, digits or _ (at most 64)');
    if (defined && !Object.hasOwn(space, name)) throw invalid(`params.${name}`, `is not in the sweep's space (${Object.keys(space).join(', ')})`);
    out[name] = checkValue(name, space[name], (input as Record<string, unknown>)[name]);
  }
  for (const name of Object.keys(space)) if (!Object.hasOwn(out, name)) throw invalid(`params.${name}`, 'is missing: every parameter of the space needs a value');
  return out;
}
