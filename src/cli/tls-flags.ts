// `--tls-cert/--tls-key` and `--tls-self-signed` for `fastgpu server` and `fastgpu up` (issue 11).
import { join } from 'node:path';
import type { Command } from 'commander';
import { defaultSans, loadTlsPair, selfSignedPair, type TlsPair } from '../server/tls.js';
import type { RawServerFlags } from './daemon.js';
import { UsageError } from './flags.js';

export function addTlsFlags(cmd: Command): Command {
  return cmd
    .option('--tls-cert <file>', 'serve HTTPS with this certificate (PEM; with --tls-key)')
    .option('--tls-key <file>', 'the private key of --tls-cert (PEM)')
    .option('--tls-self-signed', 'serve HTTPS with a self-signed pair made once in <data-dir>/tls (prints its fingerprint; agents trust it with --ca)')
    .option('--tls-san <name>', 'with --tls-self-signed: another DNS name or IP the certificate is valid for (repeatable)', (v: string, prev: string[] = []) => [...prev, v]);
}

/** The pair the flags ask for, or undefined for plain HTTP. */
export async function tlsFromFlags(raw: RawServerFlags, dataDir: string): Promise<(TlsPair & { made?: boolean }) | undefined> {
  const pair = raw.tlsCert !== undefined || raw.tlsKey !== undefined;
  if (pair && raw.tlsSelfSigned) throw new UsageError('--tls-self-signed makes its own pair: give it or --tls-cert/--tls-key, not both');
  if (raw.tlsSan !== undefined && !raw.tlsSelfSigned) throw new UsageError('--tls-san needs --tls-self-signed');
  if (pair) {
    if (raw.tlsCert === undefined || raw.tlsKey === undefined) throw new UsageError('--tls-cert and --tls-key go together');
    try {
      return await loadTlsPair(raw.tlsCert, raw.tlsKey);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  }
  if (!raw.tlsSelfSigned) return undefined;
  return selfSignedPair(join(dataDir, 'tls'), defaultSans(raw.tlsSan ?? []));
}

/** Banner lines for a TLS server: the fingerprint to pin and the file to hand agents as --ca. */
export function tlsBanner(tls: (TlsPair & { made?: boolean }) | undefined): string[] {
  if (!tls) return [];
  return [`  TLS certificate ${tls.certFile}${tls.made ? ' (made now, self-signed)' : ''}`, `    sha256 fingerprint ${tls.fingerprint}`];
}
