// What the page itself saw of the pool since it was opened: one point per /v1/gpus answer.
// The utilisation chart falls back on it when the server has no stored samples to give.
import type { GpuView } from './api.js';

export interface PoolPoint {
  at: number;
  capacityMilli: number;
  allocatedMilli: number;
  /** Σ utilPercent × 10 over GPUs that reported one (milli-GPU busy); null when none did. */
  busyMilli: number | null;
}

const MAX_POINTS = 20_000;
export const seen: PoolPoint[] = [];

export function recordGpus(gpus: readonly GpuView[], at = Date.now()): void {
  let cap = 0;
  let alloc = 0;
  let busy = 0;
  let any = false;
  for (const g of gpus) {
    if (g.nodeState !== 'READY') continue;
    cap += 1000;
    alloc += g.allocatedMilli;
    if (g.utilPercent !== undefined) {
      busy += g.utilPercent * 10;
      any = true;
    }
  }
  const last = seen[seen.length - 1];
  if (last && at - last.at < 1000) seen.pop();
  seen.push({ at, capacityMilli: cap, allocatedMilli: alloc, busyMilli: any ? busy : null });
  if (seen.length > MAX_POINTS) seen.splice(0, seen.length - MAX_POINTS);
}
