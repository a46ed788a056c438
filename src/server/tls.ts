// TLS for the server (issue 11): `--tls-cert/--tls-key`, or a self-signed pair for a private pool
// (`--tls-self-signed`), made once with the system's openssl and kept in `<data-dir>/tls/`.
// Agents and clients then trust that certificate with `--ca`; its fingerprint is printed to pin.
import { execFile } from 'node:child_process';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { hostname, networkInterfaces } from 'node:os';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { certFingerprint } from '../util/tls.js';

export interface TlsPair {
  cert: string;
  key: string;
  certFile: string;
  /** SHA-256 fingerprint of the certificate, colon-separated hex. */
  fingerprint: string;
}

async function readPem(file: string, option: string, marker: RegExp): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new Error(`${option} ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (!marker.test(text)) throw new Error(`${option} ${file}: not a PEM ${option === '--tls-key' ? 'private key' : 'certificate'}`);
  return text;
}

/** The pair of `--tls-cert` and `--tls-key`, checked to load. */
export async function loadTlsPair(certFile: string, keyFile: string): Promise<TlsPair> {
  const cert = await readPem(certFile, '--tls-cert', /-----BEGIN CERTIFICATE-----/);
  const key = await readPem(keyFile, '--tls-key', /-----BEGIN [A-Z ]*PRIVATE KEY-----/);
  let fingerprint: string;
  try {
    fingerprint = certFingerprint(cert);
  } catch (e) {
    throw new Error(`--tls-cert ${certFile}: not a certificate Node can read (${(e as Error).message})`);
  }
  return { cert, key, certFile, fingerprint };
}

/** Names and addresses a self-signed certificate should be valid for: loopback, this host, its interfaces, and `extra`. */
export function defaultSans(extra: readonly string[] = []): string[] {
  const out = new Set<string>(['localhost', '127.0.0.1', '::1', hostname()]);
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (!a.internal) out.add(a.address.split('%')[0]!);
  for (const e of extra) out.add(e);
  return [...out].filter((s) => s.length > 0);
}

/**
 * The self-signed pair in `<dir>`: made (ECDSA P-256, 825 days) when absent, reused otherwise,
 * so agents that pinned it keep trusting a restarted server.
 */
export async function selfSignedPair(dir: string, sans: readonly string[]): Promise<TlsPair & { made: boolean }> {
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  const exists = await stat(certFile).then(() => true, () => false);
  if (!exists) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const san = sans.map((s) => (isIP(s) ? `IP:${s}` : `DNS:${s}`)).join(',');
    try {
      await promisify(execFile)(
        'openssl',
        ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '825', '-subj', '/CN=fastgpu', '-addext', `subjectAltName=${san}`, '-keyout', keyFile, '-out', certFile],
        { timeout: 30_000 },
      );
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new Error(code === 'ENOENT' ? '--tls-self-signed needs openssl (Debian/Ubuntu: apt-get install openssl), or pass --tls-cert and --tls-key' : `openssl could not make a self-signed pair: ${(e as { stderr?: string }).stderr ?? (e as Error).message}`);
    }
  }
  return { ...(await loadTlsPair(certFile, keyFile)), made: !exists };
}
