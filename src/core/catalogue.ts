// The GPU catalogue: memory and dense FP16/BF16 tensor TFLOPS of the models FastGPU knows.
// TFLOPS let a `{tflops: 20}` request become a milli-GPU share of whichever model it lands on,
// and memory lets simulated GPUs (`--gpus 4xH100`) look like the real thing.
import { invalid } from './errors.js';

export interface GpuModelInfo {
  /** Canonical name, stored in `Gpu.model`, e.g. `H100-80GB`. */
  name: string;
  /** Nominal memory: the marketed GB taken as GiB, × 1024. Discovery uses what nvidia-smi reports. */
  memoryMiB: number;
  /** Dense (no sparsity) FP16/BF16 tensor TFLOPS with FP32 accumulate, of the whole device. */
  tflops: number;
  /** Other names people and traces use; matched case-insensitively. */
  aliases: string[];
}

const gib = (n: number): number => n * 1024;

/** Every model known. Figures are the vendor's datasheet numbers unless a comment says otherwise. */
export const GPU_CATALOGUE: readonly GpuModelInfo[] = [
  { name: 'B200', memoryMiB: gib(180), tflops: 2250, aliases: ['B200-180GB'] },
  { name: 'H200', memoryMiB: gib(141), tflops: 989, aliases: ['H200-141GB', 'H200-SXM'] },
  { name: 'H100-80GB', memoryMiB: gib(80), tflops: 989, aliases: ['H100', 'H100-SXM', 'H100-SXM5', 'H100-SXM5-80GB'] },
  { name: 'H100-PCIE', memoryMiB: gib(80), tflops: 756, aliases: ['H100-PCIE-80GB'] },
  { name: 'H100-NVL', memoryMiB: gib(94), tflops: 835, aliases: ['H100-NVL-94GB'] },
  { name: 'A100-80GB', memoryMiB: gib(80), tflops: 312, aliases: ['A100', 'A100-SXM4-80GB', 'A100-PCIE-80GB'] },
  { name: 'A100-40GB', memoryMiB: gib(40), tflops: 312, aliases: ['A100-SXM4-40GB', 'A100-PCIE-40GB'] },
  { name: 'L40S', memoryMiB: gib(48), tflops: 362, aliases: ['L40S-48GB'] },
  { name: 'L40', memoryMiB: gib(48), tflops: 181, aliases: ['L40-48GB'] },
  { name: 'L4', memoryMiB: gib(24), tflops: 121, aliases: ['L4-24GB'] },
  { name: 'A10', memoryMiB: gib(24), tflops: 125, aliases: ['A10-24GB'] },
  // AWS's A10G is not on a public NVIDIA datasheet; 70 dense TFLOPS is the figure commonly
  // measured and quoted for its lower clocks (the A10 is 125).
  { name: 'A10G', memoryMiB: gib(24), tflops: 70, aliases: ['A10G-24GB'] },
  { name: 'A40', memoryMiB: gib(48), tflops: 150, aliases: ['A40-48GB'] },
  { name: 'T4', memoryMiB: gib(16), tflops: 65, aliases: ['T4-16GB'] },
  // `V100M16` / `V100M32` are the Alibaba trace's names.
  { name: 'V100-16GB', memoryMiB: gib(16), tflops: 125, aliases: ['V100', 'V100M16', 'V100-SXM2-16GB', 'V100-PCIE-16GB'] },
  { name: 'V100-32GB', memoryMiB: gib(32), tflops: 125, aliases: ['V100M32', 'V100S', 'V100-SXM2-32GB', 'V100-PCIE-32GB'] },
  // Pascal has no tensor cores: this is its plain FP16 rate.
  { name: 'P100', memoryMiB: gib(16), tflops: 19, aliases: ['P100-16GB', 'P100-PCIE-16GB', 'P100-SXM2-16GB'] },
  { name: 'RTX-4090', memoryMiB: gib(24), tflops: 165, aliases: ['4090', 'RTX4090', 'GeForce-RTX-4090'] },
  { name: 'RTX-3090', memoryMiB: gib(24), tflops: 71, aliases: ['3090', 'RTX3090', 'GeForce-RTX-3090'] },
  { name: 'RTX-A6000', memoryMiB: gib(48), tflops: 155, aliases: ['A6000', 'RTXA6000'] },
  { name: 'MI300X', memoryMiB: gib(192), tflops: 1307, aliases: ['MI300X-192GB', 'Instinct-MI300X'] },
  // The Alibaba trace (openb) anonymises two models as G2 and G3. Their specs are unknown;
  // these are guesses from their nodes (8 GPUs each; G2 on 96-core/384 GiB hosts, G3 on
  // 128-core/768 GiB hosts), taken as A100-40GB-class and A100-80GB-class. The trace asks
  // for no GPU memory, so replays depend on the guess only through TFLOPS-based requests.
  { name: 'G2', memoryMiB: gib(40), tflops: 312, aliases: [] },
  { name: 'G3', memoryMiB: gib(80), tflops: 312, aliases: [] },
];

// Lower-case, with spaces and underscores as hyphens: `a100 40gb` and `A100_40GB` are one key.
const keyOf = (s: string): string =>
  s
    .trim()
    .toLowerCase()
    .replace(/[\s_]+/g, '-')
    .replace(/-+/g, '-');

// eslint-disable-next-line no-restricted-syntax -- a read-only lookup table, filled on the next line at load and never changed after.
const BY_KEY = new Map<string, GpuModelInfo>();
for (const m of GPU_CATALOGUE) for (const n of [m.name, ...m.aliases]) BY_KEY.set(keyOf(n), m);

// Words in product names (nvidia-smi, lspci, cloud consoles) that say nothing about the model.
// eslint-disable-next-line no-restricted-syntax -- a constant word list, never changed.
const VENDOR_WORDS = new Set(['nvidia', 'tesla', 'geforce', 'amd', 'instinct', 'quadro', 'hbm2', 'hbm2e', 'hbm3', 'hbm3e', 'gddr6', 'sxm', 'sxm2', 'sxm4', 'sxm5', 'oam']);
// Form factors that change the model's figures.
// eslint-disable-next-line no-restricted-syntax -- a constant word list, never changed.
const FORM_FACTORS = new Set(['pcie', 'nvl']);

/**
 * The catalogue entry for a name, alias or product name, case-insensitively; undefined if unknown.
 * @example findGpuModel('NVIDIA A100-SXM4-40GB')?.name // 'A100-40GB'; findGpuModel('4090')?.name // 'RTX-4090'
 */
export function findGpuModel(name: string): GpuModelInfo | undefined {
  const direct = BY_KEY.get(keyOf(name));
  if (direct) return direct;

  // A product name: drop vendor and packaging words, note the memory and form factor, and
  // look up what is left. A stated memory must agree with the model (`A100-64GB` is unknown).
  let memGb: number | undefined;
  let form: string | undefined;
  const family: string[] = [];
  for (const tok of keyOf(name).split('-')) {
    if (tok === '' || VENDOR_WORDS.has(tok)) continue;
    const mem = /^(\d+)g(?:b|ib)?$/.exec(tok);
    if (mem) memGb = Number(mem[1]);
    else if (FORM_FACTORS.has(tok)) form = tok;
    else family.push(tok);
  }
  if (family.length === 0) return undefined;
  const base = family.join('-');
  const candidates = [
    memGb !== undefined ? `${base}-${memGb}gb` : undefined,
    form !== undefined ? `${base}-${form}` : undefined,
    base,
  ];
  for (const c of candidates) {
    const m = c === undefined ? undefined : BY_KEY.get(c);
    if (m && (memGb === undefined || Math.abs(m.memoryMiB / 1024 - memGb) <= 2)) return m;
  }
  return undefined;
}

/** Like `findGpuModel`, but an unknown name is an INVALID_ARGUMENT naming `field`. */
export function requireGpuModel(name: string, field: string): GpuModelInfo {
  const m = findGpuModel(name);
  if (!m) {
    const known = GPU_CATALOGUE.map((g) => g.name).join(', ');
    throw invalid(field, `unknown GPU model ${JSON.stringify(name)}; known: ${known}`);
  }
  return m;
}

/** Most GPUs one group of a simulated-device spec may declare. */
export const MAX_SIMULATED_PER_GROUP = 64;

/**
 * Simulated devices from a spec such as `4xH100` or `2xA100-40GB,1xT4`; a bare model is one GPU.
 * @example parseSimulatedGpus('2xA100-40GB,T4') // [{model: A100-40GB, count: 2}, {model: T4, count: 1}]
 */
export function parseSimulatedGpus(spec: string, field = 'gpus'): { model: GpuModelInfo; count: number }[] {
  const allowed = 'use groups such as "4xH100" or "2xA100-40GB,1xT4"';
  if (typeof spec !== 'string' || spec.trim() === '') throw invalid(field, `is empty; ${allowed}`);
  return spec.split(',').map((part) => {
    const group = part.trim();
    if (group === '') throw invalid(field, `has an empty group in ${JSON.stringify(spec)}; ${allowed}`);
    const m = /^(-?\d+(?:\.\d+)?)\s*[x*]\s*(.+)$/i.exec(group);
    const count = m ? Number(m[1]) : 1;
    const name = m ? m[2]!.trim() : group;
    if (!Number.isInteger(count) || count < 1 || count > MAX_SIMULATED_PER_GROUP) {
      throw invalid(field, `count ${m?.[1] ?? ''} in "${group}" must be a whole number from 1 to ${MAX_SIMULATED_PER_GROUP}`);
    }
    return { model: requireGpuModel(name, field), count };
  });
}
