// `fastgpu`: the command line. Each command group lives in ./commands/ and registers itself;
// this file owns parsing and turns every failure into one `fastgpu: …` line and an exit code
// (2: bad usage or input, 1: anything else).
import { Command, CommanderError } from 'commander';
import { FastGpuError } from '../core/errors.js';
import { FastGpuApiError } from '../sdk/errors.js';
import * as admin from './commands/admin.js';
import * as adminPricing from './commands/admin-pricing.js';
import * as agent from './commands/agent.js';
import * as pool from './commands/pool.js';
import * as run from './commands/run.js';
import * as server from './commands/server.js';
import * as sim from './commands/sim.js';
import * as submit from './commands/submit.js';
import * as tasks from './commands/tasks.js';
import * as up from './commands/up.js';
import * as usage from './commands/usage.js';
import * as vgpu from './commands/vgpu.js';
import { attachContext, processContext, type CliContext } from './context.js';
import { UsageError } from './flags.js';

export const VERSION = '0.1.0';

/** Builds the program: every command registered, errors thrown rather than exiting. */
export function buildProgram(ctx: CliContext): Command {
  const program = new Command('fastgpu')
    .description('FastGPU: a GPU pool with virtual GPUs, fair scheduling and live views.')
    .version(VERSION, '-V, --version')
    .enablePositionalOptions()
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => void ctx.stdout.write(s),
      writeErr: (s) => void ctx.stderr.write(s),
      outputError: () => undefined, // main prints errors itself, in one format
    });
  program.addHelpText(
    'after',
    [
      '',
      'Examples:',
      '  fastgpu up                                  start FastGPU on this machine',
      '  fastgpu run --gpu 0.5 -- python train.py    run on half a GPU, stream the output',
      '  fastgpu ps                                  what is queued and running, and why',
      '',
      'The server address and token come from --server/--token, FASTGPU_URL/FASTGPU_TOKEN, or',
      '$FASTGPU_HOME/config.json (written by `fastgpu up`; FASTGPU_HOME defaults to ~/.fastgpu).',
    ].join('\n'),
  );
  attachContext(program, ctx);
  for (const group of [up, server, agent, run, submit, tasks, pool, vgpu, sim, admin, adminPricing, usage]) group.register(program);
  return program;
}

/**
 * Runs the CLI and returns the exit code (bin/fastgpu sets it on the process).
 * @example process.exitCode = await main(process.argv.slice(2))
 */
export async function main(argv: string[], ctx: CliContext = processContext()): Promise<number> {
  const program = buildProgram(ctx);
  const before = process.exitCode;
  try {
    await program.parseAsync(argv, { from: 'user' });
    // A command may also say its exit code the Node way, by setting process.exitCode.
    const set = process.exitCode !== before && typeof process.exitCode === 'number' ? process.exitCode : 0;
    return ctx.exitCode !== 0 ? ctx.exitCode : set;
  } catch (e) {
    return report(e, ctx);
  }
}

function report(e: unknown, ctx: CliContext): number {
  const say = (msg: string): void => void ctx.stderr.write(`fastgpu: ${msg}\n`);
  if (e instanceof CommanderError) {
    if (e.exitCode === 0) return 0; // --help, --version
    say(`${e.message.replace(/^error: /, '')}${/unknown command|unknown option|missing required|too many arguments/.test(e.message) ? ' (see `fastgpu --help`)' : ''}`);
    return 2;
  }
  if (e instanceof UsageError) {
    say(e.message);
    return 2;
  }
  if (e instanceof FastGpuApiError) {
    say(e.code === 'UNAUTHENTICATED' ? `${e.message} (pass --token or set FASTGPU_TOKEN; \`fastgpu up\` saves one in $FASTGPU_HOME/config.json)` : e.message);
    return e.isBadInput ? 2 : 1;
  }
  if (e instanceof FastGpuError) {
    say(e.message);
    return e.code === 'INVALID_ARGUMENT' || e.code === 'UNSCHEDULABLE' ? 2 : 1;
  }
  if (e instanceof Error) {
    say(ctx.env.FASTGPU_DEBUG ? (e.stack ?? e.message) : e.message);
    return 1;
  }
  say(String(e));
  return 1;
}
