// `--autoscale PROVIDER:key=value,…` compiled once into a provider and a policy, with errors that
// name the flag and the key. The same flags for every provider:
//   local:max=4[,min=0,gpus=1xH100,cpus=4,memory=16GiB]
//   slurm:max=8[,min=0,partition=gpu,account=ml,time=8:00:00,gpu-model=A100,price=12.50,simulated-gpus=yes]
//   command:config=FILE,max=4[,min=0]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { AutoscalePolicy, HeadroomPolicy } from '../../core/autoscale/types.js';
import { findGpuModel } from '../../core/catalogue.js';
import { FastGpuError } from '../../core/errors.js';
import { parseMoney } from '../../core/pricing/money.js';
import { parseDuration, parseSize } from '../../core/quantity.js';
import { CommandProvider } from './command.js';
import { LocalProvider } from './local.js';
import { SlurmProvider } from './slurm.js';
import type { NodeProvider } from './types.js';

/** A bad `--autoscale` (or its config file): the message names the flag and the key. */
const bad = (message: string): FastGpuError => new FastGpuError('INVALID_ARGUMENT', message, '--autoscale');

export interface AutoscaleSpec {
  provider: 'local' | 'slurm' | 'command';
  max: number;
  min: number;
  options: Record<string, string>;
}

const KEYS: Record<AutoscaleSpec['provider'], readonly string[]> = {
  local: ['max', 'min', 'gpus', 'cpus', 'memory'],
  slurm: ['max', 'min', 'partition', 'account', 'time', 'gpu-model', 'price', 'simulated-gpus'],
  command: ['max', 'min', 'config'],
};

/** Parses `--autoscale`; every error names the flag. */
export function parseAutoscaleSpec(text: string, flag = '--autoscale'): AutoscaleSpec {
  const m = /^([a-z]+)(?::(.*))?$/.exec(text.trim());
  const provider = m?.[1];
  if (m === null || provider === undefined || !(provider in KEYS)) {
    throw bad(`${flag}: expected PROVIDER:max=N,… with PROVIDER one of ${Object.keys(KEYS).join(', ')}, got ${JSON.stringify(text)}`);
  }
  const p = provider as AutoscaleSpec['provider'];
  const options: Record<string, string> = {};
  for (const part of (m[2] ?? '').split(',').filter((x) => x.trim() !== '')) {
    const eq = part.indexOf('=');
    const key = (eq < 0 ? part : part.slice(0, eq)).trim();
    if (eq < 0) throw bad(`${flag}: ${JSON.stringify(part)} is not key=value`);
    if (!KEYS[p].includes(key)) throw bad(`${flag}: ${p} takes ${KEYS[p].join(', ')}; unknown key ${JSON.stringify(key)}`);
    options[key] = part.slice(eq + 1).trim();
  }
  const count = (key: string, dflt: number | null): number => {
    const v = options[key];
    if (v === undefined) {
      if (dflt === null) throw bad(`${flag}: ${p} needs ${key}=N (the most nodes it may lend)`);
      return dflt;
    }
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > 10_000) throw bad(`${flag}: ${key}: expected a whole number 0–10000, got ${JSON.stringify(v)}`);
    return n;
  };
  const max = count('max', null);
  const min = count('min', 0);
  if (min > max) throw bad(`${flag}: min=${min} is above max=${max}`);
  if (p === 'command' && options.config === undefined) throw bad(`${flag}: command needs config=FILE (its create, delete and list commands and its shapes)`);
  return { provider: p, max, min, options };
}

export interface PolicyFlags {
  idleTimeoutMs: number;
  pendingThresholdMs: number;
  cooldownMs: number;
  joinTimeoutMs?: number;
  maxHourly?: string;
  /** Warm headroom (`--spare-gpus`, `--forecast-factor`, `--forecast-window`); absent: none. */
  headroom?: HeadroomPolicy;
}

export function autoscalePolicy(spec: AutoscaleSpec, flags: PolicyFlags): AutoscalePolicy {
  return {
    pendingThresholdMs: flags.pendingThresholdMs,
    idleTimeoutMs: flags.idleTimeoutMs,
    cooldownMs: flags.cooldownMs,
    maxNodes: { [spec.provider]: spec.max },
    minNodes: { [spec.provider]: spec.min },
    ...(flags.joinTimeoutMs !== undefined ? { joinTimeoutMs: flags.joinTimeoutMs } : {}),
    ...(flags.maxHourly !== undefined ? { maxHourlyMicros: parseMoney(flags.maxHourly, '--max-cost-per-hour') } : {}),
    ...(flags.headroom !== undefined ? { headroom: flags.headroom } : {}),
  };
}

/** Where providers keep their files, and how to run `fastgpu` for an agent. */
export interface ProviderContext {
  dataDir: string;
  poolId: string;
  /** argv prefix that runs this FastGPU's CLI, e.g. [process.execPath, '<repo>/bin/fastgpu']. */
  fastgpu: readonly string[];
  log: (line: string) => void;
}

const commandConfig = z.strictObject({
  create: z.array(z.string().min(1)).min(1),
  delete: z.array(z.string().min(1)).min(1),
  list: z.array(z.string().min(1)).min(1),
  shapes: z
    .array(
      z.strictObject({
        name: z.string().min(1).max(128),
        gpuModel: z.string().min(1).nullable(),
        gpus: z.number().int().min(0).max(64),
        cpus: z.number().positive().max(4096),
        memory: z.union([z.string(), z.number()]),
        pricePerHour: z.union([z.string(), z.number()]).optional(),
      }),
    )
    .min(1),
});

export function buildProvider(spec: AutoscaleSpec, ctx: ProviderContext): NodeProvider {
  const o = spec.options;
  switch (spec.provider) {
    case 'local': {
      const gpus = o.gpus ?? '1xH100';
      const m = /^(\d+)x(.+)$/.exec(gpus);
      const model = m?.[2] === undefined ? undefined : findGpuModel(m[2]);
      if (m === null || model === undefined) throw bad(`--autoscale: gpus: expected COUNTxMODEL such as 1xH100, got ${JSON.stringify(gpus)}`);
      const cpus = o.cpus === undefined ? 4 : Number(o.cpus);
      if (!(cpus > 0 && cpus <= 4096)) throw bad(`--autoscale: cpus: expected a number of CPUs, got ${JSON.stringify(o.cpus)}`);
      const memoryMiB = parseSize(o.memory ?? '16GiB', '--autoscale: memory');
      return new LocalProvider({
        fastgpu: ctx.fastgpu,
        shapes: [
          {
            shape: gpus,
            gpuModel: model.name,
            gpuCount: Number(m[1]),
            gpuMemoryMiB: model.memoryMiB,
            gpuTflops: model.tflops,
            cpuMilli: Math.round(cpus * 1000),
            memoryMiB,
            agentFlags: ['--gpus', gpus, '--cpus', String(cpus), '--memory', `${memoryMiB}MiB`],
          },
        ],
        onOutput: (node, line) => ctx.log(`${node}: ${line}`),
      });
    }
    case 'slurm':
      return new SlurmProvider({
        stateDir: join(ctx.dataDir, 'slurm'),
        poolId: ctx.poolId,
        fastgpu: ctx.fastgpu,
        ...(o.partition !== undefined ? { partition: o.partition } : {}),
        ...(o.account !== undefined ? { account: o.account } : {}),
        ...(o.time !== undefined ? { timeLimit: o.time } : {}),
        ...(o['gpu-model'] !== undefined ? { gpuModel: o['gpu-model'] } : {}),
        ...(o.price !== undefined ? { nodeHourPrice: o.price } : {}),
        ...(yesNo(o['simulated-gpus'], 'simulated-gpus') ? { simulatedGpus: true } : {}),
      });
    case 'command': {
      const file = o.config ?? '';
      let raw: unknown;
      try {
        raw = parseYaml(readFileSync(file, 'utf8'), { maxAliasCount: 0 });
      } catch (e) {
        throw bad(`--autoscale: config ${file}: ${(e as Error).message}`);
      }
      const r = commandConfig.safeParse(raw);
      if (!r.success) {
        const issue = r.error.issues[0];
        throw bad(`--autoscale: config ${file}: ${issue?.path.join('.') || '(top)'}: ${issue?.message ?? 'invalid'}`);
      }
      return new CommandProvider({
        create: r.data.create,
        delete: r.data.delete,
        list: r.data.list,
        offers: r.data.shapes.map((s) => {
          const info = s.gpuModel === null ? undefined : findGpuModel(s.gpuModel);
          return {
            shape: s.name,
            gpuModel: s.gpuModel === null ? null : (info?.name ?? s.gpuModel),
            gpuCount: s.gpus,
            gpuMemoryMiB: info?.memoryMiB ?? 0,
            gpuTflops: info?.tflops ?? 0,
            cpuMilli: Math.round(s.cpus * 1000),
            memoryMiB: parseSize(s.memory, `--autoscale: config ${file}: shapes.${s.name}.memory`),
            ...(s.pricePerHour !== undefined ? { hourlyMicros: parseMoney(s.pricePerHour, `shapes.${s.name}.pricePerHour`) } : {}),
          };
        }),
      });
    }
  }
}

function yesNo(v: string | undefined, key: string): boolean {
  if (v === undefined || v === 'no' || v === 'false') return false;
  if (v === 'yes' || v === 'true') return true;
  throw bad(`--autoscale: ${key}: expected yes or no, got ${JSON.stringify(v)}`);
}

/** Durations for the policy flags (shared by `up` and `server`). */
export function durationFlag(v: string | undefined, flag: string, dflt: number): number {
  return v === undefined ? dflt : parseDuration(v, flag);
}
