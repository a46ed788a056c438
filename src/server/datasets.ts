// Dataset routes (issue 16). A push is: ask which chunks the server lacks (`POST /v1/missing-chunks`),
// upload those (`POST /v1/chunks/:hash`, raw bytes, gzip or identity, each checked by hash and
// written atomically), then commit the manifest (`POST /v1/datasets`), which gets the next version
// number if every chunk is there and the tenant's quota holds. A push cut short is resumed by
// doing the same again: the chunks already kept are not asked for. Agents read chunks through
// `/v1/agent/chunks/:tenant/:hash`.
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { checkDatasetName, checkManifest, HASH_RE, isChunkHash, NAME_RE, summary, type Dataset } from '../core/data/dataset.js';
import { FastGpuError, invalid, notFound } from '../core/errors.js';
import { RouteBook } from './api.js';
import { authorize, type Principal } from './auth.js';
import { CHUNK_ENCODINGS, ENCODING_HEADER, parseEncoding, type ChunkEncoding } from '../util/chunk-codec.js';
import { inParallel } from '../util/parallel.js';
import { needBlobs, type BlobStore } from './datasets-blobs.js';
import { outputRoutes } from './datasets-outputs.js';
import type { RouteContext } from './routes/context.js';

/** An encoded chunk is at most CHUNK_BYTES plus gzip's overhead on incompressible bytes. */
const CHUNK_BODY_LIMIT = 5 * 1024 * 1024;
/** A manifest of MAX_FILES files with their chunk lists. */
const MANIFEST_BODY_LIMIT = 64 * 1024 * 1024;
const MAX_MISSING_ASK = 100_000;

const Tenant = z.string().min(1).max(64).optional().describe("the dataset's tenant (default: the caller's)");
const TenantQuery = z.strictObject({ tenant: Tenant });
// The patterns are in the spec, so a client (and Schemathesis) knows what a name and a hash are.
const DatasetName = z.string().max(63).regex(NAME_RE, "is not a dataset name: use 1–63 of a-z, 0-9, '.', '_', '-', starting with a letter or digit");
const ChunkHash = z.string().max(64).regex(HASH_RE, 'is not a chunk hash (64 lower-case hex digits, sha256)');
const NameParams = z.strictObject({ name: DatasetName });
/** A tenant's name, as the admin tenant routes take it (tenant names are not dataset names: they may hold capitals). */
const TenantParams = z.strictObject({ name: z.string().min(1).max(64) });
const VersionQuery = z.strictObject({
  tenant: Tenant,
  version: z.coerce.number().int().min(1).max(999_999_999).optional().describe('one version (default: the newest; for DELETE, every version)'),
});
const HashParams = z.strictObject({ hash: ChunkHash });

const SummarySchema = z.object({
  tenant: z.string(),
  name: z.string(),
  version: z.number(),
  bytes: z.number(),
  fileCount: z.number(),
  chunkCount: z.number(),
  createdAt: z.number(),
  taskId: z.string().optional().describe("the task whose outputs made this version (absent for a push)"),
});
const DatasetSchema = SummarySchema.extend({
  manifest: z.object({ files: z.array(z.object({ path: z.string(), size: z.number(), executable: z.boolean(), chunks: z.array(z.object({ hash: z.string(), size: z.number() })) })) }),
});

function checkHash(h: string, field: string): string {
  if (!isChunkHash(h)) throw invalid(field, `${JSON.stringify(h.slice(0, 80))} is not a chunk hash (64 lower-case hex digits, sha256)`);
  return h;
}

/**
 * The hashes the blob store lacks, in their order. Looked up 32 at a time: each is a stat or two,
 * and one after another they made a 1 GiB commit (256 chunks) wait on 500 file-system round trips.
 */
async function absentOf(b: BlobStore, tenant: string, hashes: readonly string[]): Promise<string[]> {
  const held = new Array<boolean>(hashes.length);
  const order = hashes.map((_, i) => i);
  await inParallel(order, 32, async (i) => {
    held[i] = await b.has(tenant, hashes[i]!);
  });
  return hashes.filter((_, i) => !held[i]);
}

/** The tenant a call acts for: the one named (checked against the caller) or the caller's own. */
function tenantFor(p: Principal, action: Parameters<typeof authorize>[1], named: string | undefined): string {
  const tenant = named ?? p.tenant;
  authorize(p, action, tenant);
  return tenant;
}

function encodingOf(req: FastifyRequest): ChunkEncoding {
  const raw = req.headers[ENCODING_HEADER];
  const v = Array.isArray(raw) ? raw[0] : raw;
  const e = parseEncoding(v);
  if (!e) throw invalid(ENCODING_HEADER, `${JSON.stringify((v ?? '').slice(0, 40))} is not one of ${CHUNK_ENCODINGS.join(', ')}`);
  return e;
}

const datasetNotFound = (tenant: string, name: string, version?: number): FastGpuError =>
  version === undefined ? notFound('dataset', `${name} (tenant ${tenant})`) : new FastGpuError('NOT_FOUND', `dataset ${name} has no version ${version} (tenant ${tenant}; \`fastgpu data show ${name}\` lists its versions)`);

/**
 * Registers the dataset and chunk routes. `blobs` is null on a server without a data folder
 * (in-process tests): the routes then answer UNAVAILABLE.
 * @example await app.register(datasetRoutes(ctx, new BlobStore(join(dataDir, 'blobs'))))
 */
export function datasetRoutes(ctx: RouteContext, blobs: BlobStore | null): FastifyPluginAsync {
  return async (app: FastifyInstance) => {
    // Raw chunk bodies: a parser of this plugin only, so every other route still refuses them.
    app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: CHUNK_BODY_LIMIT }, (_req, body, done) => done(null, body));
    const book = new RouteBook(app, ctx.auth);
    register(book, ctx, blobs);
    // The routes join the app's book: one OpenAPI and one 405 table.
    ctx.book.docs.push(...book.docs);
  };
}

function register(book: RouteBook, ctx: RouteContext, blobs: BlobStore | null): void {
  const { store, clock } = ctx;

  const putChunk = async (tenant: string, rawHash: string, body: unknown, req: FastifyRequest): Promise<{ hash: string; bytes: number; stored: number; existed: boolean }> => {
    const hash = checkHash(rawHash, 'params.hash');
    if (!Buffer.isBuffer(body)) throw new FastGpuError('INVALID_ARGUMENT', 'content-type: send the chunk as application/octet-stream', 'content-type');
    const r = await needBlobs(blobs).put(tenant, hash, body, encodingOf(req));
    return { hash, bytes: r.raw, stored: body.length, existed: r.existed };
  };

  book.add({
    method: 'POST',
    url: '/v1/missing-chunks',
    tag: 'datasets',
    summary: 'Which of these chunks the server does not hold for the tenant (upload those, then commit the manifest)',
    body: z.strictObject({ tenant: Tenant, hashes: z.array(z.string().max(128)).max(MAX_MISSING_ASK) }),
    bodyLimit: MANIFEST_BODY_LIMIT,
    response: z.object({ missing: z.array(z.string()) }),
    handler: async ({ body, principal }) => {
      const tenant = tenantFor(principal, 'dataset.push', body.tenant);
      const b = needBlobs(blobs);
      const hashes = [...new Set(body.hashes.map((h, i) => checkHash(h, `body.hashes.${i}`)))];
      return { missing: await absentOf(b, tenant, hashes) };
    },
  });

  book.add({
    method: 'POST',
    url: '/v1/chunks/:hash',
    tag: 'datasets',
    summary: 'Upload one chunk (raw bytes, x-fastgpu-encoding: gzip or identity); kept only when its sha256 is the hash',
    params: HashParams,
    query: TenantQuery,
    // The raw bytes (Fastify's octet-stream parser gives a Buffer); documented as binary.
    bodyDoc: z.string().meta({ format: 'binary', description: 'the chunk’s bytes, encoded as x-fastgpu-encoding says' }),
    bodyTypes: ['application/octet-stream'],
    bodyLimit: CHUNK_BODY_LIMIT,
    headers: [{ name: ENCODING_HEADER, description: 'gzip or identity (default)' }],
    status: 201,
    response: z.object({ hash: z.string(), bytes: z.number(), stored: z.number(), existed: z.boolean() }),
    handler: async ({ params, query, body, req, principal }) => putChunk(tenantFor(principal, 'dataset.push', query.tenant), params.hash, body, req),
  });

  // Task outputs (issue 16): the same push, by the agent of the task's live attempt.
  outputRoutes(book, ctx, blobs, { absentOf, putChunk, chunkBodyLimit: CHUNK_BODY_LIMIT, manifestBodyLimit: MANIFEST_BODY_LIMIT });

  const sendChunk = async (tenant: string, hash: string, reply: import('fastify').FastifyReply): Promise<unknown> => {
    const got = await needBlobs(blobs).openRead(tenant, checkHash(hash, 'params.hash'));
    if (!got) throw notFound('chunk', hash);
    return reply.code(200).header('content-type', 'application/octet-stream').header('content-length', got.size).header(ENCODING_HEADER, got.encoding).send(got.stream);
  };

  book.add({
    method: 'GET',
    url: '/v1/chunks/:hash',
    tag: 'datasets',
    summary: 'Download one chunk as stored (x-fastgpu-encoding says how); the reader checks its sha256',
    params: HashParams,
    query: TenantQuery,
    produces: 'text',
    handler: async ({ params, query, reply, principal }) => {
      const tenant = tenantFor(principal, 'dataset.list', query.tenant);
      // Only chunks a version names: an upload that was never committed is not readable.
      if (!(await store.chunkReferenced(tenant, checkHash(params.hash, 'params.hash')))) throw notFound('chunk', params.hash);
      return sendChunk(tenant, params.hash, reply);
    },
  });

  book.add({
    method: 'GET',
    url: '/v1/agent/chunks/:tenant/:hash',
    tag: 'agent',
    summary: 'Agents: download one chunk of a dataset for staging',
    params: z.strictObject({ tenant: z.string().min(1).max(64), hash: ChunkHash }),
    produces: 'text',
    handler: async ({ params, reply }) => sendChunk(params.tenant, params.hash, reply),
  });

  book.add({
    method: 'GET',
    url: '/v1/agent/datasets/:tenant/:name',
    tag: 'agent',
    summary: "Agents: a dataset version's manifest, for staging",
    params: z.strictObject({ tenant: z.string().min(1).max(64), name: DatasetName }),
    query: z.strictObject({ version: z.coerce.number().int().min(1).max(999_999_999).optional() }),
    response: DatasetSchema,
    handler: async ({ params, query }) => {
      const d = await store.getDataset(params.tenant, params.name, query.version);
      if (!d) throw datasetNotFound(params.tenant, params.name, query.version);
      return d;
    },
  });

  book.add({
    method: 'POST',
    url: '/v1/datasets',
    tag: 'datasets',
    summary: 'Commit a new version of a dataset from its manifest (every chunk uploaded first); quota checked',
    body: z.strictObject({ tenant: Tenant, name: z.string().max(128), manifest: z.unknown() }),
    bodyDoc: z.object({ tenant: z.string().optional(), name: z.string(), manifest: DatasetSchema.shape.manifest }),
    bodyLimit: MANIFEST_BODY_LIMIT,
    status: 201,
    response: SummarySchema,
    handler: async ({ body, principal }) => {
      const tenant = tenantFor(principal, 'dataset.push', body.tenant);
      const name = checkDatasetName(body.name, 'body.name');
      const { manifest, bytes, chunks } = checkManifest(body.manifest, 'body.manifest');
      if (!(await store.getTenant(tenant))) throw notFound('tenant', tenant);
      const b = needBlobs(blobs);
      // Under the tenant's lock, so a removal cannot delete a chunk between this check and the insert.
      const d: Dataset = await b.exclusive(tenant, async () => {
        const absent = await absentOf(b, tenant, [...chunks]);
        if (absent.length > 0) {
          throw new FastGpuError(
            'CONFLICT',
            `${absent.length} chunk(s) of the manifest are not uploaded (first: ${absent[0]}); upload them (POST /v1/chunks/:hash) and commit again`,
          );
        }
        return store.insertDataset({ tenant, name, bytes, fileCount: manifest.files.length, createdAt: clock.now(), manifest, chunks: [...chunks].sort() });
      });
      ctx.log(`dataset ${tenant}/${name}@${d.version} pushed: ${d.fileCount} files, ${d.bytes} bytes, ${d.chunkCount} chunks`);
      return summary(d);
    },
  });

  book.add({
    method: 'GET',
    url: '/v1/datasets',
    tag: 'datasets',
    summary: "Every version of the tenant's datasets (admins: every tenant's, or the one named)",
    query: TenantQuery,
    response: z.object({ datasets: z.array(SummarySchema) }),
    handler: async ({ query, principal }) => {
      if (query.tenant === undefined && principal.role === 'admin') {
        authorize(principal, 'dataset.list', null);
        return { datasets: await store.listDatasets() };
      }
      return { datasets: await store.listDatasets(tenantFor(principal, 'dataset.list', query.tenant)) };
    },
  });

  book.add({
    method: 'GET',
    url: '/v1/datasets/:name',
    tag: 'datasets',
    summary: 'One version of a dataset with its manifest (default: the newest)',
    params: NameParams,
    query: VersionQuery,
    response: DatasetSchema,
    handler: async ({ params, query, principal }) => {
      const tenant = tenantFor(principal, 'dataset.get', query.tenant);
      const name = checkDatasetName(params.name, 'params.name');
      const d = await store.getDataset(tenant, name, query.version);
      if (!d) throw datasetNotFound(tenant, name, query.version);
      return d;
    },
  });

  book.add({
    method: 'DELETE',
    url: '/v1/datasets/:name',
    tag: 'datasets',
    summary: 'Remove one version, or every version, of a dataset; chunks no other version needs are deleted',
    params: NameParams,
    query: VersionQuery,
    response: z.object({ tenant: z.string(), name: z.string(), versions: z.array(z.number()), freedChunks: z.number() }),
    handler: async ({ params, query, principal }) => {
      const tenant = tenantFor(principal, 'dataset.delete', query.tenant);
      const name = checkDatasetName(params.name, 'params.name');
      const b = needBlobs(blobs);
      const out = await b.exclusive(tenant, async () => {
        const r = await store.deleteDataset(tenant, name, query.version);
        if (!r) throw datasetNotFound(tenant, name, query.version);
        // Re-checked one by one: another server may have committed a version naming one since.
        const free: string[] = [];
        for (const h of r.orphanChunks) if (!(await store.chunkReferenced(tenant, h))) free.push(h);
        await b.remove(tenant, free);
        return { tenant, name, versions: r.versions, freedChunks: free.length };
      });
      return out;
    },
  });

  book.add({
    method: 'GET',
    url: '/v1/tenants/:name/dataset-quota',
    tag: 'datasets',
    summary: "A tenant's dataset bytes: used and the limit (null: none)",
    params: TenantParams,
    response: z.object({ tenant: z.string(), usedBytes: z.number(), maxBytes: z.number().nullable() }),
    handler: async ({ params, principal }) => {
      authorize(principal, 'dataset.list', params.name);
      return { tenant: params.name, usedBytes: await store.datasetBytes(params.name), maxBytes: await store.getDatasetQuota(params.name) };
    },
  });

  book.add({
    method: 'POST',
    url: '/v1/tenants/:name/dataset-quota',
    tag: 'datasets',
    summary: "Set a tenant's dataset byte limit (null removes it); admins only",
    params: TenantParams,
    body: z.strictObject({ maxBytes: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).nullable() }),
    response: z.object({ tenant: z.string(), usedBytes: z.number(), maxBytes: z.number().nullable() }),
    handler: async ({ params, body, principal }) => {
      authorize(principal, 'dataset.quota', params.name, { what: 'tenant', id: params.name });
      if (!(await store.getTenant(params.name))) throw notFound('tenant', params.name);
      await store.setDatasetQuota(params.name, body.maxBytes);
      return { tenant: params.name, usedBytes: await store.datasetBytes(params.name), maxBytes: body.maxBytes };
    },
  });
}
