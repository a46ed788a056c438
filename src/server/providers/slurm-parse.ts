// Reading Slurm's own output: `scontrol show -o node` (one node a line, Key=Value pairs) and
// `squeue -o` lines. Capacity comes from scontrol (configured CPUs, memory and GRES), never from
// `squeue %b`, which shows only what jobs asked for.
import { findGpuModel } from '../../core/catalogue.js';

/** One line of `scontrol show -o node` as Key → Value. Values may hold spaces (`OS=Linux 6.1 #1 …`). */
export function parseKeyValues(line: string): Map<string, string> {
  const out = new Map<string, string>();
  // A new pair starts where a space is followed by `Key=`; anything else belongs to the value.
  for (const part of line.trim().split(/ (?=[A-Za-z_][A-Za-z0-9_:/]*=)/)) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    out.set(part.slice(0, eq), part.slice(eq + 1).trim());
  }
  return out;
}

export interface SlurmGres {
  name: string;
  /** The GRES type (`a100` in `gpu:a100:4`), or null when untyped. */
  type: string | null;
  count: number;
}

/** `gpu:4,shard:8`, `gpu:a100:4(S:0-1)`, `gpu:tesla:2,gpu:k80:2`, `(null)` → entries. */
export function parseGres(gres: string): SlurmGres[] {
  if (gres === '' || gres === '(null)') return [];
  const out: SlurmGres[] = [];
  for (const item of gres.split(/,(?![^(]*\))/)) {
    const bare = item.replace(/\(.*\)$/, '');
    const parts = bare.split(':');
    const name = parts[0] ?? '';
    const last = parts[parts.length - 1] ?? '';
    const count = /^\d+$/.test(last) ? Number(last) : 1;
    const type = parts.length >= 3 ? (parts[1] ?? null) : parts.length === 2 && !/^\d+$/.test(last) ? last : null;
    if (name !== '') out.push({ name, type, count });
  }
  return out;
}

export interface SlurmNode {
  name: string;
  partitions: string[];
  cpus: number;
  memoryMiB: number;
  gpus: number;
  /** The GPU model as the catalogue names it, from the GRES type, or null when untyped/unknown. */
  gpuModel: string | null;
  /** The raw GRES type, e.g. `a100`. */
  gpuType: string | null;
  shards: number;
  /** Upper-case state words, e.g. ['IDLE'], ['MIXED', 'DRAIN']. */
  state: string[];
}

/** Every node in `scontrol show -o node` output. */
export function parseNodes(stdout: string): SlurmNode[] {
  const nodes: SlurmNode[] = [];
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('NodeName=')) continue;
    const kv = parseKeyValues(line);
    const gres = parseGres(kv.get('Gres') ?? '');
    const gpuEntries = gres.filter((g) => g.name === 'gpu');
    const gpuType = gpuEntries.find((g) => g.type !== null)?.type ?? null;
    nodes.push({
      name: kv.get('NodeName') ?? '',
      partitions: (kv.get('Partitions') ?? '').split(',').filter((p) => p !== '' && p !== '(null)'),
      cpus: Number(kv.get('CPUTot') ?? kv.get('CPUEfctv') ?? 0) || 0,
      memoryMiB: Number(kv.get('RealMemory') ?? 0) || 0,
      gpus: gpuEntries.reduce((s, g) => s + g.count, 0),
      gpuType,
      gpuModel: gpuType === null ? null : (findGpuModel(gpuType)?.name ?? null),
      shards: gres.filter((g) => g.name === 'shard').reduce((s, g) => s + g.count, 0),
      state: (kv.get('State') ?? '').split('+').map((s) => s.replace(/\*$/, '').toUpperCase()),
    });
  }
  return nodes;
}

/** States in which a node will not start new jobs soon. */
const UNUSABLE = new Set(['DOWN', 'DRAIN', 'DRAINED', 'DRAINING', 'FAIL', 'FAILING', 'FUTURE', 'NOT_RESPONDING', 'POWERED_DOWN', 'INVAL', 'MAINT', 'RESERVED']);

export function nodeUsable(n: SlurmNode): boolean {
  return !n.state.some((s) => UNUSABLE.has(s));
}

export interface SlurmJob {
  id: string;
  name: string;
  /** PENDING, RUNNING, COMPLETING, CANCELLED, … */
  state: string;
  reason: string;
  comment: string;
}

/** Lines of `squeue -h -o '%i|%j|%T|%r|%k'`. */
export function parseJobs(stdout: string): SlurmJob[] {
  return stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const [id = '', name = '', state = '', reason = '', ...comment] = l.split('|');
      return { id: id.trim(), name, state: state.trim(), reason: reason.trim(), comment: comment.join('|').trim() };
    });
}
