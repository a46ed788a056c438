// How dataset chunks travel and rest (issue 16): gzip or identity, chosen per chunk. Node's own
// zlib, not zstd: Node 20 has no zstd, and the npm zstd bindings are native builds (a compiler at
// install time) or WebAssembly ports slower than zlib at level 1. Training data is mostly already
// compressed (JPEG, PNG, parquet, float tensors), where any compressor only burns CPU: so the
// first 64 KiB of a chunk is tried first, and a chunk that does not shrink by a tenth goes as is.
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import { CHUNK_BYTES } from '../core/data/dataset.js';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

export type ChunkEncoding = 'gzip' | 'identity';
export const CHUNK_ENCODINGS: readonly ChunkEncoding[] = ['gzip', 'identity'];
/** The HTTP header naming a chunk body's encoding. */
export const ENCODING_HEADER = 'x-fastgpu-encoding';

const PROBE_BYTES = 64 * 1024;
/** Compressed must be at most this share of the original to be worth it. */
const WORTH = 0.9;

export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** The chunk as it should be sent: gzip (level 1) when that pays, else the bytes themselves. */
export async function encodeChunk(raw: Buffer): Promise<{ data: Buffer; encoding: ChunkEncoding }> {
  const probe = raw.length > PROBE_BYTES ? raw.subarray(0, PROBE_BYTES) : raw;
  // Off the event loop (zlib's thread pool), as the whole-chunk gzip below.
  if ((await gzipAsync(probe, { level: 1 })).length > probe.length * WORTH) return { data: raw, encoding: 'identity' };
  const z = await gzipAsync(raw, { level: 1 });
  return z.length <= raw.length * WORTH ? { data: z, encoding: 'gzip' } : { data: raw, encoding: 'identity' };
}

/** Thrown for bytes that are not a valid chunk: a bad gzip stream, too long, or the wrong hash. */
export class BadChunkError extends Error {
  override name = 'BadChunkError';
}

/** The raw bytes of an encoded chunk, at most CHUNK_BYTES (a gzip bomb stops there). */
export async function decodeChunk(data: Buffer, encoding: ChunkEncoding): Promise<Buffer> {
  if (encoding === 'identity') {
    if (data.length > CHUNK_BYTES) throw new BadChunkError(`a chunk is at most ${CHUNK_BYTES} bytes; this one is ${data.length}`);
    return data;
  }
  try {
    return await gunzipAsync(data, { maxOutputLength: CHUNK_BYTES });
  } catch (e) {
    throw new BadChunkError(`not a gzip stream of at most ${CHUNK_BYTES} bytes (${(e as Error).message})`);
  }
}

/** Decodes and checks the hash: the raw bytes, or BadChunkError. */
export async function verifyChunk(data: Buffer, encoding: ChunkEncoding, hash: string): Promise<Buffer> {
  const raw = await decodeChunk(data, encoding);
  if (raw.length === 0) throw new BadChunkError('a chunk is at least one byte');
  const got = sha256(raw);
  if (got !== hash) throw new BadChunkError(`its sha256 is ${got}, not ${hash}`);
  return raw;
}

export function parseEncoding(v: string | null | undefined): ChunkEncoding | null {
  const e = v ?? 'identity';
  return (CHUNK_ENCODINGS as readonly string[]).includes(e) ? (e as ChunkEncoding) : null;
}
