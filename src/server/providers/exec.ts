// Runs a provider's command-line tool (sbatch, scontrol, a user's create script) with a time
// limit, so that a hung controller never hangs the server, and with an environment that does not
// leak the server's own Slurm job into the jobs it submits.
import { execFile } from 'node:child_process';
import { ProviderError } from './types.js';

export interface ExecResult {
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  input?: string;
}

/**
 * The environment for a provider command: the server's, less every `SLURM_*` variable (a server
 * that itself runs inside a Slurm allocation would otherwise submit jobs into that allocation's
 * limits and account), plus `extra`.
 */
export function providerEnv(base: NodeJS.ProcessEnv, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(base)) if (!k.startsWith('SLURM_') && !k.startsWith('SBATCH_') && !k.startsWith('SALLOC_')) env[k] = v;
  return { ...env, ...extra };
}

/** Runs `file args…`; a non-zero exit, a signal or the time limit is a ProviderError with stderr. */
export function run(provider: string, file: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { timeout: opts.timeoutMs ?? 15_000, killSignal: 'SIGKILL', env: opts.env ?? providerEnv(process.env), maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err === null) {
          resolve({ stdout, stderr });
          return;
        }
        const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: number | string };
        const what = e.code === 'ENOENT' ? `${file} not found (is it installed and on PATH?)` : e.killed === true ? `${file} did not answer within ${opts.timeoutMs ?? 15_000} ms` : `${file} ${args.join(' ')} failed`;
        reject(new ProviderError(provider, what, stderr.trim().slice(0, 2000)));
      },
    );
    if (opts.input !== undefined) {
      // A command may exit without reading its input (a `list` that needs none): the broken pipe
      // is no error of ours; its exit status says whether it worked.
      child.stdin?.on('error', () => undefined);
      child.stdin?.end(opts.input);
    }
  });
}
