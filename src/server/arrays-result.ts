// A task's result (issue 14): the JSON it wrote to $FASTGPU_RESULT, which its agent reads at exit
// and reports as text (agent/result.ts). The server parses it again (the agent is not trusted to
// have) and keeps it with the task; a result it cannot take is named in the task's message.
import { AGENT_LIMITS, type RunningReport } from '../protocol/agent.js';

/** The result to store, or why there is none (`note`, for the task's message). */
export function resultOfReport(r: Pick<RunningReport, 'result' | 'resultError'>): { result?: unknown; note?: string } {
  if (r.resultError !== undefined) return { note: `$FASTGPU_RESULT not kept: ${r.resultError}` };
  if (r.result === undefined) return {};
  if (Buffer.byteLength(r.result) > AGENT_LIMITS.result) return { note: `$FASTGPU_RESULT not kept: larger than ${AGENT_LIMITS.result} bytes` };
  try {
    return { result: JSON.parse(r.result) as unknown };
  } catch (e) {
    return { note: `$FASTGPU_RESULT not kept: not JSON (${e instanceof Error ? e.message : String(e)})` };
  }
}
