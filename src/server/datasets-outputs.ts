// Task outputs (issue 16): after a task's process exits 0 its agent uploads each `outputs:` path
// as a new version of its dataset, owned by the task's tenant, through these agent routes. They
// are the push protocol of datasets.ts (which chunks are missing, upload them, commit the
// manifests), but the caller is the agent of the task's live attempt, not a user:
//   - the node credential must be the node's, the attempt the task's current one, on that node,
//     and the task RUNNING (Uploading): a stale attempt, another node's task, or a task that
//     ended is refused, so an agent cannot write a dataset of a task it does not run;
//   - the tenant and dataset names come from the task's spec, never from the agent.
// The commit inserts every output's version, or none: when one fails (the tenant's quota), the
// versions this commit made are removed again before the error is answered. A commit sent again
// (its answer lost) answers the versions already made instead of making new ones.
import { z } from 'zod';
import { checkManifest, HASH_RE, summary, type DatasetManifest, type DatasetSummary } from '../core/data/dataset.js';
import { FastGpuError, notFound } from '../core/errors.js';
import type { Task } from '../core/types.js';
import type { RouteBook } from './api.js';
import type { Principal } from './auth.js';
import { needBlobs, type BlobStore } from './datasets-blobs.js';
import { checkNodeBinding, credentialOf } from './routes/join.js';
import type { RouteContext } from './routes/context.js';

/** A task's outputs with the versions they made (the task detail view). */
export async function outputsOfTask(t: Task, store: RouteContext['store']): Promise<{ path: string; dataset: string; version: number | null }[] | undefined> {
  if (!t.spec.outputs) return undefined;
  const made = (await store.listDatasets(t.spec.tenant)).filter((d) => d.taskId === t.id);
  return t.spec.outputs.map((o) => ({ ...o, version: made.find((d) => d.name === o.dataset)?.version ?? null }));
}

const Ids = { nodeId: z.string().min(1).max(128), taskId: z.string().min(1).max(128) };
const AttemptBody = { ...Ids, attempt: z.number().int().min(1).max(1_000_000) };
const AttemptQuery = { ...Ids, attempt: z.coerce.number().int().min(1).max(1_000_000) };
const SummarySchema = z.object({ tenant: z.string(), name: z.string(), version: z.number(), bytes: z.number(), fileCount: z.number(), chunkCount: z.number(), createdAt: z.number(), taskId: z.string().optional() });

/** The task of a live attempt of the calling node, or the reason it is not one. */
async function liveTask(ctx: RouteContext, principal: Principal, credential: string | undefined, a: { nodeId: string; taskId: string; attempt: number }): Promise<Task & { spec: { outputs: NonNullable<Task['spec']['outputs']> } }> {
  await ctx.control.authNode(a.nodeId, credential);
  const t = await ctx.control.getTask(a.taskId);
  if (!t) throw notFound('task', a.taskId);
  const here = `task ${t.id} attempt ${a.attempt}`;
  if (t.attempts !== a.attempt) throw new FastGpuError('CONFLICT', `${here} is stale: the task is at attempt ${t.attempts}; outputs of an old attempt are refused`);
  if (t.placement?.nodeId !== a.nodeId) throw new FastGpuError('FORBIDDEN', `${here} does not run on node ${a.nodeId}: an agent uploads only the outputs of tasks it runs`);
  checkNodeBinding(principal, t.placement.node);
  if (t.state !== 'RUNNING') throw new FastGpuError('CONFLICT', `${here} is ${t.state}, not running: its outputs are no longer taken`);
  if (!t.spec.outputs) throw new FastGpuError('CONFLICT', `task ${t.id} has no outputs`);
  return t as Task & { spec: { outputs: NonNullable<Task['spec']['outputs']> } };
}

/**
 * The agent routes of task outputs; chunk bodies use the octet-stream parser and the chunk checks
 * of datasets.ts, which passes them in.
 */
export function outputRoutes(
  book: RouteBook,
  ctx: RouteContext,
  blobs: BlobStore | null,
  shared: {
    absentOf: (b: BlobStore, tenant: string, hashes: readonly string[]) => Promise<string[]>;
    putChunk: (tenant: string, hash: string, body: unknown, req: import('fastify').FastifyRequest) => Promise<{ hash: string; bytes: number; stored: number; existed: boolean }>;
    chunkBodyLimit: number;
    manifestBodyLimit: number;
  },
): void {
  const { store, clock } = ctx;
  const ChunkHash = z.string().max(64).regex(HASH_RE, 'is not a chunk hash (64 lower-case hex digits, sha256)');

  book.add({
    method: 'POST',
    url: '/v1/agent/outputs/missing-chunks',
    tag: 'agent',
    summary: "Agents: which chunks of a task's outputs the server lacks for the task's tenant (the attempt must be live on the node)",
    body: z.strictObject({ ...AttemptBody, hashes: z.array(ChunkHash).max(100_000) }),
    bodyLimit: shared.manifestBodyLimit,
    response: z.object({ missing: z.array(z.string()) }),
    handler: async ({ body, req, principal }) => {
      const t = await liveTask(ctx, principal, credentialOf(req), body);
      return { missing: await shared.absentOf(needBlobs(blobs), t.spec.tenant, [...new Set(body.hashes)]) };
    },
  });

  book.add({
    method: 'POST',
    url: '/v1/agent/outputs/chunks/:hash',
    tag: 'agent',
    summary: "Agents: upload one chunk of a task's outputs (raw bytes, x-fastgpu-encoding), kept only when its sha256 is the hash",
    params: z.strictObject({ hash: ChunkHash }),
    query: z.strictObject(AttemptQuery),
    bodyDoc: z.string().meta({ format: 'binary', description: 'the chunk’s bytes, encoded as x-fastgpu-encoding says' }),
    bodyTypes: ['application/octet-stream'],
    bodyLimit: shared.chunkBodyLimit,
    headers: [{ name: 'x-fastgpu-encoding', description: 'gzip or identity (default)' }],
    status: 201,
    response: z.object({ hash: z.string(), bytes: z.number(), stored: z.number(), existed: z.boolean() }),
    handler: async ({ params, query, body, req, principal }) => {
      const t = await liveTask(ctx, principal, credentialOf(req), query);
      return shared.putChunk(t.spec.tenant, params.hash, body, req);
    },
  });

  book.add({
    method: 'POST',
    url: '/v1/agent/outputs/commit',
    tag: 'agent',
    summary: "Agents: commit every output of a task's live attempt as a new version of its dataset (all or none; quota checked)",
    body: z.strictObject({ ...AttemptBody, outputs: z.array(z.strictObject({ index: z.number().int().min(0).max(1000), manifest: z.unknown() })).max(1000) }),
    bodyLimit: shared.manifestBodyLimit,
    response: z.object({ versions: z.array(SummarySchema.extend({ index: z.number() })) }),
    handler: async ({ body, req, principal }) => {
      const t = await liveTask(ctx, principal, credentialOf(req), body);
      const outs = t.spec.outputs;
      const tenant = t.spec.tenant;
      const given = new Map<number, DatasetManifest>();
      const checked = new Map<number, ReturnType<typeof checkManifest>>();
      for (const [i, o] of body.outputs.entries()) {
        if (o.index >= outs.length) throw new FastGpuError('INVALID_ARGUMENT', `task ${t.id} has ${outs.length} output(s); there is no output ${o.index}`, `body.outputs.${i}.index`);
        if (given.has(o.index)) throw new FastGpuError('INVALID_ARGUMENT', `output ${o.index} is given twice`, `body.outputs.${i}.index`);
        const c = checkManifest(o.manifest, `body.outputs.${i}.manifest`);
        given.set(o.index, c.manifest);
        checked.set(o.index, c);
      }
      const lacking = outs.map((_, i) => i).filter((i) => !given.has(i));
      if (lacking.length > 0) throw new FastGpuError('INVALID_ARGUMENT', `every output is committed at once; outputs ${lacking.join(', ')} are missing`, 'body.outputs');
      const b = needBlobs(blobs);
      const { versions, made } = await b.exclusive(tenant, async () => {
        // Sent again after a lost answer: the versions this task made already are the answer.
        const made = (await store.listDatasets(tenant)).filter((d) => d.taskId === t.id);
        const out: (DatasetSummary & { index: number })[] = [];
        const inserted: DatasetSummary[] = [];
        try {
          for (const [i, o] of outs.entries()) {
            const prior = made.find((d) => d.name === o.dataset);
            if (prior) {
              out.push({ ...prior, index: i });
              continue;
            }
            const c = checked.get(i)!;
            const absent = await shared.absentOf(b, tenant, [...c.chunks]);
            if (absent.length > 0) throw new FastGpuError('CONFLICT', `outputs.${i} (${o.path} → ${o.dataset}): ${absent.length} chunk(s) are not uploaded (first: ${absent[0]})`);
            const d = await store
              .insertDataset({ tenant, name: o.dataset, bytes: c.bytes, fileCount: c.manifest.files.length, createdAt: clock.now(), manifest: c.manifest, chunks: [...c.chunks].sort(), taskId: t.id })
              .catch((e: unknown) => {
                if (e instanceof FastGpuError) throw new FastGpuError(e.code, `outputs.${i} (${o.path} → ${o.dataset}): ${e.message}`, e.field);
                throw e;
              });
            inserted.push(summary(d));
            out.push({ ...summary(d), index: i });
          }
        } catch (e) {
          // All or none: what this commit made goes again (with the chunks nothing else names).
          for (const d of inserted) {
            const r = await store.deleteDataset(tenant, d.name, d.version);
            const free: string[] = [];
            for (const h of r?.orphanChunks ?? []) if (!(await store.chunkReferenced(tenant, h))) free.push(h);
            await b.remove(tenant, free);
          }
          throw e;
        }
        return { versions: out, made: inserted.length };
      });
      if (made === 0) return { versions };
      ctx.log(`task ${t.id} attempt ${t.attempts}: outputs uploaded: ${versions.map((v) => `${tenant}/${v.name}@${v.version} (${v.bytes} bytes)`).join(', ')}`);
      await ctx.control.recordEvent('task.outputs', { taskId: t.id, nodeId: body.nodeId }, { attempt: t.attempts, versions: versions.map((v) => ({ dataset: v.name, version: v.version, bytes: v.bytes })) });
      return { versions };
    },
  });
}
