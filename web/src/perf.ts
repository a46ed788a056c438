// Timings the browser tests read (window.__fastgpuPerf): how long each live update of a view
// takes from its data arriving to the DOM being updated, and to the next frame being painted.
export interface PerfLog {
  /** Pool page: data in hand → DOM committed (ms), one entry per update. */
  poolRender: number[];
  /** Pool page: data in hand → next frame painted (ms). */
  poolFrame: number[];
  /** Navigation start → first view rendered with data (ms). */
  interactive: number | null;
}

declare global {
  interface Window {
    __fastgpuPerf: PerfLog;
  }
}

export const perf: PerfLog = (window.__fastgpuPerf ??= { poolRender: [], poolFrame: [], interactive: null });

const MAX = 1000;

export function record(list: number[], ms: number): void {
  if (list.length >= MAX) list.shift();
  list.push(ms);
}

/** Calls `f` with the time from `t0` to after the next paint. */
export function afterPaint(t0: number, f: (ms: number) => void): void {
  requestAnimationFrame(() => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => f(performance.now() - t0);
    ch.port2.postMessage(null);
  });
}

export function markInteractive(): void {
  if (perf.interactive === null) perf.interactive = performance.now();
}
