// Shared by `up`, `server` and `agent`: option compiling, the GPU banner, and running until a
// signal, then shutting down in order.
import { accessSync, constants } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { parseSimulatedGpus } from '../core/catalogue.js';
import { FastGpuError } from '../core/errors.js';
import type { HeadroomPolicy } from '../core/autoscale/types.js';
import type { Gpu } from '../core/types.js';
import { fastgpuHome } from '../sdk/config.js';
import { compileSampleRetention, MAX_SAMPLE_RETENTION_MS, type SampleRetention } from '../server/retention.js';
import { parseAutoscaleSpec, type AutoscaleSpec, type PolicyFlags } from '../server/providers/config.js';
import type { Command } from 'commander';
import { contextOf, type CliContext } from './context.js';
import { UsageError, cpuFlag, durationFlag, intFlag, sizeFlag } from './flags.js';

export const DEFAULT_PORT = 7070;

export interface AutoscaleFlags {
  spec: AutoscaleSpec;
  policy: PolicyFlags;
}
export const DEFAULT_GPUS = '2xH100';

export interface RawServerFlags {
  dataDir?: string;
  port?: string;
  host?: string;
  nodeLostAfter?: string;
  /** How long utilisation samples are kept: raw, minute rollups, hour rollups. */
  samplesRaw?: string;
  samplesMinute?: string;
  samplesHour?: string;
  logsRetention?: string;
  /** `--autoscale PROVIDER:max=N,…` and its policy flags. */
  autoscale?: string;
  idleTimeout?: string;
  scaleAfter?: string;
  scaleCooldown?: string;
  joinTimeout?: string;
  maxCostPerHour?: string;
  spareGpus?: string;
  spareNodes?: string;
  forecastFactor?: string;
  forecastWindow?: string;
  defaultTimeLimit?: string;
  quiet?: boolean;
  /** TLS (issue 11): a pair of PEM files, or a self-signed pair made in the data dir. */
  tlsCert?: string;
  tlsKey?: string;
  tlsSelfSigned?: boolean;
  /** Extra names or addresses for the self-signed certificate. */
  tlsSan?: string[];
}

export interface ServerFlags {
  dataDir: string;
  port: number;
  host: string;
  nodeLostAfterMs?: number;
  /** Only when a `--samples-*` flag was given; the server's defaults otherwise. */
  sampleRetention?: SampleRetention;
  /** Only with `--logs-retention`: logs are kept forever otherwise. */
  logsRetentionMs?: number;
  /** Only with `--autoscale`. */
  autoscale?: AutoscaleFlags;
  /** Only with `--default-time-limit`: untimed tasks run until they end otherwise. */
  defaultTimeLimitMs?: number;
  quiet: boolean;
}

const RETENTION_FLAGS = { rawMs: '--samples-raw', minuteMs: '--samples-minute', hourMs: '--samples-hour' } as const;

/** The `--samples-*` flags: each a duration of up to ten years, each tier kept at least as long as the finer one. */
function retentionFlags(raw: RawServerFlags): SampleRetention | undefined {
  const given: Partial<SampleRetention> = {};
  const flags = [['rawMs', raw.samplesRaw], ['minuteMs', raw.samplesMinute], ['hourMs', raw.samplesHour]] as const;
  for (const [key, v] of flags) if (v !== undefined) given[key] = durationFlag(v, RETENTION_FLAGS[key], MAX_SAMPLE_RETENTION_MS);
  if (Object.keys(given).length === 0) return undefined;
  try {
    return compileSampleRetention(given, RETENTION_FLAGS);
  } catch (e) {
    if (e instanceof FastGpuError) throw new UsageError(e.message);
    throw e;
  }
}

export function compileServerFlags(raw: RawServerFlags, ctx: CliContext): ServerFlags {
  const dataDir = raw.dataDir !== undefined ? nonEmpty(raw.dataDir, '--data-dir') : join(fastgpuHome(ctx.env), 'data');
  const out: ServerFlags = {
    dataDir: resolve(ctx.cwd, dataDir),
    port: raw.port === undefined ? DEFAULT_PORT : intFlag(raw.port, '--port', 0, 65535),
    host: raw.host === undefined ? '127.0.0.1' : nonEmpty(raw.host, '--host'),
    quiet: raw.quiet === true,
  };
  if (raw.nodeLostAfter !== undefined) out.nodeLostAfterMs = durationFlag(raw.nodeLostAfter, '--node-lost-after');
  const retention = retentionFlags(raw);
  if (retention) out.sampleRetention = retention;
  if (raw.autoscale !== undefined) out.autoscale = autoscaleFlags(raw);
  else {
    const stray = (['idleTimeout', 'scaleAfter', 'scaleCooldown', 'joinTimeout', 'maxCostPerHour', 'spareGpus', 'spareNodes', 'forecastFactor', 'forecastWindow'] as const).find((k) => raw[k] !== undefined);
    if (stray !== undefined) throw new UsageError(`--${stray.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} needs --autoscale`);
  }
  if (raw.logsRetention !== undefined) {
    out.logsRetentionMs = durationFlag(raw.logsRetention, '--logs-retention', MAX_SAMPLE_RETENTION_MS);
    if (out.logsRetentionMs < 3_600_000) throw new UsageError(`--logs-retention: ${raw.logsRetention.trim()} is under an hour; logs would go while people still read them`);
  }
  if (raw.defaultTimeLimit !== undefined) out.defaultTimeLimitMs = durationFlag(raw.defaultTimeLimit, '--default-time-limit');
  return out;
}

/** `--autoscale` and its policy flags, compiled and checked before anything starts. */
function autoscaleFlags(raw: RawServerFlags): AutoscaleFlags {
  try {
    const spec = parseAutoscaleSpec(raw.autoscale ?? '');
    return {
      spec,
      policy: {
        idleTimeoutMs: raw.idleTimeout === undefined ? 300_000 : durationFlag(raw.idleTimeout, '--idle-timeout'),
        pendingThresholdMs: raw.scaleAfter === undefined ? 30_000 : durationFlag(raw.scaleAfter, '--scale-after'),
        cooldownMs: raw.scaleCooldown === undefined ? 30_000 : durationFlag(raw.scaleCooldown, '--scale-cooldown'),
        joinTimeoutMs: raw.joinTimeout === undefined ? 600_000 : durationFlag(raw.joinTimeout, '--join-timeout'),
        ...(raw.maxCostPerHour !== undefined ? { maxHourly: raw.maxCostPerHour } : {}),
        ...headroomFlags(raw),
      },
    };
  } catch (e) {
    if (e instanceof FastGpuError) throw new UsageError(e.message);
    throw e;
  }
}

/** `--spare-gpus`, `--spare-nodes`, `--forecast-factor`, `--forecast-window`: the warm headroom, when one is asked for. */
function headroomFlags(raw: RawServerFlags): { headroom?: HeadroomPolicy } {
  if (raw.spareGpus === undefined && raw.spareNodes === undefined && raw.forecastFactor === undefined) {
    if (raw.forecastWindow !== undefined) throw new UsageError('--forecast-window needs --forecast-factor');
    return {};
  }
  const spareGpus = raw.spareGpus === undefined ? 0 : intFlag(raw.spareGpus, '--spare-gpus', 0, 10_000);
  const spareNodes = raw.spareNodes === undefined ? 0 : intFlag(raw.spareNodes, '--spare-nodes', 0, 1_000);
  const factor = raw.forecastFactor === undefined ? 0 : Number(raw.forecastFactor.trim());
  if (raw.forecastFactor !== undefined && (raw.forecastFactor.trim() === '' || !Number.isFinite(factor) || factor < 0 || factor > 100)) {
    throw new UsageError(`--forecast-factor: expected a number 0–100, got ${JSON.stringify(raw.forecastFactor)}`);
  }
  const forecastWindowMs = raw.forecastWindow === undefined ? 120_000 : durationFlag(raw.forecastWindow, '--forecast-window');
  return { headroom: { spareGpus, ...(spareNodes > 0 ? { spareNodes } : {}), forecastFactor: factor, forecastWindowMs } };
}

/** The autoscaling flags shared by `up` and `server`. */
export function addAutoscaleFlags(cmd: Command): Command {
  return cmd
    .option('--autoscale <spec>', 'grow and shrink the pool: local:max=4[,gpus=1xH100], slurm:max=8[,partition=P,account=A,time=8:00:00], command:config=FILE,max=N')
    .option('--idle-timeout <duration>', 'with --autoscale: give a node back after it sat empty this long (default 5m)')
    .option('--scale-after <duration>', 'with --autoscale: ask for nodes once demand waited this long for room (default 30s)')
    .option('--scale-cooldown <duration>', 'with --autoscale: time between two scale-outs, or two scale-ins (default 30s)')
    .option('--join-timeout <duration>', 'with --autoscale: give back a node whose agent did not join within this (default 10m)')
    .option('--max-cost-per-hour <amount>', 'with --autoscale: the most the lent nodes may cost per hour together')
    .option('--spare-gpus <n>', 'with --autoscale: warm headroom: keep this many idle GPUs ready ahead of demand (default 0)')
    .option('--spare-nodes <n>', 'with --autoscale: warm headroom: keep this many whole empty nodes (of the widest offer) ready, for tasks that need a whole node (default 0)')
    .option('--forecast-factor <x>', 'with --autoscale: scale ahead: keep room for what arrived in the last --forecast-window again, times this (default 0: off)')
    .option('--forecast-window <duration>', 'with --autoscale: how far back the scale-ahead forecast looks; about a node\'s boot time (default 2m)');
}
export const DEFAULT_TIME_LIMIT_HELP = 'time limit of a task that sets none, e.g. 4h; lets backfill start short work around a big task (default: none)';

/** Checks a `--gpus` spec here, so a typo is a usage error before anything starts. */
export function gpusFlag(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  try {
    parseSimulatedGpus(raw, '--gpus');
  } catch (e) {
    if (e instanceof FastGpuError) throw new UsageError(e.message);
    throw e;
  }
  return raw.trim();
}

/** `--cpus` and `--memory` of `up`/`agent`: what the node declares instead of what the host has. */
export function nodeSizeFlags(raw: { cpus?: string; memory?: string }): { cpuMilli?: number; memoryMiB?: number } {
  const out: { cpuMilli?: number; memoryMiB?: number } = {};
  if (raw.cpus !== undefined) out.cpuMilli = cpuFlag(raw.cpus, '--cpus');
  if (raw.memory !== undefined) out.memoryMiB = sizeFlag(raw.memory, '--memory');
  return out;
}

export const SHARING_HELP =
  'how real GPUs are shared: exclusive, mps (FastGPU runs the MPS control daemon and caps each slice) or timeslice (default: mps when an MPS daemon runs, else exclusive)';

/** `--sharing`: how real GPUs are shared (issue 23). */
export function sharingFlag(raw: string | undefined): 'exclusive' | 'mps' | 'timeslice' | undefined {
  if (raw === undefined) return undefined;
  const v = raw.trim();
  if (v === 'exclusive' || v === 'mps' || v === 'timeslice') return v;
  throw new UsageError(`--sharing: ${JSON.stringify(raw)} is not one of exclusive, mps, timeslice`);
}

export function nonEmpty(raw: string, flag: string): string {
  if (raw.trim() === '') throw new UsageError(`${flag}: is empty`);
  return raw.trim();
}

/** `2xH100-80GB,1xT4`: GPUs counted by model, in order of first appearance. */
export function summariseGpus(gpus: readonly Pick<Gpu, 'model'>[]): string {
  const counts = new Map<string, number>();
  for (const g of gpus) counts.set(g.model, (counts.get(g.model) ?? 0) + 1);
  return [...counts].map(([m, n]) => `${n}x${m}`).join(',');
}

/** One line saying which GPUs a local agent uses and why. */
export function gpuBanner(agent: { gpus: readonly Gpu[]; simulated: boolean }, requested: string | undefined, env: CliContext['env']): string {
  const n = agent.gpus.length;
  const what = `${n} ${agent.simulated ? 'simulated ' : ''}GPU${n === 1 ? '' : 's'} (${summariseGpus(agent.gpus) || 'none'})`;
  if (!agent.simulated) return `using ${what} found by nvidia-smi`;
  if (requested !== undefined) return `using ${what} from --gpus ${requested}`;
  return `using ${what}: ${onPath('nvidia-smi', env) ? 'nvidia-smi found no GPUs' : 'no nvidia-smi found'}; pass --gpus to declare others`;
}

function onPath(exe: string, env: CliContext['env']): boolean {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    try {
      accessSync(join(dir, exe), constants.X_OK);
      return true;
    } catch {
      // not here
    }
  }
  return false;
}

/** A clear message for the usual reason a server cannot listen. */
export function listenError(e: unknown, host: string, port: number): Error {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') {
    return new Error(`port ${port} on ${host} is already in use (another \`fastgpu up\`?); pass --port N, or --port 0 for any free port`);
  }
  if (code === 'EACCES') return new Error(`not allowed to listen on ${host}:${port}; pick a port above 1023 with --port`);
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') return new Error(`--host: cannot listen on ${host}: no such local address`);
  return e instanceof Error ? e : new Error(String(e));
}

/** Resolves with the first SIGINT/SIGTERM. */
export function untilInterrupted(ctx: CliContext): Promise<NodeJS.Signals> {
  return new Promise((done) => {
    const off = ctx.onInterrupt((s) => {
      off();
      done(s);
    });
  });
}

/** A log sink for server and agent lines: stderr unless --quiet. */
export function logSink(ctx: CliContext, quiet: boolean, prefix: string): (line: string) => void {
  return quiet ? () => undefined : (line) => void ctx.stderr.write(`${prefix}${line}\n`);
}

/**
 * Wraps a daemon command's action: if it fails, the process still ends soon after `main` has
 * reported the error, even if a half-started part left a timer or socket open. Only when the CLI
 * owns the process: run in-process (tests), the caller's process goes on.
 */
export function daemonAction<A extends [...unknown[], Command]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (e) {
      if (contextOf(args[args.length - 1] as Command).ownsProcess) setTimeout(() => process.exit(), 1_500).unref();
      throw e;
    }
  };
}
