// Datasets (issue 16): a versioned, content-addressed folder. A version is a manifest (files,
// each a list of chunks named by the sha256 of their bytes); the bytes live once per tenant in
// the server's blob store, so pushing a folder again moves only the chunks that changed. Pure:
// names, references, manifests and their checks; reading files and moving bytes is elsewhere.
import { z } from 'zod';
import { FastGpuError, invalid } from '../errors.js';

/**
 * Files are cut into chunks of this many bytes (the last one shorter; small files one chunk).
 * Fixed-size rather than content-defined: training files are written whole (shards, images,
 * checkpoints), so an edit inside a file is rare and fixed cuts cost no hashing of rolling
 * windows. 4 MiB keeps a 1 GiB dataset at ~256 chunks (a small manifest) while still letting
 * uploads and downloads run in parallel.
 */
export const CHUNK_BYTES = 4 * 1024 * 1024;

/** Most files in one version (a manifest stays a few MiB of JSON). */
export const MAX_FILES = 100_000;
/** Most chunks of one version (400 GiB at 4 MiB). */
export const MAX_CHUNKS = 100_000;

export const NAME_RE = /^[a-z0-9][a-z0-9._-]{0,62}$/;
export const HASH_RE = /^[0-9a-f]{64}$/;

/** Throws INVALID_ARGUMENT unless `name` is a dataset name (lower case, digits, `.`, `_`, `-`; 1–63). */
export function checkDatasetName(name: string, field = 'name'): string {
  if (!NAME_RE.test(name)) throw invalid(field, `${JSON.stringify(name.slice(0, 80))} is not a dataset name: use 1–63 of a-z, 0-9, '.', '_', '-', starting with a letter or digit`);
  return name;
}

export function isChunkHash(s: string): boolean {
  return HASH_RE.test(s);
}

/** `NAME` or `NAME@VERSION`; no version means the newest. */
export interface DatasetRef {
  name: string;
  version?: number;
}

/**
 * Parses a dataset reference.
 * @example parseDatasetRef('imagenet@3') // {name: 'imagenet', version: 3}
 */
export function parseDatasetRef(ref: string, field = 'dataset'): DatasetRef {
  const at = ref.indexOf('@');
  if (at < 0) return { name: checkDatasetName(ref, field) };
  const name = checkDatasetName(ref.slice(0, at), field);
  const v = ref.slice(at + 1);
  if (!/^[1-9][0-9]{0,8}$/.test(v)) throw invalid(field, `version ${JSON.stringify(v.slice(0, 20))} is not a version number (1, 2, …): write NAME or NAME@VERSION`);
  return { name, version: Number(v) };
}

export const formatDatasetRef = (r: DatasetRef): string => (r.version === undefined ? r.name : `${r.name}@${r.version}`);

/** One chunk of a file, in order. */
export interface ChunkRef {
  hash: string;
  size: number;
}

export interface ManifestFile {
  /** Relative, `/`-separated, no `.` or `..` segments. */
  path: string;
  size: number;
  /** Whether the owner may execute it (kept so scripts in a dataset still run). */
  executable: boolean;
  chunks: ChunkRef[];
}

export interface DatasetManifest {
  files: ManifestFile[];
}

/** A stored version. */
export interface Dataset {
  tenant: string;
  name: string;
  version: number;
  /** Sum of the file sizes: what counts against the tenant's quota. */
  bytes: number;
  fileCount: number;
  /** Distinct chunks. */
  chunkCount: number;
  createdAt: number;
  /** The task whose `outputs:` made this version (issue 16); absent for a push. */
  taskId?: string;
  manifest: DatasetManifest;
}

/** A version without its manifest (listings). */
export type DatasetSummary = Omit<Dataset, 'manifest'>;

export const summary = (d: Dataset): DatasetSummary => {
  const { manifest: _m, ...rest } = d;
  return rest;
};

const ChunkRefSchema = z.strictObject({
  hash: z.string().regex(HASH_RE, 'must be 64 lower-case hex digits (sha256)'),
  size: z.number().int().min(1).max(CHUNK_BYTES),
});

const FileSchema = z.strictObject({
  path: z.string().min(1).max(4096),
  size: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  executable: z.boolean().default(false),
  chunks: z.array(ChunkRefSchema).max(MAX_CHUNKS),
});

export const ManifestSchema = z.strictObject({
  files: z.array(FileSchema).max(MAX_FILES),
});

/** Throws INVALID_ARGUMENT unless `p` is a safe relative path (no `..`, no absolute, no empty segment). */
export function checkRelativePath(p: string, field: string): string {
  if (p.startsWith('/') || p.includes('\\') || p.includes('\0')) throw invalid(field, `${JSON.stringify(p.slice(0, 200))} must be a relative path with '/' separators`);
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.' || seg === '..') throw invalid(field, `${JSON.stringify(p.slice(0, 200))} has an empty, '.' or '..' segment`);
  }
  return p;
}

/**
 * Checks a manifest from a client: safe unique paths, chunk sizes that add up to each file's size,
 * and no file under another file's path. Returns it with its totals.
 */
export function checkManifest(raw: unknown, field = 'manifest'): { manifest: DatasetManifest; bytes: number; chunks: Set<string> } {
  const parsed = ManifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw invalid([field, ...issue.path.map(String)].join('.'), issue.message);
  }
  const files = parsed.data.files;
  const seen = new Set<string>();
  const chunks = new Set<string>();
  let bytes = 0;
  let chunkRefs = 0;
  for (const [i, f] of files.entries()) {
    const where = `${field}.files.${i}`;
    checkRelativePath(f.path, `${where}.path`);
    if (seen.has(f.path)) throw invalid(`${where}.path`, `${JSON.stringify(f.path)} appears twice`);
    seen.add(f.path);
    const sum = f.chunks.reduce((a, c) => a + c.size, 0);
    if (sum !== f.size) throw invalid(`${where}.chunks`, `chunk sizes add up to ${sum}, not the file's size ${f.size}`);
    for (const c of f.chunks) chunks.add(c.hash);
    chunkRefs += f.chunks.length;
    bytes += f.size;
  }
  if (chunkRefs > MAX_CHUNKS) throw invalid(`${field}.files`, `${chunkRefs} chunks in one version; at most ${MAX_CHUNKS}`);
  // A file and a folder of the same name cannot both be materialised.
  for (const p of seen) {
    for (let at = p.indexOf('/'); at >= 0; at = p.indexOf('/', at + 1)) {
      if (seen.has(p.slice(0, at))) throw invalid(`${field}.files`, `${JSON.stringify(p.slice(0, at))} is both a file and a folder`);
    }
  }
  return { manifest: { files }, bytes, chunks };
}

/** Bytes for people: 1.5 GiB, 12.0 MiB, 300 B. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** The quota check, as one rule for both stores: `used` + `adding` within `limit` (null: none). */
export function quotaError(tenant: string, used: number, adding: number, limit: number | null): FastGpuError | null {
  if (limit === null || used + adding <= limit) return null;
  return new FastGpuError(
    'RESOURCE_EXHAUSTED',
    `dataset quota of tenant ${tenant} exceeded: ${used} bytes stored + ${adding} new > limit ${limit} bytes (remove old versions with \`fastgpu data rm\`, or ask an admin to raise it)`,
  );
}
