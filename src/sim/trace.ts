// Loaders for the openb CSVs (Alibaba GPU cluster trace v2023, as published with the FGD paper).
import { readFileSync } from 'node:fs';
import type { NodeInit, ResolvedPodRequest } from '../core/placement/index.js';

export interface TracePod {
  name: string;
  req: ResolvedPodRequest;
  /** Seconds; null when absent. */
  creationTime: number | null;
  deletionTime: number | null;
  scheduledTime: number | null;
}

export class TraceError extends Error {}

const NODE_COLUMNS = ['sn', 'cpu_milli', 'memory_mib', 'gpu', 'model'] as const;

function parseCsv(text: string, file: string, required: readonly string[]): { header: string[]; rows: string[][] } {
  const lines = text.split(/\r?\n/).filter((l) => l.length > 0);
  if (lines.length === 0) throw new TraceError(`${file}: empty file`);
  const header = lines[0]!.split(',').map((h) => h.trim());
  const missing = required.filter((c) => !header.includes(c));
  if (missing.length > 0) throw new TraceError(`${file}: missing column(s) ${missing.join(', ')} (has: ${header.join(', ')})`);
  const rows = lines.slice(1).map((l, i) => {
    const cells = l.split(',');
    if (cells.length !== header.length) throw new TraceError(`${file}:${i + 2}: ${cells.length} cells, header has ${header.length}`);
    return cells;
  });
  return { header, rows };
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new TraceError(`cannot read ${file}: ${(e as Error).message}`);
  }
}

function intCell(v: string | undefined, file: string, line: number, col: string, min = 0): number {
  const n = Number(v);
  if (v === undefined || v.trim() === '' || !Number.isInteger(n) || n < min) {
    throw new TraceError(`${file}:${line}: column ${col}: expected an integer ≥ ${min}, got '${v ?? ''}'`);
  }
  return n;
}

function optTime(v: string | undefined): number | null {
  if (v === undefined || v.trim() === '') return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

/** Parses a node list (`sn,cpu_milli,memory_mib,gpu,model`). */
export function parseNodes(text: string, file = 'nodes'): NodeInit[] {
  const { header, rows } = parseCsv(text, file, NODE_COLUMNS);
  const ix = (c: string) => header.indexOf(c);
  return rows.map((r, i) => {
    const line = i + 2;
    const gpus = intCell(r[ix('gpu')], file, line, 'gpu');
    const model = (r[ix('model')] ?? '').trim();
    return {
      id: r[ix('sn')]!,
      name: r[ix('sn')]!,
      cpuMilli: intCell(r[ix('cpu_milli')], file, line, 'cpu_milli'),
      memoryMiB: intCell(r[ix('memory_mib')], file, line, 'memory_mib'),
      // The trace gives no GPU memory; requests carry none either, so 0 never constrains.
      gpus: Array.from({ length: gpus }, (_, index) => ({ index, model, memoryMiB: 0, tflops: 0, exclusive: false })),
    };
  });
}

/**
 * Pod-list columns and their meaning when absent, as the published simulator's converter
 * (`data/pod_csv_to_yaml.py` in hkust-adsl/kubernetes-scheduler-simulator) reads them:
 * - `name`, else `job_id` (named `job-%04d`); one of them is required;
 * - `cpu_milli`, else `cpu` or `num_cpu` in cores (× 1000); one of them is required;
 * - `memory_mib`: absent → no host-memory request (0);
 * - `num_gpu`: required;
 * - `gpu_milli`: absent → 1000 (whole GPUs); above 1000 → 1000 (as published, counted in a note);
 * - `gpu_spec`: absent or empty → any GPU model; `A|B` → either model;
 * - `creation_time`, `deletion_time`, `scheduled_time`: only replay uses them (absent → null).
 * Any other column (`qos`, `pod_phase`, …) is ignored, and named in a note.
 */
const POD_KNOWN = new Set(['name', 'job_id', 'cpu_milli', 'cpu', 'num_cpu', 'memory_mib', 'num_gpu', 'gpu_milli', 'gpu_spec', 'creation_time', 'deletion_time', 'scheduled_time']);

export interface PodList {
  pods: TracePod[];
  /** What the loader assumed or ignored, for the user (one line each). */
  notes: string[];
}

function numCell(v: string | undefined, file: string, line: number, col: string): number {
  const n = Number(v);
  if (v === undefined || v.trim() === '' || !Number.isFinite(n) || n < 0) {
    throw new TraceError(`${file}:${line}: column ${col}: expected a number ≥ 0, got '${v ?? ''}'`);
  }
  return n;
}

/** Parses a pod list in any of the published header forms (see `POD_KNOWN`), with notes on what it assumed. */
export function parsePodList(text: string, file = 'pods'): PodList {
  const { header, rows } = parseCsv(text, file, ['num_gpu']);
  const ix = (c: string) => header.indexOf(c);
  const has = (c: string) => header.includes(c);
  const nameCol = has('name') ? 'name' : has('job_id') ? 'job_id' : null;
  if (nameCol === null) throw new TraceError(`${file}: missing column name (or job_id) (has: ${header.join(', ')})`);
  const cpuCol = has('cpu_milli') ? 'cpu_milli' : has('cpu') ? 'cpu' : has('num_cpu') ? 'num_cpu' : null;
  if (cpuCol === null) throw new TraceError(`${file}: missing column cpu_milli (or cpu, num_cpu) (has: ${header.join(', ')})`);
  const notes: string[] = [];
  if (!has('memory_mib')) notes.push('no memory_mib column: pods request no host memory');
  if (!has('gpu_milli')) notes.push('no gpu_milli column: GPU pods take whole GPUs (1000 milli)');
  if (!has('gpu_spec')) notes.push('no gpu_spec column: every pod may use any GPU model');
  if (!has('creation_time')) notes.push('no creation_time column: replay has no arrival times (every pod arrives at 0 and never leaves)');
  const ignored = header.filter((h) => !POD_KNOWN.has(h));
  if (ignored.length > 0) notes.push(`ignored column(s): ${ignored.join(', ')}`);
  let clamped = 0;
  const pods = rows.map((r, i): TracePod => {
    const line = i + 2;
    const gpuCount = intCell(r[ix('num_gpu')], file, line, 'num_gpu');
    let gpuMilli = has('gpu_milli') ? intCell(r[ix('gpu_milli')], file, line, 'gpu_milli') : 1000;
    if (gpuCount > 0 && gpuMilli > 1000) {
      gpuMilli = 1000;
      clamped++;
    }
    if (gpuCount > 0 && gpuMilli < 1) throw new TraceError(`${file}:${line}: gpu_milli ${gpuMilli} outside 1..1000`);
    if (gpuCount > 1 && gpuMilli !== 1000) throw new TraceError(`${file}:${line}: a multi-GPU pod must take whole GPUs`);
    const spec = has('gpu_spec') ? (r[ix('gpu_spec')] ?? '').trim() : '';
    const rawName = (r[ix(nameCol)] ?? '').trim();
    if (rawName === '') throw new TraceError(`${file}:${line}: column ${nameCol}: empty`);
    const name = nameCol === 'name' ? rawName : `job-${rawName.padStart(4, '0')}`;
    const cpuMilli =
      cpuCol === 'cpu_milli' ? intCell(r[ix('cpu_milli')], file, line, 'cpu_milli') : Math.round(numCell(r[ix(cpuCol)], file, line, cpuCol) * 1000);
    return {
      name,
      req: {
        cpuMilli,
        memoryMiB: has('memory_mib') ? intCell(r[ix('memory_mib')], file, line, 'memory_mib') : 0,
        gpuCount,
        gpuMilli: gpuCount === 0 ? 0 : gpuMilli,
        gpuMemoryMiB: 0,
        models: spec === '' ? [] : spec.split('|').filter((m) => m.length > 0),
      },
      creationTime: has('creation_time') ? optTime(r[ix('creation_time')]) : null,
      deletionTime: has('deletion_time') ? optTime(r[ix('deletion_time')]) : null,
      scheduledTime: has('scheduled_time') ? optTime(r[ix('scheduled_time')]) : null,
    };
  });
  if (clamped > 0) notes.push(`${clamped} pod(s) with gpu_milli above 1000 take one whole GPU each (as published)`);
  return { pods, notes };
}

/** Parses a pod list (see `parsePodList`), dropping its notes. */
export function parsePods(text: string, file = 'pods'): TracePod[] {
  return parsePodList(text, file).pods;
}

export function loadNodes(file: string): NodeInit[] {
  return parseNodes(readText(file), file);
}
export function loadPods(file: string): TracePod[] {
  return parsePods(readText(file), file);
}
export function loadPodList(file: string): PodList {
  return parsePodList(readText(file), file);
}
