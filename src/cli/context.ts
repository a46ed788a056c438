// What a command needs from the outside world, passed in by `main` so tests run commands
// in-process with their own streams, environment and interrupts.
import type { Command } from 'commander';

export interface Writable {
  write(chunk: string): unknown;
  isTTY?: boolean;
  /** A terminal's width. */
  columns?: number;
}

export interface CliContext {
  stdout: Writable;
  stderr: Writable;
  stdin: AsyncIterable<Buffer | string>;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  /** Calls `handler` on Ctrl-C or SIGTERM until the returned function is called. */
  onInterrupt(handler: (signal: NodeJS.Signals) => void): () => void;
  /** The exit code `main` returns when the action ends without throwing. */
  exitCode: number;
  /** Set by `clientFor` when the saved token was not sent (it is for another address): why, for a 401. */
  tokenNote?: string | undefined;
  /** This run is the whole process (bin/fastgpu), so a failed daemon may end it; not in tests. */
  ownsProcess?: boolean;
}

const contexts = new WeakMap<Command, CliContext>();

export function attachContext(program: Command, ctx: CliContext): void {
  contexts.set(program, ctx);
}

/** The context of the program a (sub)command belongs to. */
export function contextOf(cmd: Command): CliContext {
  for (let c: Command | null = cmd; c; c = c.parent) {
    const ctx = contexts.get(c);
    if (ctx) return ctx;
  }
  throw new Error(`no CLI context for command ${cmd.name()}`);
}

let epipeHandled = false;

/**
 * `fastgpu ps | head`: the reader went away and what is left to print has no one to read it.
 * Exit quietly, as other command-line tools do, rather than with an EPIPE stack trace.
 */
function quietOnEpipe(): void {
  if (epipeHandled) return;
  epipeHandled = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
      throw e;
    });
  }
}

/** The process's own streams, environment and signals. */
export function processContext(): CliContext {
  quietOnEpipe();
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    cwd: process.cwd(),
    exitCode: 0,
    ownsProcess: true,
    onInterrupt(handler) {
      const on = (s: NodeJS.Signals): void => handler(s);
      process.on('SIGINT', on);
      process.on('SIGTERM', on);
      return () => {
        process.off('SIGINT', on);
        process.off('SIGTERM', on);
      };
    },
  };
}
