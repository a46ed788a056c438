// Flag values → typed values, each error naming its flag. Commands compile their raw
// commander options through these once, then work with the typed result.
import { Option, type Command } from 'commander';
import { FastGpuError } from '../core/errors.js';
import { parseCpu, parseDuration, parseSize } from '../core/quantity.js';
import { closest } from '../core/suggest.js';
import { FastGPU } from '../sdk/client.js';
import { readConfig, normaliseUrl } from '../sdk/config.js';
import { contextOf, type CliContext } from './context.js';

/** Bad flags or arguments: exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Runs a core parser and turns its FastGpuError into a UsageError (its message already names the flag). */
function viaCore<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof FastGpuError) throw new UsageError(e.message);
    throw e;
  }
}

/** A size with its unit (`512MiB`, `20GiB`): a bare number is refused, as `10` could mean MiB or GiB. */
export function sizeFlag(raw: string, flag: string): number {
  if (/^\s*(?:\d+(?:\.\d*)?|\.\d+)\s*$/.test(raw)) {
    throw new UsageError(`${flag}: ${JSON.stringify(raw)} has no unit; write e.g. ${raw.trim()}GiB or ${raw.trim()}MiB`);
  }
  return viaCore(() => parseSize(raw, flag));
}
/** A duration (`90s`, `2h`, `1d`), at most a year unless `maxMs` says otherwise. */
export const durationFlag = (raw: string, flag: string, maxMs?: number): number => viaCore(() => parseDuration(raw, flag, maxMs));
export const cpuFlag = (raw: string, flag: string): number => viaCore(() => parseCpu(raw, flag));

/** A whole number in [min, max]. */
export function intFlag(raw: string, flag: string, min: number, max: number): number {
  const s = raw.trim();
  const n = /^[+-]?\d+$/.test(s) ? Number(s) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`${flag}: ${JSON.stringify(raw)} is not a whole number from ${min} to ${max}`);
  }
  return n;
}

/** A positive finite number (at most `max`). */
export function numberFlag(raw: string, flag: string, max = Number.MAX_SAFE_INTEGER): number {
  const s = raw.trim();
  const n = /^(?:\d+(?:\.\d*)?|\.\d+)$/.test(s) ? Number(s) : NaN;
  if (!Number.isFinite(n) || n <= 0 || n > max) throw new UsageError(`${flag}: ${JSON.stringify(raw)} is not a positive number${max < Number.MAX_SAFE_INTEGER ? ` up to ${max}` : ''}`);
  return n;
}

/** The GPU request object forms the help shows: `{tflops: 20}`, `{fraction: 0.5, memory: 10GiB}`. */
export type GpuObjectFlag = { count?: number; model?: string; memory?: string | number; tflops?: number; fraction?: number };
const GPU_OBJECT_KEYS = ['count', 'model', 'memory', 'tflops', 'fraction'] as const;
const GPU_FORMS = "1, 0.5, A100:0.5, 2xH100, '{tflops: 20}', '{memory: 20GiB}' or '{fraction: 0.5, memory: 10GiB}'";

/**
 * A GPU request as typed: a number (`1`, `0.5`) becomes a number; a mapping in YAML flow or JSON
 * form (`{tflops: 20}`, `{"memory": "20GiB"}`) becomes an object; anything else (`A100:0.5`,
 * `2xH100`, `H100`) is passed on as a string for the server to read.
 */
export function gpuFlag(raw: string, flag: string): number | string | GpuObjectFlag {
  const s = raw.trim();
  if (s === '') throw new UsageError(`${flag}: is empty; use e.g. ${GPU_FORMS}`);
  if (s.startsWith('{')) return gpuObject(s, raw, flag);
  if (/^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?$/i.test(s) || /^[+-]?(nan|infinity)$/i.test(s)) {
    const n = Number(s);
    if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${flag}: ${JSON.stringify(raw)} must be a positive number of GPUs, e.g. 1 or 0.5`);
    if (n > 1 && !Number.isInteger(n)) throw new UsageError(`${flag}: ${JSON.stringify(raw)}: more than one GPU must be a whole number`);
    return n;
  }
  return s;
}

/** `{key: value, …}` with plain or quoted keys and values; numbers stay numbers. No nesting. */
function gpuObject(s: string, raw: string, flag: string): GpuObjectFlag {
  const bad = (why: string): UsageError => new UsageError(`${flag}: ${JSON.stringify(raw)}: ${why}; use e.g. ${GPU_FORMS}`);
  if (!s.endsWith('}')) throw bad('a mapping must end with }');
  const body = s.slice(1, -1).trim();
  if (body === '') throw bad('the mapping is empty');
  const out: Record<string, string | number> = {};
  for (const part of body.split(',')) {
    const m = /^\s*(["']?)([A-Za-z_]+)\1\s*:\s*(["']?)([^"'{}[\]]*?)\3\s*$/.exec(part);
    if (!m) throw bad(`cannot read ${JSON.stringify(part.trim())} as key: value`);
    const key = m[2]!;
    if (!(GPU_OBJECT_KEYS as readonly string[]).includes(key)) {
      const near = closest(key, GPU_OBJECT_KEYS);
      throw bad(`unknown field ${JSON.stringify(key)}${near ? ` (did you mean ${near}?)` : ''}`);
    }
    const value = m[4]!.trim();
    if (value === '') throw bad(`${key} has no value`);
    const quoted = m[3] !== '';
    out[key] = !quoted && /^(?:\d+(?:\.\d*)?|\.\d+)$/.test(value) ? Number(value) : value;
  }
  if (out.memory !== undefined) {
    if (typeof out.memory === 'number') throw bad(`memory ${out.memory} has no unit; write e.g. ${out.memory}GiB`);
    sizeFlag(out.memory, `${flag} memory`);
  }
  return out as GpuObjectFlag;
}

/** `K=V` pairs; the key must be a valid environment variable name. */
export function envFlags(list: readonly string[], flag: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const item of list) {
    const eq = item.indexOf('=');
    const key = eq < 0 ? item : item.slice(0, eq);
    if (eq < 0 || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
      throw new UsageError(`${flag}: ${JSON.stringify(item)} is not KEY=VALUE with KEY a variable name`);
    }
    env[key] = item.slice(eq + 1);
  }
  return env;
}

export type OutputFormat = 'table' | 'json';

export function outputFlag(raw: string | undefined): OutputFormat {
  if (raw === undefined || raw === 'table') return 'table';
  if (raw === 'json') return 'json';
  throw new UsageError(`--output: ${JSON.stringify(raw)} is not one of table, json`);
}

/** Adds `--output FORMAT`. */
export function withOutput(cmd: Command): Command {
  return cmd.addOption(new Option('-o, --output <format>', 'table or json').choices(['table', 'json']));
}

/** Repeatable flag collector for commander. */
export const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/** Adds `--server URL` and `--token T` (defaults: FASTGPU_URL/FASTGPU_TOKEN, then the config `up` saved). */
export function withConnection(cmd: Command): Command {
  return cmd
    .option('--server <url>', 'FastGPU server address (default: $FASTGPU_URL, then the config `fastgpu up` saved)')
    .option('--token <token>', 'API token (default: $FASTGPU_TOKEN, then the saved config)')
    .option('--ca <file>', 'trust this CA certificate (PEM) for an https server (default: $FASTGPU_CA, then the saved config)');
}

/**
 * Why no token is sent, when that is because the saved one belongs to another address
 * (`--server http://localhost:7070` while `up` saved `http://127.0.0.1:7070`): the saved token
 * is only ever sent to the address it was saved for.
 */
function savedTokenNote(o: { server?: string; token?: string }, env: CliContext['env']): string | undefined {
  const url = o.server ?? env.FASTGPU_URL;
  if (url === undefined || url.trim() === '' || (o.token ?? env.FASTGPU_TOKEN ?? '').trim() !== '') return undefined;
  try {
    const saved = readConfig(env);
    if (saved === undefined || normaliseUrl(saved.url) === normaliseUrl(url)) return undefined;
    return `no token was sent: the token \`fastgpu up\` saved is for ${normaliseUrl(saved.url)} and is only sent there, not to ${normaliseUrl(url)}; use --server ${normaliseUrl(saved.url)}, or pass --token (or set FASTGPU_TOKEN)`;
  } catch {
    return undefined; // a broken config or URL is reported by the client itself
  }
}

/** The SDK client for a command given `withConnection`'s flags. */
export function clientFor(cmd: Command): FastGPU {
  const ctx = contextOf(cmd);
  const o = cmd.opts<{ server?: string; token?: string; ca?: string }>();
  ctx.tokenNote = savedTokenNote(o, ctx.env);
  return new FastGPU({
    ...(o.server !== undefined ? { url: o.server } : {}),
    ...(o.token !== undefined ? { token: o.token } : {}),
    ...(o.ca !== undefined ? { ca: o.ca } : {}),
    env: ctx.env,
  });
}
