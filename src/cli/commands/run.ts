// `fastgpu run [flags] -- CMD [ARGS…]`: submit one task, stream its output, exit with its code.
import type { ArraySpecInput } from '../../sdk/arrays.js';
import { Option, type Command } from 'commander';
import type { FastGPU } from '../../sdk/client.js';
import { FastGpuApiError } from '../../sdk/errors.js';
import type { TaskSpecInput, TaskView } from '../../sdk/types.js';
import { contextOf, type CliContext } from '../context.js';
import { UsageError, clientFor, collect, cpuFlag, durationFlag, envFlags, gpuFlag, intFlag, sizeFlag, withConnection } from '../flags.js';
import { detachMessage, watchProgress } from '../progress.js';
import { modelsOf, sliceNote } from '../slice.js';
import { runArray } from './arrays.js';
import { taskExitCode, writeChunk } from './tasks.js';
import { splitServerUrls } from '../../util/server-list.js';

export interface RawRunOptions {
  gpu?: string;
  gpuMemory?: string;
  memory?: string;
  cpu?: string;
  priority?: string;
  name?: string;
  timeLimit?: string;
  retries?: string;
  preemptible?: boolean;
  env?: string[];
  workdir?: string;
  vgpu?: string;
  detach?: boolean;
  array?: string;
  after?: string[];
}

export interface RunOptions {
  spec: TaskSpecInput;
  detach: boolean;
}

/** Spec fields → the flag that sets them, so a server complaint about a field names the flag. */
const FLAG_OF: Record<string, string> = {
  'resources.gpu': '--gpu',
  'resources.memory': '--memory',
  'resources.cpu': '--cpu',
  priority: '--priority',
  name: '--name',
  timeLimit: '--time-limit',
  retries: '--retries',
  env: '--env',
  workdir: '--workdir',
  vgpu: '--vgpu',
  array: '--array',
  after: '--after',
  command: 'the command',
};

export function register(program: Command): void {
  withConnection(program.command('run'))
    .description('run a command as a task: submit it, stream its output, exit with its exit code')
    .usage('[flags] -- CMD [ARGS…]')
    .argument('[command...]', 'the command and its arguments (after --)')
    .option('--gpu <req>', "GPUs: 1, 0.5, A100:0.5, 2xH100, H100, '{tflops: 20}', '{memory: 20GiB}', '{fraction: 0.5, memory: 10GiB}'")
    .option('--gpu-memory <size>', 'GPU memory of a fraction or TFLOPS share, with its unit, e.g. 20GiB (default: in proportion to the share)')
    .option('--memory <size>', 'host RAM, with its unit, e.g. 4GiB (default 1GiB)')
    .option('--cpu <n>', 'CPU cores (2, 0.5) or milli-cores (500m)')
    .option('--priority <n>', '0..100, higher first (default 50)')
    .option('--name <name>', 'task name (default: the command)')
    .option('--time-limit <duration>', 'stop it after this long, e.g. 90s, 2h')
    .option('--retries <n>', 'times it goes back to the queue when its node is lost (default 0); a preempted task is always requeued and uses none')
    .option('--preemptible', 'may be stopped and requeued for higher-priority work')
    .option('--env <KEY=VALUE>', 'environment variable (repeatable)', collect)
    .option('--workdir <dir>', 'working directory (default: here, when the server is on this machine)')
    .option('--vgpu <id>', 'run inside this vGPU reservation')
    .option('-d, --detach', 'print the task id and return at once')
    .option('--array <range>', 'an array of tasks, Slurm style: 0-99, 1,3,5-7, 0-99:2; %N runs at most N at once (0-99%8)')
    .option('--after <ID[:ok|any|failed]>', 'start only after this task or array succeeded (ok), ended (any) or failed (repeatable)', collect)
    .addOption(new Option('--no-local-workdir').hideHelp())
    .passThroughOptions()
    .action(async (command: string[], raw: RawRunOptions & { localWorkdir?: boolean }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const client = clientFor(cmd);
      const opts = compileRunOptions(raw, command, raw.localWorkdir !== false && isLocal(client.url) ? ctx.cwd : undefined);
      await runTask(ctx, client, opts);
    });
}

/** Validates the flags once, into the spec to submit. `defaultWorkdir` applies when --workdir is absent. */
export function compileRunOptions(raw: RawRunOptions, command: readonly string[], defaultWorkdir?: string): RunOptions {
  if (command.length === 0) throw new UsageError('run: no command given; use `fastgpu run [flags] -- CMD [ARGS…]`');
  const spec: TaskSpecInput = { command: [...command] };
  const resources: NonNullable<TaskSpecInput['resources']> = {};
  const gpu = raw.gpu === undefined ? undefined : gpuFlag(raw.gpu, '--gpu');
  if (raw.gpuMemory !== undefined) {
    sizeFlag(raw.gpuMemory, '--gpu-memory');
    if (gpu === undefined) resources.gpu = { memory: raw.gpuMemory };
    else if (typeof gpu === 'number' && gpu < 1) resources.gpu = { fraction: gpu, memory: raw.gpuMemory };
    else if (typeof gpu === 'number') resources.gpu = { count: gpu, memory: raw.gpuMemory };
    else if (typeof gpu === 'object') {
      if (gpu.memory !== undefined) throw new UsageError('--gpu-memory: the --gpu mapping already gives memory; give it once');
      resources.gpu = { ...gpu, memory: raw.gpuMemory };
    } else throw new UsageError('--gpu-memory: combine it with a number of GPUs (--gpu 1, --gpu 0.5), not with a model form');
  } else if (gpu !== undefined) {
    resources.gpu = gpu;
  }
  if (raw.memory !== undefined) {
    sizeFlag(raw.memory, '--memory');
    resources.memory = raw.memory;
  }
  if (raw.cpu !== undefined) {
    cpuFlag(raw.cpu, '--cpu');
    resources.cpu = /^\s*[\d.]+\s*$/.test(raw.cpu) ? Number(raw.cpu) : raw.cpu.trim();
  }
  if (Object.keys(resources).length > 0) spec.resources = resources;
  if (raw.priority !== undefined) spec.priority = intFlag(raw.priority, '--priority', 0, 100);
  if (raw.name !== undefined) {
    if (raw.name.trim() === '') throw new UsageError('--name: is empty');
    spec.name = raw.name;
  }
  if (raw.timeLimit !== undefined) {
    durationFlag(raw.timeLimit, '--time-limit');
    spec.timeLimit = raw.timeLimit;
  }
  if (raw.retries !== undefined) spec.retries = intFlag(raw.retries, '--retries', 0, 100);
  if (raw.preemptible) spec.preemptible = true;
  if (raw.env && raw.env.length > 0) spec.env = envFlags(raw.env, '--env');
  if (raw.workdir !== undefined) {
    if (raw.workdir.trim() === '') throw new UsageError('--workdir: is empty');
    spec.workdir = raw.workdir;
  } else if (defaultWorkdir !== undefined) {
    spec.workdir = defaultWorkdir;
  }
  if (raw.vgpu !== undefined) spec.vgpu = raw.vgpu;
  // Issue 14: checked by the server, which names the field (withFlagName makes it the flag).
  if (raw.array !== undefined) (spec as ArraySpecInput).array = raw.array;
  if (raw.after && raw.after.length > 0) (spec as ArraySpecInput).after = raw.after;
  return { spec, detach: raw.detach === true };
}

async function runTask(ctx: CliContext, client: FastGPU, opts: RunOptions): Promise<void> {
  if ((opts.spec as ArraySpecInput).array !== undefined) return runArray(ctx, client, opts.spec, opts.detach).catch((e: unknown) => Promise.reject(withFlagName(e)));
  let task;
  try {
    task = await client.tasks.submit(opts.spec);
  } catch (e) {
    throw withFlagName(e);
  }
  await noteSlice(ctx, client, task);
  if (opts.detach) {
    ctx.stdout.write(`${task.id}\n`);
    return;
  }
  const ac = new AbortController();
  const off = ctx.onInterrupt(() => ac.abort());
  const progress = watchProgress(ctx, client, task);
  try {
    for await (const c of client.tasks.follow(task.id, { signal: ac.signal })) {
      progress.clear();
      writeChunk(ctx, c);
    }
    const done = await client.tasks.wait(task.id, { signal: ac.signal });
    progress.stop();
    ctx.exitCode = taskExitCode(done, ctx);
  } catch (e) {
    progress.stop();
    if (!ac.signal.aborted) throw e;
    ctx.stderr.write(`\nfastgpu: ${detachMessage(await currentState(client, progress.last()))}\n`);
    ctx.exitCode = 130;
  } finally {
    progress.stop();
    off();
  }
}

/**
 * Says on stderr what GPU memory a fraction or TFLOPS share comes with (see sliceNote). Only to
 * a person at a terminal: a script's stderr holds its task's own output and nothing else.
 */
async function noteSlice(ctx: CliContext, client: FastGPU, task: TaskView): Promise<void> {
  if (!ctx.stderr.isTTY) return;
  const gpu = task.spec.resources.gpu;
  if (!gpu || gpu.memoryMiB !== undefined || gpu.share.kind === 'memory' || (gpu.share.kind === 'milli' && gpu.share.milli >= 1000)) return;
  const models = modelsOf(await client.gpus().catch(() => []));
  const note = sliceNote(gpu, models, '--gpu-memory');
  if (note) ctx.stderr.write(`fastgpu: ${note}\n`);
}

/** The task as the server has it now, or as last seen when the server does not answer at once. */
export async function currentState(client: FastGPU, last: TaskView): Promise<TaskView> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<TaskView>((resolve) => (timer = setTimeout(() => resolve(last), 2000)));
  try {
    return await Promise.race([client.tasks.get(last.id), late]);
  } catch {
    return last;
  } finally {
    clearTimeout(timer);
  }
}

/** Names the flag in a server complaint about a spec field (`resources.gpu: …` → `--gpu: …`). */
function withFlagName(e: unknown): unknown {
  if (!(e instanceof FastGpuApiError) || e.field === undefined) return e;
  const key = Object.keys(FLAG_OF).find((k) => e.field === k || e.field!.startsWith(`${k}.`));
  if (key === undefined) return e;
  const flag = FLAG_OF[key]!;
  const message = e.message.startsWith(`${e.field}:`) ? `${flag}: ${e.message.slice(e.field.length + 1).trim()}` : `${flag}: ${e.message}`;
  return new FastGpuApiError(e.code, message, e.status, e.field);
}

/** Every server (`url` may list several) runs on this machine, so this directory exists where the task runs. */
function isLocal(url: string): boolean {
  return splitServerUrls(url).every((u) => {
    const host = new URL(u).hostname;
    return host === '127.0.0.1' || host === 'localhost' || host === '[::1]' || host === '::1';
  });
}
