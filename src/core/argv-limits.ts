// Linux's limits on what execve(2) takes: a command that exceeds them fails with E2BIG on every
// attempt, so it can never start and is refused at submit, with the limit named.
import { invalid } from './errors.js';

/** MAX_ARG_STRLEN: one argument or one `KEY=value` environment string, NUL included (32 pages). */
export const MAX_ARG_STRLEN = 131_072;

/**
 * Argument and environment strings together (each with its NUL and its 8-byte pointer). execve
 * allows a quarter of the stack limit (2 MiB with the usual 8 MiB); half of that is left to the
 * variables FastGPU and the agent's host add, so a task within it starts on any ordinary host.
 */
export const MAX_ARGV_ENV_BYTES = 1_048_576;

/** UTF-8 length of a string, as execve counts it (core does no I/O, so no Buffer). */
export function utf8Bytes(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

const kib = (n: number): string => `${Math.round((n / 1024) * 10) / 10} KiB`;

/** Throws INVALID_ARGUMENT naming the limit when `command` and `env` could never be passed to execve. */
export function checkExecLimits(command: readonly string[], env: Readonly<Record<string, string>>, shellString: boolean): void {
  let total = 0;
  command.forEach((a, i) => {
    const bytes = utf8Bytes(a) + 1;
    if (bytes > MAX_ARG_STRLEN) {
      // A string command runs as `sh -c STRING`: the string is the one argument.
      const field = shellString ? 'command' : `command.${i}`;
      throw invalid(field, `is ${kib(bytes)} (${bytes} bytes with its NUL); Linux refuses any single argument over MAX_ARG_STRLEN = ${MAX_ARG_STRLEN} bytes (128 KiB), so it could never start: pass large data in a file instead`);
    }
    total += bytes + 8;
  });
  for (const [k, v] of Object.entries(env)) {
    const bytes = utf8Bytes(k) + 1 + utf8Bytes(v) + 1;
    if (bytes > MAX_ARG_STRLEN) {
      throw invalid(`env.${k}`, `is ${kib(bytes)} as KEY=value (${bytes} bytes with its NUL); Linux refuses any environment string over MAX_ARG_STRLEN = ${MAX_ARG_STRLEN} bytes (128 KiB), so it could never start: pass large data in a file instead`);
    }
    total += bytes + 8;
  }
  if (total > MAX_ARGV_ENV_BYTES) {
    throw invalid('command', `arguments and environment take ${kib(total)} together; at most ${kib(MAX_ARGV_ENV_BYTES)} is allowed (execve's ARG_MAX, less room for FastGPU's own variables), so it could never start: pass large data in a file instead`);
  }
}
