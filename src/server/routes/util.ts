import type { FastifyReply } from 'fastify';

/** An AbortSignal that fires when the client goes away (or the response ends). */
export function clientGone(reply: FastifyReply): AbortSignal {
  const ac = new AbortController();
  const res = reply.raw;
  if (res.destroyed) ac.abort();
  else res.once('close', () => ac.abort());
  return ac.signal;
}

export function wantsSse(accept: string | undefined, follow: boolean | undefined): boolean {
  return follow === true || (accept ?? '').includes('text/event-stream');
}
