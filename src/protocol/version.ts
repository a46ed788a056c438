// Agent protocol versions (issue 11). An agent names the version it speaks when it joins and
// registers; the server accepts a range and refuses anything outside it with a message that names
// the range, so an operator knows at once which side to upgrade. An agent that names none is
// from before versions existed: version 1, which is the wire format of version 2 without joining.
import { FastGpuError } from '../core/errors.js';

/** The version this build speaks. */
export const AGENT_PROTOCOL_VERSION = 2;
/** The versions this build's server accepts. */
export const ACCEPTED_PROTOCOL = { min: 1, max: 2 } as const;

/** Throws INVALID_ARGUMENT naming the accepted range when `v` (absent = 1) is outside it. */
export function checkProtocolVersion(v: number | undefined, agentVersion?: string): void {
  const version = v ?? 1;
  if (version >= ACCEPTED_PROTOCOL.min && version <= ACCEPTED_PROTOCOL.max) return;
  const who = agentVersion ? `agent ${agentVersion}` : 'this agent';
  const fix = version < ACCEPTED_PROTOCOL.min ? 'upgrade the agent' : 'upgrade the server, or run an older agent';
  throw new FastGpuError(
    'INVALID_ARGUMENT',
    `protocolVersion: ${who} speaks agent protocol ${version}; this server accepts versions ${ACCEPTED_PROTOCOL.min} to ${ACCEPTED_PROTOCOL.max}: ${fix}`,
    'protocolVersion',
  );
}
