// Server-sent events over a hijacked reply. Streams are registered with a hub so that server
// shutdown ends them, so that each token holds a bounded number of them, and so that revoking a
// token ends its open streams at once; a comment line every `keepAliveMs` keeps proxies from
// closing idle ones.
//
// Memory: a stream never holds more than MAX_BUFFERED_BYTES of unsent output (past that its
// client counts as stuck and the stream ends; it resumes with Last-Event-ID or ?after). Writers
// that can wait (log follows) also wait for `drained()` once FOLLOW_HIGH_WATER is queued, so a
// slow reader stops them reading the store at all. Bound: streams per token × MAX_BUFFERED_BYTES
// for events, and FOLLOW_HIGH_WATER + one store page per log follower.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { FastGpuError } from '../core/errors.js';
import { systemClock, type Timer } from '../util/clock.js';

/** Unsent bytes a stream may hold before its client counts as stuck (and the stream ends). */
export const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
/** Queued bytes above which a log follower stops reading the store until the socket drains. */
export const FOLLOW_HIGH_WATER = 256 * 1024;
/** Default cap on the streams (events and log follows) one token may hold open at once. */
export const DEFAULT_MAX_STREAMS_PER_TOKEN = 16;

export interface SseHubOptions {
  maxStreamsPerToken?: number;
}

export class SseHub {
  private streams = new Set<SseStream>();
  private byToken = new Map<string, Set<SseStream>>();
  private readonly maxPerToken: number;
  closed = false;

  constructor(opts: SseHubOptions = {}) {
    this.maxPerToken = opts.maxStreamsPerToken ?? DEFAULT_MAX_STREAMS_PER_TOKEN;
  }

  /**
   * Opens a stream for `tokenId` (the caller's principal; '' for none). Throws RESOURCE_EXHAUSTED
   * (429), before anything is written, when that token already holds its maximum.
   */
  open(req: FastifyRequest, reply: FastifyReply, tokenId = '', keepAliveMs = 15_000): SseStream {
    const mine = this.byToken.get(tokenId) ?? new Set<SseStream>();
    if (tokenId !== '' && mine.size >= this.maxPerToken) {
      throw new FastGpuError('RESOURCE_EXHAUSTED', `this token already holds ${mine.size} open streams (events and log follows), the most one token may hold; close one first (or use another token)`);
    }
    const s = new SseStream(req, reply, keepAliveMs, () => {
      this.streams.delete(s);
      mine.delete(s);
      if (mine.size === 0) this.byToken.delete(tokenId);
    });
    this.streams.add(s);
    mine.add(s);
    this.byToken.set(tokenId, mine);
    if (this.closed) s.end();
    return s;
  }

  get size(): number {
    return this.streams.size;
  }

  /** Bytes queued on every open stream's socket and not yet handed to the kernel. */
  bufferedBytes(): number {
    let n = 0;
    for (const s of this.streams) n += s.buffered;
    return n;
  }

  /** Open streams of one token. */
  countFor(tokenId: string): number {
    return this.byToken.get(tokenId)?.size ?? 0;
  }

  /** The tokens that hold streams now (to re-check them against revocation). */
  tokens(): string[] {
    return [...this.byToken.keys()].filter((t) => t !== '');
  }

  /** Ends every stream of a token (it was revoked). */
  endToken(tokenId: string): void {
    for (const s of [...(this.byToken.get(tokenId) ?? [])]) s.end();
  }

  /**
   * Every `everyMs`, ends the streams of tokens `isRevoked` says are revoked (revocations made
   * through this server end them at once with `endToken`; this catches the rest: a tenant
   * deleted, another server sharing the store).
   */
  watchRevocations(isRevoked: (tokenId: string) => Promise<boolean>, everyMs: number): void {
    this.watch?.clear();
    let busy = false;
    this.watch = systemClock.interval(() => {
      if (busy) return;
      busy = true;
      void (async () => {
        for (const t of this.tokens()) if (await isRevoked(t).catch(() => false)) this.endToken(t);
      })().finally(() => (busy = false));
    }, everyMs);
    this.watch.unref();
  }

  private watch: Timer | null = null;

  closeAll(): void {
    this.closed = true;
    this.watch?.clear();
    this.watch = null;
    for (const s of [...this.streams]) s.end();
  }
}

export class SseStream {
  private readonly abort = new AbortController();
  private timer: Timer | null;
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
    this.timer = systemClock.interval(() => this.write(': keep-alive\n\n'), keepAliveMs);
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

  /** Bytes written and not yet handed to the kernel. */
  get buffered(): number {
    return this.reply.raw.writableLength;
  }

  /** Resolves once the queued output is below `highWater` (at once if it is), or the stream ends. */
  async drained(highWater = FOLLOW_HIGH_WATER): Promise<void> {
    const raw = this.reply.raw;
    while (!this.done && raw.writableLength > highWater) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          raw.off('drain', done);
          this.abort.signal.removeEventListener('abort', done);
          resolve();
        };
        raw.once('drain', done);
        this.abort.signal.addEventListener('abort', done, { once: true });
      });
    }
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
    this.timer?.clear();
    this.timer = null;
    this.abort.abort();
    try {
      // Unsent output is dropped with the socket: ending politely would keep it queued for a
      // client that does not read.
      if (this.reply.raw.writableLength > MAX_BUFFERED_BYTES) this.reply.raw.destroy();
      else this.reply.raw.end();
    } catch {
      // already gone
    }
    this.onEnd();
  }
}
