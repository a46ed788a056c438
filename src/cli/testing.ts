// Test helpers for the CLI and the SDK: the CLI run in-process (captured output, a chosen
// environment, a fake Ctrl-C), and a real pool to run it against: the real server on a free
// port over a temp data dir, with or without a real agent on simulated GPUs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killTasks } from '../agent/fixtures/helpers.js';
import { startAgent, type RunningAgent } from '../agent/main.js';
import { FastGPU } from '../sdk/client.js';
import { isTerminal } from '../sdk/types.js';
import { startServer, type RunningServer } from '../server/main.js';
import type { CliContext } from './context.js';
import { main } from './main.js';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliHarness {
  run(
    argv: string[],
    opts?: {
      stdin?: string;
      onStart?: (interrupt: () => void) => void;
      /** Called after each write to stdout with all of it so far. */
      onStdout?: (all: string, interrupt: () => void) => void;
      /** Called after each write to stderr with all of it so far: a test interrupts on what it sees. */
      onStderr?: (all: string, interrupt: () => void) => void;
      /** Pretend stderr is a terminal of this width. */
      tty?: number;
    },
  ): Promise<CliRun>;
}

export function cliHarness(env: Record<string, string | undefined>, cwd = process.cwd()): CliHarness {
  return {
    async run(argv, opts = {}) {
      let stdout = '';
      let stderr = '';
      const handlers = new Set<(s: NodeJS.Signals) => void>();
      const interrupt = (): void => {
        for (const h of [...handlers]) h('SIGINT');
      };
      const ctx: CliContext = {
        stdout: {
          write: (s: string) => {
            stdout += s;
            opts.onStdout?.(stdout, interrupt);
          },
        },
        stderr: {
          write: (s: string) => {
            stderr += s;
            opts.onStderr?.(stderr, interrupt);
          },
          ...(opts.tty !== undefined ? { isTTY: true, columns: opts.tty } : {}),
        },
        stdin: (async function* () {
          if (opts.stdin !== undefined) yield Buffer.from(opts.stdin);
        })(),
        env,
        cwd,
        exitCode: 0,
        onInterrupt(h) {
          handlers.add(h);
          return () => handlers.delete(h);
        },
      };
      opts.onStart?.(interrupt);
      const code = await main(argv, ctx);
      return { code, stdout, stderr };
    },
  };
}

export interface TestPoolOptions {
  /** Start a real agent with these simulated GPUs (e.g. "1xH100"); none: tasks stay PENDING. */
  gpus?: string;
  /** CPU the agent's node offers, in milli-cores (default 64 cores: room for every test's tasks). */
  cpuMilli?: number;
}

export interface TestPool {
  url: string;
  token: string;
  /** A scratch folder for the test (task workdirs, files tasks wait for). */
  dir: string;
  client: FastGPU;
  /** The node's name when there is an agent. */
  readonly node: string;
  /** Stops the server (the agent keeps running, retrying): `startServer` brings it back on the same port and data. */
  stopServer(): Promise<void>;
  startServer(): Promise<void>;
  /** Every task of the pool (live and finished). */
  allTasks(): ReturnType<FastGPU['tasks']['list']>;
  /** Cancels what still runs, stops the agent and the server, kills leftovers, removes the folders. */
  close(): Promise<void>;
}

const NODE = 'test-node';

/** A real server (and agent, with `gpus`) in this process; share one per test file. */
export async function startPool(opts: TestPoolOptions = {}): Promise<TestPool> {
  const dir = mkdtempSync(join(tmpdir(), 'fastgpu-pool-'));
  const dataDir = join(dir, 'data');
  const stateDir = join(dir, 'agent');
  const quiet = (): void => {};
  let server: RunningServer | null = await startServer({ dataDir, port: 0, tickMs: 50, log: quiet });
  const url = server.url;
  const port = Number(new URL(url).port);
  const client = new FastGPU({ url, token: server.adminToken, env: {} });
  let agent: RunningAgent | null = null;
  if (opts.gpus !== undefined) {
    // Room for every test's CPU-only tasks at once, whatever this machine has.
    agent = await startAgent({ serverUrl: url, token: server.adminToken, name: NODE, stateDir, gpus: opts.gpus, cpuMilli: opts.cpuMilli ?? 64_000, memoryMiB: 256 * 1024, log: quiet });
  }
  const pool: TestPool = {
    url,
    token: server.adminToken,
    dir,
    client,
    node: NODE,
    async stopServer() {
      await server?.close();
      server = null;
    },
    async startServer() {
      server = await startServer({ dataDir, port, tickMs: 50, log: quiet });
    },
    allTasks: () => client.tasks.list({ all: true, limit: 1000 }),
    async close() {
      if (server) {
        const live = (await pool.allTasks()).filter((t) => !isTerminal(t.state));
        for (const t of live) await client.tasks.cancel(t.id).catch(() => undefined);
      }
      await agent?.stop();
      killTasks(stateDir);
      await server?.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return pool;
}
