// Runs the CLI in-process for tests: captured output, a chosen environment, a fake Ctrl-C.
import type { CliContext } from './context.js';
import { main } from './main.js';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliHarness {
  run(argv: string[], opts?: { stdin?: string; onStart?: (interrupt: () => void) => void }): Promise<CliRun>;
}

export function cliHarness(env: Record<string, string | undefined>, cwd = process.cwd()): CliHarness {
  return {
    async run(argv, opts = {}) {
      let stdout = '';
      let stderr = '';
      const handlers = new Set<(s: NodeJS.Signals) => void>();
      const ctx: CliContext = {
        stdout: { write: (s: string) => (stdout += s) },
        stderr: { write: (s: string) => (stderr += s) },
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
      opts.onStart?.(() => {
        for (const h of [...handlers]) h('SIGINT');
      });
      const code = await main(argv, ctx);
      return { code, stdout, stderr };
    },
  };
}
