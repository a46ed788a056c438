// `fastgpu data push|pull|ls|show|rm|quota`: datasets (issue 16). A push prints what it moved, so a
// second push of the same folder visibly uploads nothing, and a push cut short resumes when run
// again.
import type { Command } from 'commander';
import type { Dataset, DatasetSummary, PushProgress } from '../../sdk/datasets.js';
import { contextOf, type CliContext } from '../context.js';
import { clientFor, outputFlag, sizeFlag, UsageError, withConnection, withOutput } from '../flags.js';
import { age, table } from '../format.js';
import { formatBytes } from '../../core/data/dataset.js';

/** Bytes for people: 1.5 GiB, 12.0 MiB, 300 B. */
export const bytes = formatBytes;

export function datasetsTable(list: readonly DatasetSummary[], now = Date.now()): string {
  if (list.length === 0) return 'no datasets (push one with `fastgpu data push DIR NAME`)\n';
  return table(
    ['TENANT', 'NAME', 'VERSION', 'FILES', 'SIZE', 'CHUNKS', 'AGE', 'MADE BY'],
    // MADE BY: the task whose outputs made the version (issue 16), or a push.
    list.map((d) => [d.tenant, d.name, String(d.version), String(d.fileCount), bytes(d.bytes), String(d.chunkCount), age(d.createdAt, now), d.taskId !== undefined ? `task ${d.taskId}` : 'push']),
  );
}

export function datasetText(d: Dataset, maxFiles = 50): string {
  const head = `${d.name}@${d.version} (tenant ${d.tenant}): ${d.fileCount} files, ${bytes(d.bytes)}, ${d.chunkCount} chunks, ${d.taskId !== undefined ? `made by task ${d.taskId} (its outputs)` : 'pushed'} ${new Date(d.createdAt).toISOString()}\n`;
  const files = d.manifest.files.slice(0, maxFiles).map((f) => [f.path, bytes(f.size), String(f.chunks.length), f.executable ? 'x' : '']);
  const more = d.fileCount > maxFiles ? `… and ${d.fileCount - maxFiles} more files (--output json lists all)\n` : '';
  return head + (files.length > 0 ? table(['PATH', 'SIZE', 'CHUNKS', 'EXEC'], files) : '') + more;
}

function parallelFlag(raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new UsageError(`--parallel: ${JSON.stringify(raw)} must be a whole number from 1 to 64`);
  return n;
}

/** A one-line progress on a terminal (rewritten in place), nothing otherwise. */
function progressLine(ctx: CliContext): { update: (p: Progress) => void; end: () => void } {
  if (!ctx.stderr.isTTY) return { update: () => undefined, end: () => undefined };
  let last = 0;
  return {
    update: (p) => {
      const now = Date.now();
      if (now - last < 100 && p.done < p.total) return;
      last = now;
      const pct = p.total > 0 ? Math.floor((100 * p.done) / p.total) : 100;
      ctx.stderr.write(`\r${p.phase} ${bytes(p.done)} / ${bytes(p.total)} (${pct}%)   `);
    },
    end: () => void ctx.stderr.write('\r\x1b[K'),
  };
}

type Progress = { phase: PushProgress['phase'] | 'download'; done: number; total: number };

/** A push or pull: the flags checked, progress on a terminal, then the result as text or JSON. */
async function transfer<R>(
  cmd: Command,
  raw: { tenant?: string; parallel: string; output?: string },
  run: (fg: ReturnType<typeof clientFor>, o: { concurrency: number; tenant?: string }, update: (p: Progress) => void) => Promise<R>,
  text: (r: R, seconds: number) => string,
): Promise<void> {
  const ctx = contextOf(cmd);
  const output = outputFlag(raw.output);
  const concurrency = parallelFlag(raw.parallel);
  const line = progressLine(ctx);
  const started = Date.now();
  let r: R;
  try {
    r = await run(clientFor(cmd), { concurrency, ...(raw.tenant !== undefined ? { tenant: raw.tenant } : {}) }, line.update);
  } finally {
    line.end();
  }
  ctx.stdout.write(output === 'json' ? `${JSON.stringify(r, null, 2)}\n` : text(r, (Date.now() - started) / 1000));
}

export function register(program: Command): void {
  const data = program.command('data').description('datasets: versioned folders staged to nodes once and cached (`fastgpu data push DIR NAME`)');

  withOutput(withConnection(data.command('push')))
    .description('upload a folder as the next version of a dataset (only chunks the server lacks move; run again to resume)')
    .argument('<dir>', 'the folder')
    .argument('<name>', 'dataset name (a-z, 0-9, . _ -)')
    .option('--tenant <name>', "the dataset's tenant (default: your token's)")
    .option('--parallel <n>', 'uploads at once', '8')
    .action(async (dir: string, name: string, raw: { tenant?: string; parallel: string; output?: string }, cmd: Command) => {
      await transfer(cmd, raw, (fg, o, update) => fg.datasets.push(dir, name, { ...o, onProgress: update }), (r, secs) =>
        `pushed ${r.name}@${r.version}: ${r.fileCount} files, ${bytes(r.bytes)} in ${r.chunkCount} chunks; uploaded ${r.uploadedChunks} chunks, ${bytes(r.uploadedBytes)} (${bytes(r.sentBytes)} on the wire) in ${secs.toFixed(1)} s\n`,
      );
    });

  withOutput(withConnection(data.command('pull')))
    .description('download a version into a new (or empty) folder: NAME (the newest) or NAME@VERSION; every chunk checked by hash')
    .argument('<ref>', 'NAME or NAME@VERSION')
    .argument('<dir>', 'the folder to create')
    .option('--tenant <name>', "the dataset's tenant (default: your token's)")
    .option('--parallel <n>', 'downloads at once', '8')
    .action(async (ref: string, dir: string, raw: { tenant?: string; parallel: string; output?: string }, cmd: Command) => {
      await transfer(
        cmd,
        raw,
        (fg, o, update) => fg.datasets.pull(ref, dir, { ...o, onProgress: (p) => update({ phase: 'download', ...p }) }),
        (r, secs) => `pulled ${r.name}@${r.version} into ${r.dir}: ${r.files} files, ${bytes(r.bytes)} in ${secs.toFixed(1)} s\n`,
      );
    });

  withOutput(withConnection(data.command('ls')))
    .description("every version of your tenant's datasets (admins: all tenants)")
    .option('--tenant <name>', 'only this tenant')
    .action(async (raw: { tenant?: string; output?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const list = await clientFor(cmd).datasets.list(raw.tenant !== undefined ? { tenant: raw.tenant } : {});
      ctx.stdout.write(outputFlag(raw.output) === 'json' ? `${JSON.stringify(list, null, 2)}\n` : datasetsTable(list));
    });

  withOutput(withConnection(data.command('show')))
    .description('one version and its files: NAME (the newest) or NAME@VERSION')
    .argument('<ref>', 'NAME or NAME@VERSION')
    .option('--tenant <name>', "the dataset's tenant (default: your token's)")
    .action(async (ref: string, raw: { tenant?: string; output?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const d = await clientFor(cmd).datasets.get(ref, raw.tenant !== undefined ? { tenant: raw.tenant } : {});
      ctx.stdout.write(outputFlag(raw.output) === 'json' ? `${JSON.stringify(d, null, 2)}\n` : datasetText(d));
    });

  withConnection(data.command('rm'))
    .description('remove NAME@VERSION, or every version of NAME; chunks nothing else uses are deleted')
    .argument('<ref>', 'NAME or NAME@VERSION')
    .option('--tenant <name>', "the dataset's tenant (default: your token's)")
    .action(async (ref: string, raw: { tenant?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const r = await clientFor(cmd).datasets.remove(ref, raw.tenant !== undefined ? { tenant: raw.tenant } : {});
      ctx.stdout.write(`removed ${r.name} version${r.versions.length > 1 ? 's' : ''} ${r.versions.join(', ')}; ${r.freedChunks} chunks freed\n`);
    });

  withOutput(withConnection(data.command('quota')))
    .description("a tenant's dataset bytes and limit; with --set (admins) change the limit (`--set none` removes it)")
    .argument('<tenant>', 'the tenant')
    .option('--set <size>', 'new limit, e.g. 500GiB, or none')
    .action(async (tenant: string, raw: { set?: string; output?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const fg = clientFor(cmd);
      const q =
        raw.set === undefined
          ? await fg.datasets.quota(tenant)
          : await fg.datasets.setQuota(tenant, raw.set.trim() === 'none' ? null : sizeFlag(raw.set, '--set') * 1024 * 1024);
      ctx.stdout.write(outputFlag(raw.output) === 'json' ? `${JSON.stringify(q, null, 2)}\n` : `tenant ${q.tenant}: ${bytes(q.usedBytes)} of datasets, limit ${q.maxBytes === null ? 'none' : bytes(q.maxBytes)}\n`);
    });
}
