// What a node has: GPUs found by nvidia-smi or declared (`--gpus 4xH100`), CPU and RAM from the
// OS, and utilisation samples for heartbeats.
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { availableParallelism, totalmem } from 'node:os';
import type { Gpu, SharingMode } from '../core/types.js';
import { findGpuModel, parseSimulatedGpus } from '../core/catalogue.js';

/** How real GPUs are shared; `simulated` is for declared devices only. */
export type RealSharing = Exclude<SharingMode, 'simulated'>;

export interface NvidiaSmiOptions {
  /** Path or name of nvidia-smi; default `nvidia-smi` on PATH. */
  nvidiaSmi?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface NvidiaDiscovery {
  gpus: Gpu[];
  /** Why no GPUs were found, in words for the person starting the agent. */
  problem?: string;
}

export interface GpuSample {
  gpuIndex: number;
  utilPercent: number;
  memoryUsedMiB: number;
}

const GPU_QUERY = '--query-gpu=index,uuid,name,memory.total';
const SAMPLE_QUERY = '--query-gpu=index,utilization.gpu,memory.used';
const CSV = '--format=csv,noheader,nounits';

type RunResult = { ok: true; stdout: string } | { ok: false; problem: string };

function runSmi(args: string[], opts: NvidiaSmiOptions): Promise<RunResult> {
  const bin = opts.nvidiaSmi ?? 'nvidia-smi';
  return new Promise((resolve) => {
    execFile(
      bin,
      args,
      { timeout: opts.timeoutMs ?? 10_000, maxBuffer: 1 << 20, encoding: 'utf8', ...(opts.signal ? { signal: opts.signal } : {}) },
      (err, stdout, stderr) => {
        if (!err) return resolve({ ok: true, stdout });
        const e = err as NodeJS.ErrnoException & { code?: string | number; killed?: boolean; signal?: string };
        const said = `${stdout}${stderr}`.trim().split('\n')[0] ?? '';
        if (e.code === 'ENOENT') resolve({ ok: false, problem: `${bin} not found` });
        else if (e.code === 'EACCES') resolve({ ok: false, problem: `${bin} is not executable` });
        else if (e.name === 'AbortError') resolve({ ok: false, problem: `${bin} was aborted` });
        else if (e.killed || e.signal) resolve({ ok: false, problem: `${bin} did not answer within ${opts.timeoutMs ?? 10_000} ms` });
        else resolve({ ok: false, problem: `${bin} failed (exit ${String(e.code)})${said ? `: ${said}` : ''}` });
      },
    );
  });
}

/** Splits nvidia-smi's `csv,noheader,nounits` output into rows of trimmed fields. */
function csvRows(stdout: string): string[][] {
  return stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .map((l) => l.split(',').map((f) => f.trim()));
}

const isInt = (s: string | undefined): s is string => s !== undefined && /^\d+$/.test(s);

/**
 * Parses the GPU query's output into GPUs, or says which line is not what nvidia-smi prints.
 * @example parseGpuCsv('0, GPU-5a1c…, NVIDIA H100 80GB HBM3, 81559\n', 'exclusive') // [{model: 'H100-80GB', tflops: 989, …}]
 */
export function parseGpuCsv(stdout: string, sharing: RealSharing): { gpus: Gpu[] } | { problem: string } {
  const gpus: Gpu[] = [];
  const rows = csvRows(stdout);
  for (const [i, row] of rows.entries()) {
    const [index, uuid, name, mem] = row;
    if (row.length !== 4 || !isInt(index) || !uuid || !/^(GPU|MIG)-/.test(uuid) || !name || !isInt(mem) || Number(mem) === 0) {
      return { problem: `nvidia-smi printed something that is not the expected CSV (line ${i + 1}: ${JSON.stringify(row.join(', ').slice(0, 120))})` };
    }
    const model = findGpuModel(name);
    gpus.push({
      index: Number(index),
      uuid,
      // Unknown models keep their product name and no TFLOPS: TFLOPS requests cannot land there.
      model: model?.name ?? name,
      memoryMiB: Number(mem),
      tflops: model?.tflops ?? 0,
      sharing,
    });
  }
  return { gpus };
}

/** Real GPUs through nvidia-smi. Never throws: no GPUs comes with the reason. */
export async function discoverNvidiaGpus(opts: NvidiaSmiOptions & { sharing?: RealSharing } = {}): Promise<NvidiaDiscovery> {
  const r = await runSmi([GPU_QUERY, CSV], opts);
  if (!r.ok) {
    // nvidia-smi's way of saying "driver, but no GPU".
    if (/No devices were found/i.test(r.problem)) return { gpus: [], problem: 'nvidia-smi found no GPUs' };
    return { gpus: [], problem: r.problem };
  }
  const sharing = opts.sharing ?? ((await mpsDaemonRunning()) ? 'mps' : 'exclusive');
  const parsed = parseGpuCsv(r.stdout, sharing);
  if ('problem' in parsed) return { gpus: [], problem: parsed.problem };
  if (parsed.gpus.length === 0) return { gpus: [], problem: 'nvidia-smi found no GPUs' };
  return parsed;
}

/** Utilisation of real GPUs; unknown values (`[N/A]`) count as 0. Empty when nvidia-smi fails. */
export async function sampleNvidiaGpus(opts: NvidiaSmiOptions = {}): Promise<GpuSample[]> {
  const r = await runSmi([SAMPLE_QUERY, CSV], opts);
  if (!r.ok) return [];
  const out: GpuSample[] = [];
  for (const [index, util, mem] of csvRows(r.stdout)) {
    if (!isInt(index)) continue;
    const u = Number(util);
    const m = Number(mem);
    out.push({
      gpuIndex: Number(index),
      utilPercent: Number.isFinite(u) ? Math.min(100, Math.max(0, u)) : 0,
      memoryUsedMiB: Number.isFinite(m) ? Math.max(0, m) : 0,
    });
  }
  return out;
}

/** True when an NVIDIA MPS control daemon runs on this machine (so GPUs can be shared with caps). */
export async function mpsDaemonRunning(): Promise<boolean> {
  let pids: string[];
  try {
    pids = (await readdir('/proc')).filter((p) => /^\d+$/.test(p));
  } catch {
    return false;
  }
  for (const pid of pids) {
    try {
      if ((await readFile(`/proc/${pid}/comm`, 'utf8')).startsWith('nvidia-cuda-mps')) return true;
    } catch {
      // gone meanwhile
    }
  }
  return false;
}

/**
 * Declared devices. Uuids depend only on the node name and index, so a restarted agent keeps
 * its GPUs' identities.
 * @example simulatedGpus('2xA100-40GB,1xT4', 'box')[2] // {index: 2, uuid: 'GPU-sim-box-2', model: 'T4', …}
 */
export function simulatedGpus(spec: string, nodeName: string): Gpu[] {
  const safeName = nodeName.replace(/[^A-Za-z0-9.-]/g, '-');
  const gpus: Gpu[] = [];
  for (const { model, count } of parseSimulatedGpus(spec)) {
    for (let i = 0; i < count; i++) {
      const index = gpus.length;
      gpus.push({ index, uuid: `GPU-sim-${safeName}-${index}`, model: model.name, memoryMiB: model.memoryMiB, tflops: model.tflops, sharing: 'simulated' });
    }
  }
  return gpus;
}

/** The machine's CPU (millicores) and RAM (MiB). */
export function hostResources(): { cpuMilli: number; memoryMiB: number } {
  return { cpuMilli: availableParallelism() * 1000, memoryMiB: Math.floor(totalmem() / (1024 * 1024)) };
}

export const DEFAULT_SIMULATED_GPUS = '2xH100';

export interface NodeGpus {
  gpus: Gpu[];
  simulated: boolean;
  /** One line for the person starting the agent: which GPUs and why. */
  note: string;
}

/**
 * The GPUs a node offers, as docs/CONTRACTS.md says: declared ones when `gpus` is given, else
 * real ones when nvidia-smi finds some, else the default simulated ones.
 */
export async function resolveNodeGpus(opts: NvidiaSmiOptions & { gpus?: string; sharing?: RealSharing; nodeName: string }): Promise<NodeGpus> {
  if (opts.gpus !== undefined) {
    const gpus = simulatedGpus(opts.gpus, opts.nodeName);
    return { gpus, simulated: true, note: `using ${gpus.length} simulated GPU(s) (${opts.gpus}) as declared` };
  }
  const found = await discoverNvidiaGpus(opts);
  if (found.gpus.length > 0) {
    const models = [...new Set(found.gpus.map((g) => g.model))].join(', ');
    return { gpus: found.gpus, simulated: false, note: `using ${found.gpus.length} real GPU(s) found by nvidia-smi (${models}; sharing ${found.gpus[0]!.sharing})` };
  }
  const gpus = simulatedGpus(DEFAULT_SIMULATED_GPUS, opts.nodeName);
  return { gpus, simulated: true, note: `no real GPUs (${found.problem ?? 'none found'}): using ${gpus.length} simulated GPU(s) (${DEFAULT_SIMULATED_GPUS})` };
}

/**
 * Utilisation of simulated GPUs. Nothing runs on them, so this is the allocated share (milli/10)
 * and allocated memory, labelled as such at registration (`fastgpu.io/gpu-metrics`).
 */
export function simulatedSamples(gpus: Gpu[], running: { gpus: number[]; gpuMilli: number; memoryMiB: number }[]): GpuSample[] {
  return gpus.map((g) => {
    let milli = 0;
    let mem = 0;
    for (const r of running) {
      if (r.gpus.includes(g.index)) {
        milli += r.gpuMilli;
        mem += r.memoryMiB;
      }
    }
    return { gpuIndex: g.index, utilPercent: Math.min(100, milli / 10), memoryUsedMiB: Math.min(g.memoryMiB, mem) };
  });
}
