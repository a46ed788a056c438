// $FASTGPU_RESULT (issue 14): a file in the attempt's directory where the task may write its
// result as JSON. The agent makes it empty before the launch and reads it once the task has
// exited; the report carries the text (the server parses it again and stores it with the task).
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AGENT_LIMITS, type RunningReport } from '../protocol/agent.js';

export const RESULT_FILE = 'result.json';

/**
 * Make the empty result file and return its path for FASTGPU_RESULT. A task run as another
 * user (`runAs`) must be able to write it, so it is then world-writable (in a 0700 state dir).
 */
export function prepareResultFile(dir: string, otherUser: boolean): string {
  const path = join(dir, RESULT_FILE);
  writeFileSync(path, '', { mode: otherUser ? 0o666 : 0o644 });
  if (otherUser) chmodSync(path, 0o666);
  return path;
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
