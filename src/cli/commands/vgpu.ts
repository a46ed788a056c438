// `fastgpu vgpu create|ls|rm`: vGPU reservations, slices of one GPU that tasks run inside.
import type { Command } from 'commander';
import { FastGpuApiError } from '../../sdk/errors.js';
import type { VgpuRequest, VgpuView } from '../../sdk/types.js';
import { contextOf } from '../context.js';
import { UsageError, clientFor, gpuFlag, numberFlag, outputFlag, sizeFlag, withConnection, withOutput } from '../flags.js';
import { dash, gpuAmount, mib, placedGpus, table } from '../format.js';
import { modelsOf, sliceNote } from '../slice.js';
import type { GpuRequest } from '../../core/types.js';

export interface RawVgpuCreate {
  gpu?: string;
  tflops?: string;
  memory?: string;
  model?: string;
  name?: string;
}

export function register(program: Command): void {
  const vgpu = program.command('vgpu').description('vGPU reservations: create, ls, rm');

  withOutput(withConnection(vgpu.command('create')))
    .description('reserve a slice of one GPU; prints its id (submit into it with `fastgpu run --vgpu ID`)')
    .option('--gpu <fraction>', "share of one GPU, e.g. 0.5, A100:0.5 or '{tflops: 20, memory: 10GiB}'")
    .option('--tflops <n>', 'compute in dense BF16 tensor TFLOPS; becomes a share of the model it lands on')
    .option('--memory <size>', 'GPU memory, with its unit, e.g. 20GiB (default: in proportion to the compute share)')
    .option('--model <model>', 'GPU model, e.g. H100')
    .option('--name <name>', 'a name for people')
    .action(async (raw: RawVgpuCreate & { output?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const output = outputFlag(raw.output);
      const client = clientFor(cmd);
      const v = await client.vgpus.create(compileVgpuCreate(raw));
      ctx.stdout.write(output === 'json' ? `${JSON.stringify(v, null, 2)}\n` : `${v.id}\n`);
      if (output === 'table') {
        // Say what the slice comes with: where it landed, or what it would get on each model.
        if (v.placement) ctx.stderr.write(`fastgpu: ${v.id}: ${gpuAmount(v.placement.gpuMilli)} of GPU ${v.placement.gpus.join(',')} on ${v.placement.node}, with ${mib(v.placement.memoryMiB)} of GPU memory${raw.memory === undefined ? ' (in proportion to its share; set --memory for more)' : ''}\n`);
        else {
          const note = sliceNote(v.request as GpuRequest | undefined, modelsOf(await client.gpus().catch(() => [])), '--memory');
          if (note) ctx.stderr.write(`fastgpu: ${note}\n`);
        }
      }
      if (output === 'table' && v.state === 'PENDING' && v.reason) ctx.stderr.write(`fastgpu: ${v.id} is waiting for room (${v.reason})\n`);
    });

  withOutput(withConnection(vgpu.command('ls')))
    .description('list vGPU reservations')
    .action(async (raw: { output?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const output = outputFlag(raw.output);
      const list = await clientFor(cmd).vgpus.list();
      ctx.stdout.write(output === 'json' ? `${JSON.stringify(list, null, 2)}\n` : vgpuTable(list));
    });

  withConnection(vgpu.command('rm'))
    .description('release reservations (their unfinished tasks are cancelled)')
    .argument('<ids...>', 'vGPU ids')
    .action(async (ids: string[], _raw: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const client = clientFor(cmd);
      for (const id of ids) {
        try {
          const v = await client.vgpus.delete(id);
          ctx.stdout.write(`${v.id} ${v.state}\n`);
        } catch (e) {
          if (!(e instanceof FastGpuApiError) || !(e.code === 'NOT_FOUND' || e.code === 'CONFLICT')) throw e;
          ctx.stderr.write(`fastgpu: ${id}: ${e.message}\n`);
          ctx.exitCode = 1;
        }
      }
    });
}

/** Validates the size flags once into the request body. */
export function compileVgpuCreate(raw: RawVgpuCreate): VgpuRequest {
  const req: VgpuRequest = {};
  if (raw.gpu !== undefined) {
    const g = gpuFlag(raw.gpu, '--gpu');
    if (typeof g === 'number' && g > 1) throw new UsageError(`--gpu: a vGPU is a slice of one GPU; ${g} is more than 1`);
    if (typeof g === 'object') {
      // `--gpu '{tflops: 20, memory: 10GiB}'`: the same fields as the flags.
      if (g.count !== undefined && g.count !== 1) throw new UsageError(`--gpu: a vGPU is a slice of one GPU, not ${g.count}`);
      if (g.fraction !== undefined) req.gpu = g.fraction;
      if (g.tflops !== undefined) req.tflops = g.tflops;
      if (g.memory !== undefined) req.memory = String(g.memory);
      if (g.model !== undefined) req.model = g.model;
      if (g.count === 1 && req.gpu === undefined && req.tflops === undefined && req.memory === undefined) req.gpu = 1;
    } else req.gpu = g;
  }
  if (raw.tflops !== undefined) {
    if (req.gpu !== undefined || req.tflops !== undefined) throw new UsageError('--tflops: give compute one way, --gpu or --tflops, not both');
    req.tflops = numberFlag(raw.tflops, '--tflops', 1e6);
  }
  if (raw.memory !== undefined) {
    if (req.memory !== undefined) throw new UsageError('--memory: the --gpu mapping already gives memory; give it once');
    sizeFlag(raw.memory, '--memory');
    req.memory = raw.memory.trim();
  }
  if (req.gpu === undefined && req.tflops === undefined && req.memory === undefined) {
    throw new UsageError('vgpu create: say how big: --gpu 0.5, --tflops 20 or --memory 20GiB');
  }
  if (raw.model !== undefined) {
    if (req.model !== undefined) throw new UsageError('--model: the --gpu mapping already names a model; give it once');
    if (raw.model.trim() === '') throw new UsageError('--model: is empty');
    req.model = raw.model.trim();
  }
  if (raw.name !== undefined) req.name = raw.name;
  return req;
}

export function vgpuTable(list: readonly VgpuView[]): string {
  return table(
    ['ID', 'NAME', 'STATE', 'NODE', 'GPU', 'SHARE', 'MEMORY'],
    list.map((v) => [
      v.id,
      v.name,
      v.state + (v.reason ? ` (${v.reason})` : ''),
      dash(v.placement?.node),
      v.placement ? placedGpus({ ...v.placement, gpuMilli: 1000 }) : '-',
      v.placement ? gpuAmount(v.placement.gpuMilli) : '-',
      v.placement ? mib(v.placement.memoryMiB) : '-',
    ]),
  );
}
