// Checks on what agents report that need the server's clock (the protocol's schemas check the
// rest): a time an agent sends is stored and shown to everybody, so one far in the past or the
// future (`endedAt: 1e300`) is refused with a 400 before anything is stored.
import { invalid } from '../core/errors.js';

/** How far an agent's times may lie from the server's clock. */
export const AGENT_TIME_WINDOW = {
  /** A task may have started up to this long ago (a year-long run, a node long offline). */
  pastMs: 400 * 86_400_000,
  /** Clocks of different machines disagree a little; a day is not a little. */
  futureMs: 86_400_000,
} as const;

/** Throws a 400 naming the field when a time lies outside the window around `now`. */
export function checkAgentTime(at: number, now: number, field: string): void {
  if (!Number.isFinite(at) || at < now - AGENT_TIME_WINDOW.pastMs || at > now + AGENT_TIME_WINDOW.futureMs) {
    throw invalid(field, `${String(at)} is not a time within ${AGENT_TIME_WINDOW.pastMs / 86_400_000} days before and ${AGENT_TIME_WINDOW.futureMs / 3_600_000} hours after the server's clock (${now}); check the agent host's clock`);
  }
}

/** Every startedAt/endedAt of a batch of reports. */
export function checkAgentTimes(reports: readonly { startedAt?: number | undefined; endedAt?: number | undefined }[], now: number): void {
  reports.forEach((r, i) => {
    if (r.startedAt !== undefined) checkAgentTime(r.startedAt, now, `tasks[${i}].startedAt`);
    if (r.endedAt !== undefined) checkAgentTime(r.endedAt, now, `tasks[${i}].endedAt`);
  });
}
