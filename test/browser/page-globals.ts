// The few browser globals the tests touch inside page.evaluate / waitForFunction callbacks
// (those run in Chromium; the root tsconfig has no DOM lib). Type-only.
export interface PerfLog {
  poolRender: number[];
  poolFrame: number[];
  interactive: number | null;
}

export interface PageWindow {
  __fastgpuPerf: PerfLog;
  __noReload?: boolean;
}

export interface PageDocument {
  cookie: string;
  activeElement: unknown;
  querySelectorAll(selector: string): { length: number };
  documentElement: { scrollWidth: number; clientWidth: number };
}
