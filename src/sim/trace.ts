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
const POD_COLUMNS = ['name', 'cpu_milli', 'memory_mib', 'num_gpu', 'gpu_milli', 'gpu_spec'] as const;

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

/** Parses a pod list (`name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,…,creation_time,deletion_time,scheduled_time`). */
export function parsePods(text: string, file = 'pods'): TracePod[] {
  const { header, rows } = parseCsv(text, file, POD_COLUMNS);
  const ix = (c: string) => header.indexOf(c);
  return rows.map((r, i) => {
    const line = i + 2;
    const gpuCount = intCell(r[ix('num_gpu')], file, line, 'num_gpu');
    const gpuMilli = intCell(r[ix('gpu_milli')], file, line, 'gpu_milli');
    if (gpuCount > 0 && (gpuMilli < 1 || gpuMilli > 1000)) throw new TraceError(`${file}:${line}: gpu_milli ${gpuMilli} outside 1..1000`);
    if (gpuCount > 1 && gpuMilli !== 1000) throw new TraceError(`${file}:${line}: a multi-GPU pod must take whole GPUs`);
    const spec = (r[ix('gpu_spec')] ?? '').trim();
    return {
      name: r[ix('name')]!,
      req: {
        cpuMilli: intCell(r[ix('cpu_milli')], file, line, 'cpu_milli'),
        memoryMiB: intCell(r[ix('memory_mib')], file, line, 'memory_mib'),
        gpuCount,
        gpuMilli: gpuCount === 0 ? 0 : gpuMilli,
        gpuMemoryMiB: 0,
        models: spec === '' ? [] : spec.split('|').filter((m) => m.length > 0),
      },
      creationTime: ix('creation_time') >= 0 ? optTime(r[ix('creation_time')]) : null,
      deletionTime: ix('deletion_time') >= 0 ? optTime(r[ix('deletion_time')]) : null,
      scheduledTime: ix('scheduled_time') >= 0 ? optTime(r[ix('scheduled_time')]) : null,
    };
  });
}

export function loadNodes(file: string): NodeInit[] {
  return parseNodes(readText(file), file);
}
export function loadPods(file: string): TracePod[] {
  return parsePods(readText(file), file);
}
