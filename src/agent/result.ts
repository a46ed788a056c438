// $FASTGPU_RESULT (issue 14): a file in the attempt's directory where the task may write its
// result as JSON. The agent makes it empty before the launch and reads it once the task has
// exited; the report carries the text (the server parses it again and stores it with the task).
import { chmodSync, chownSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AGENT_LIMITS, type RunningReport } from '../protocol/agent.js';

export const RESULT_FILE = 'result.json';

/**
 * Make the empty result file and return its path for FASTGPU_RESULT. A task run as another
 * user (`runAs`) owns it, alone (0600): it writes it, and no other task reads or writes it.
 */
export function prepareResultFile(dir: string, owner?: { uid: number; gid: number }): string {
  const path = join(dir, RESULT_FILE);
  giveFile(path, owner);
  return path;
}

/** Makes an empty file the task may write: its own (0600) when it runs as `owner`, else 0644. */
export function giveFile(path: string, owner?: { uid: number; gid: number }): void {
  writeFileSync(path, '', { mode: owner ? 0o600 : 0o644 });
  if (owner) {
    chownSync(path, owner.uid, owner.gid);
    chmodSync(path, 0o600);
  }
}

/** What the exit report says of the result: the JSON text, why it was not taken, or nothing. */
export function readResult(dir: string): Pick<RunningReport, 'result' | 'resultError'> {
  const path = join(dir, RESULT_FILE);
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    return {};
  }
  if (size === 0) return {};
  if (size > AGENT_LIMITS.result) return { resultError: `${size} bytes, more than the ${AGENT_LIMITS.result} allowed; write a summary and keep large outputs in files` };
  const text = readFileSync(path, 'utf8');
  if (text.trim() === '') return {};
  try {
    JSON.parse(text);
  } catch (e) {
    return { resultError: `not JSON (${e instanceof Error ? e.message : String(e)})` };
  }
  return { result: text };
}
