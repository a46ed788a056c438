// `fastgpu`: the command line. Each command group lives in ./commands/ and registers itself;
// this file owns parsing and turns every failure into one `fastgpu: …` line and an exit code
// (2: bad usage or input, 1: anything else).
import { Command, CommanderError } from 'commander';
import { FastGpuError } from '../core/errors.js';
import { FastGpuApiError } from '../sdk/errors.js';
import { attachContext, processContext, type CliContext } from './context.js';
import { UsageError } from './flags.js';

export const VERSION = '0.1.0';

interface CommandGroup {
  register(program: Command): void;
}

/**
 * Every command group, with the top-level commands it adds. `fastgpu X …` loads only the groups
 * that add X: some groups pull in zod or yaml, which would otherwise cost every command about
 * 150 ms of start-up. Help, a version or an unknown command loads them all. A test checks these
 * lists against what the groups really register.
 */
export const COMMAND_GROUPS: readonly { commands: readonly string[]; load: () => Promise<CommandGroup> }[] = [
  { commands: ['up'], load: () => import('./commands/up.js') },
  { commands: ['server'], load: () => import('./commands/server.js') },
  { commands: ['agent'], load: () => import('./commands/agent.js') },
  { commands: ['run'], load: () => import('./commands/run.js') },
  { commands: ['array'], load: () => import('./commands/arrays.js') },
  { commands: ['submit'], load: () => import('./commands/submit.js') },
  { commands: ['ps', 'get', 'logs', 'events', 'cancel', 'wait'], load: () => import('./commands/tasks.js') },
  { commands: ['gpus', 'nodes'], load: () => import('./commands/pool.js') },
  { commands: ['vgpu'], load: () => import('./commands/vgpu.js') },
  { commands: ['sim'], load: () => import('./commands/sim.js') },
  { commands: ['admin'], load: () => import('./commands/admin.js') },
  { commands: ['admin'], load: () => import('./commands/admin-pricing.js') },
  { commands: ['admin'], load: () => import('./commands/admin-migrate.js') },
  { commands: ['admin'], load: () => import('./commands/admin-join.js') },
  { commands: ['usage'], load: () => import('./commands/usage.js') },
  { commands: ['sweep'], load: () => import('./commands/sweep.js') },
  { commands: ['dashboard'], load: () => import('./commands/dashboard.js') },
  { commands: ['data'], load: () => import('./commands/data.js') },
  { commands: ['status'], load: () => import('./commands/status.js') },
];

/** The groups `argv` needs: those adding its command, or all when it names none of theirs. */
async function groupsFor(argv: readonly string[] | undefined): Promise<CommandGroup[]> {
  const first = argv?.[0];
  const some = COMMAND_GROUPS.filter((g) => first !== undefined && g.commands.includes(first));
  return Promise.all((some.length > 0 ? some : COMMAND_GROUPS).map((g) => g.load()));
}

/**
 * Builds the program, errors thrown rather than exiting: with `argv`, only the commands it needs
 * (see COMMAND_GROUPS); without, every command.
 */
export async function buildProgram(ctx: CliContext, argv?: readonly string[]): Promise<Command> {
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
  for (const group of await groupsFor(argv)) group.register(program);
  return program;
}

/**
 * Runs the CLI and returns the exit code (bin/fastgpu sets it on the process).
 * @example process.exitCode = await main(process.argv.slice(2))
 */
export async function main(argv: string[], ctx: CliContext = processContext()): Promise<number> {
  const before = process.exitCode;
  try {
    const program = await buildProgram(ctx, argv);
    // A bare `fastgpu` is a request for help, not a mistake.
    if (argv.length === 0) {
      program.outputHelp();
      return 0;
    }
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
    if (e.code === 'UNAUTHENTICATED' && ctx.tokenNote) say(ctx.tokenNote);
    else say(e.code === 'UNAUTHENTICATED' ? `${e.message} (pass --token or set FASTGPU_TOKEN; \`fastgpu up\` saves one in $FASTGPU_HOME/config.json)` : e.message);
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
