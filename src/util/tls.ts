// Clients of a server with a private certificate (issue 11): `--ca FILE` on agents, the CLI and
// the TS SDK. A fetch that trusts the given CA bundle (PEM) instead of the system's, so a pool
// with a self-signed pair (`fastgpu up --tls-self-signed`) is verified, never skipped.
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, fetch as undiciFetch } from 'undici';

export type FetchFn = typeof fetch;

/** The connection pool behind each fetchTrusting result, for callers that send through undici directly. */
const dispatchers = new WeakMap<FetchFn, Agent>();

/** A fetch whose TLS connections trust only `caPem` (one or more PEM certificates). */
export function fetchTrusting(caPem: string): FetchFn {
  const dispatcher = new Agent({ connect: { ca: caPem }, keepAliveTimeout: 60_000 });
  const f = ((input: Parameters<FetchFn>[0], init?: Parameters<FetchFn>[1]) =>
    undiciFetch(input as Parameters<typeof undiciFetch>[0], { ...(init as Parameters<typeof undiciFetch>[1]), dispatcher })) as unknown as FetchFn;
  dispatchers.set(f, dispatcher);
  return f;
}

/** The undici dispatcher a fetchTrusting fetch sends through; undefined for any other fetch. */
export function dispatcherOf(f: FetchFn): Agent | undefined {
  return dispatchers.get(f);
}

/** Reads a CA file for `--ca`, with an error that names the option and the file. */
export function readCaFile(path: string, option = '--ca'): string {
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`${option} ${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new Error(`${option} ${path}: not a PEM certificate (no "BEGIN CERTIFICATE" block)`);
  return pem;
}

/** The SHA-256 fingerprint of a PEM certificate, as `openssl x509 -fingerprint -sha256` prints it. */
export function certFingerprint(pem: string): string {
  const der = new X509Certificate(pem).raw;
  return createHash('sha256').update(der).digest('hex').toUpperCase().match(/../g)!.join(':');
}
