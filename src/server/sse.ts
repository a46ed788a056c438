// Server-sent events over a hijacked reply. Streams are registered with a hub so that server
// shutdown ends them; a comment line every `keepAliveMs` keeps proxies from closing idle ones.
import type { FastifyReply, FastifyRequest } from 'fastify';

/** Unsent bytes a stream may hold before its client counts as stuck. */
export const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

export class SseHub {
  private streams = new Set<SseStream>();
  closed = false;

  open(req: FastifyRequest, reply: FastifyReply, keepAliveMs = 15_000): SseStream {
    const s = new SseStream(req, reply, keepAliveMs, () => this.streams.delete(s));
    this.streams.add(s);
    if (this.closed) s.end();
    return s;
  }

  get size(): number {
    return this.streams.size;
  }

  closeAll(): void {
    this.closed = true;
    for (const s of [...this.streams]) s.end();
  }
}

export class SseStream {
  private readonly abort = new AbortController();
  private timer: NodeJS.Timeout | null;
  private done = false;

  constructor(
    _req: FastifyRequest,
    private readonly reply: FastifyReply,
    keepAliveMs: number,
    private readonly onEnd: () => void,
  ) {
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    raw.write(': connected\n\n');
    this.timer = setInterval(() => this.write(': keep-alive\n\n'), keepAliveMs);
    this.timer.unref();
    raw.on('close', () => this.end());
    raw.on('error', () => this.end());
  }

  /** Aborts when the client goes away or the stream ends. */
  get signal(): AbortSignal {
    return this.abort.signal;
  }

  get ended(): boolean {
    return this.done;
  }

  send(event: string, data: unknown, id?: number | string): void {
    let out = '';
    if (id !== undefined) out += `id: ${id}\n`;
    out += `event: ${event}\n`;
    // JSON has no raw newlines, so one data line suffices.
    out += `data: ${JSON.stringify(data)}\n\n`;
    this.write(out);
  }

  private write(s: string): void {
    if (this.done) return;
    try {
      this.reply.raw.write(s);
    } catch {
      this.end();
      return;
    }
    // A client that does not read must not grow the server's memory: drop it; it resumes with
    // Last-Event-ID (events) or ?after (logs) when it reconnects.
    if (this.reply.raw.writableLength > MAX_BUFFERED_BYTES) this.end();
  }

  end(): void {
    if (this.done) return;
    this.done = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.abort.abort();
    try {
      this.reply.raw.end();
    } catch {
      // already gone
    }
    this.onEnd();
  }
}
