// End-to-end harness: runs bin/fastgpu as real processes, each test with its own FASTGPU_HOME
// and data dir, on 127.0.0.1 and ephemeral ports. Every process it starts, and every task
// process the agents it started have launched, is killed by `cleanup()`.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FastGPU } from '../../src/sdk/index.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = join(ROOT, 'bin', 'fastgpu');

/** bin/fastgpu runs dist/: `npm test` builds first; a bare `vitest run` needs `npm run build`. */
export function requireBuild(): void {
  for (const f of ['cli/main.js', 'server/main.js', 'agent/main.js']) {
    if (!existsSync(join(ROOT, 'dist', f))) throw new Error(`dist/${f} is missing: run \`npm run build\` before the e2e tests`);
  }
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A long-running bin/fastgpu process (up, server, agent) with its output collected. */
export class Daemon {
  output = '';
  /** The exit code, or `SIGNAME` when a signal ended it. */
  readonly exited: Promise<number | string | null>;

  constructor(readonly child: ChildProcess) {
    child.stdout?.setEncoding('utf8').on('data', (s: string) => (this.output += s));
    child.stderr?.setEncoding('utf8').on('data', (s: string) => (this.output += s));
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  }

  /** The exit code (or signal) once it has exited, with its output, for assertions that show both. */
  async result(): Promise<{ exit: number | string | null; output: string }> {
    const exit = await this.exited;
    return { exit, output: this.output };
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves with the first match of `re` in the output; fails when the process exits or time runs out. */
  async waitFor(re: RegExp, ms = 90_000): Promise<RegExpExecArray> {
    const end = Date.now() + ms;
    for (;;) {
      const m = re.exec(this.output);
      if (m) return m;
      if (!this.alive) throw new Error(`process exited before printing ${re}:\n${this.output}`);
      if (Date.now() > end) throw new Error(`no ${re} within ${ms} ms:\n${this.output}`);
      await sleep(25);
    }
  }

  /** kill -9, and wait until it is gone. */
  async kill9(): Promise<void> {
    if (this.alive) this.child.kill('SIGKILL');
    await this.exited;
  }
}

/** One test's world: a FASTGPU_HOME, the processes it started, and how to run the CLI in it. */
export class World {
  readonly home = mkdtempSync(join(tmpdir(), 'fastgpu-e2e-'));
  readonly dataDir = join(this.home, 'data');
  private readonly daemons: Daemon[] = [];
  /** State dirs of agents started here: their tasks are killed on cleanup. */
  private readonly stateDirs = new Set<string>([join(this.dataDir, 'agent')]);

  get env(): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env, FASTGPU_HOME: this.home };
    delete env.FASTGPU_URL;
    delete env.FASTGPU_TOKEN;
    return env;
  }

  /** Starts a long-running command (`up`, `server`, `agent`). */
  start(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Daemon {
    const i = args.indexOf('--state-dir');
    if (i >= 0 && args[i + 1]) this.stateDirs.add(args[i + 1]!);
    const d = new Daemon(spawn(process.execPath, [BIN, ...args], { cwd: this.home, env: { ...this.env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] }));
    this.daemons.push(d);
    return d;
  }

  /** `fastgpu up` on an ephemeral port; resolves once it prints its URL. */
  async up(extra: string[] = []): Promise<{ daemon: Daemon; url: string }> {
    const daemon = this.start(['up', '--port', '0', '--data-dir', this.dataDir, ...extra]);
    const m = await daemon.waitFor(/FastGPU is up at (http:\/\/\S+)/);
    return { daemon, url: m[1]! };
  }

  /** Runs a short CLI command to completion. */
  cli(args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, ...args], { cwd: this.home, env: { ...this.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
      child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`fastgpu ${args.join(' ')} did not finish in time; stdout: ${stdout} stderr: ${stderr}`));
      }, opts.timeoutMs ?? 90_000);
      child.once('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
      child.stdin.end(opts.input ?? '');
    });
  }

  /** An SDK client for the server `up` saved in this world's config. */
  client(): FastGPU {
    return new FastGPU({ env: { FASTGPU_HOME: this.home } });
  }

  /** Kills every process started here and every task process their agents launched; removes the home. */
  async cleanup(): Promise<void> {
    await Promise.all(this.daemons.map((d) => d.kill9()));
    for (const dir of this.stateDirs) for (const pids of taskPids(dir)) killQuietly(pids);
    rmSync(this.home, { recursive: true, force: true });
  }
}

/** `<stateDir>/tasks/<task>/<attempt>/pid` holds "<pgid> <supervisor pid> <start ms>". */
function taskPids(stateDir: string): { pgid: number; supervisor: number }[] {
  const out: { pgid: number; supervisor: number }[] = [];
  const tasks = join(stateDir, 'tasks');
  if (!existsSync(tasks)) return out;
  for (const t of readdirSync(tasks)) {
    for (const a of safeList(join(tasks, t))) {
      const dir = join(tasks, t, a);
      if (existsSync(join(dir, 'exit'))) continue;
      try {
        const [pgid, sup] = readFileSync(join(dir, 'pid'), 'utf8').trim().split(/\s+/).map(Number);
        if (pgid && sup) out.push({ pgid, supervisor: sup });
      } catch {
        // not started
      }
    }
  }
  return out;
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function killQuietly(p: { pgid: number; supervisor: number }): void {
  for (const target of [-p.pgid, p.supervisor]) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Thrown inside an `until` callback: stop polling and fail now. */
export class GiveUp extends Error {}

/** Polls `fn` until it returns a value that is not undefined. */
export async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, ms = 60_000, every = 100): Promise<T> {
  const end = Date.now() + ms;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      if (e instanceof GiveUp) throw e;
      lastError = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
    await sleep(every);
  }
}

/** Lines of a file, or none if it does not exist yet. */
export function lines(path: string): string[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter((l) => l !== '');
}
