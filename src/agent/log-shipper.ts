// Tails each attempt's stdout.log/stderr.log and ships them as chunks with a gap-free `seq` per
// (task, attempt, stream). Crash-safe and duplicate-free: every chunk's byte range is appended to
// `<attempt dir>/<stream>.shipped` ("seq start end at") BEFORE it is sent, and the highest seq the
// server took is kept in `<stream>.acked`. A restarted agent re-sends exactly the journalled
// chunks the server may not have (same seq, same bytes, same `at`), so the server's seq-based
// duplicate check sees the same chunk, never a different cut of the same bytes.
import { appendFile, open, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock, LogStream } from '../core/types.js';
import type { LogsRequest } from '../protocol/agent.js';
import { systemClock } from '../util/clock.js';
import { readText } from './attempt-dir.js';

export type ShippedChunk = LogsRequest['chunks'][number];

export interface LogShipperOptions {
  /** Sends one batch; resolves once the server has stored it, rejects otherwise. */
  send: (chunks: ShippedChunk[]) => Promise<void>;
  clock?: Clock;
  /** Largest chunk, in bytes. */
  maxChunkBytes?: number;
  /** A line without its newline yet (a progress bar) is shipped after waiting this long. */
  partialFlushMs?: number;
  /** Largest batch, in bytes of JSON-escaped data (the server limits bodies). */
  maxBatchBytes?: number;
  /** Unacknowledged chunks per stream before tailing pauses (the file keeps the rest). */
  maxBacklog?: number;
  /**
   * A send error that would repeat forever (the server refuses the batch): those chunks are
   * dropped (counted as shipped) rather than wedging the stream. Default: none is.
   */
  isPermanent?: (e: unknown) => boolean;
  onDrop?: (chunks: number, e: unknown) => void;
}

const STREAMS: readonly LogStream[] = ['stdout', 'stderr'];

interface Entry {
  seq: number;
  start: number;
  end: number;
  at: number;
  /** Cached text; re-read from the file after a restart. */
  data?: string;
}

interface StreamState {
  stream: LogStream;
  logPath: string;
  journalPath: string;
  ackPath: string;
  nextSeq: number;
  /** End of the last journalled chunk: where tailing resumes. */
  offset: number;
  acked: number;
  unacked: Entry[];
  /** When trailing bytes without a newline were first seen. */
  partialSince: number | undefined;
}

interface Tracked {
  taskId: string;
  attempt: number;
  dir: string;
  streams: StreamState[];
  /** The process is over: ship partial lines too, to the end of the files. */
  final: boolean;
}

const key = (taskId: string, attempt: number): string => `${taskId}/${attempt}`;

/**
 * The largest `e ≤ end` such that `buf[0, e)` does not end inside a UTF-8 character (or `end`
 * itself when the bytes are not UTF-8 at all, so progress is always made).
 */
export function utf8Boundary(buf: Buffer, end: number): number {
  let i = end - 1;
  let cont = 0;
  while (i >= 0 && cont < 3 && (buf[i]! & 0xc0) === 0x80) {
    i--;
    cont++;
  }
  if (i < 0) return end;
  const lead = buf[i]!;
  const need = lead >= 0xf0 ? 3 : lead >= 0xe0 ? 2 : lead >= 0xc0 ? 1 : 0;
  return need > cont && i > 0 ? i : end;
}


async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw e;
  }
}

async function readRange(path: string, start: number, end: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(end - start);
    let got = 0;
    while (got < buf.length) {
      const { bytesRead } = await fh.read(buf, got, buf.length - got, start + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return got === buf.length ? buf : buf.subarray(0, got);
  } finally {
    await fh.close();
  }
}

/** Loads a stream's journal, dropping a last line cut short by a crash. */
async function loadStream(dir: string, stream: LogStream): Promise<StreamState> {
  const s: StreamState = {
    stream,
    logPath: join(dir, `${stream}.log`),
    journalPath: join(dir, `${stream}.shipped`),
    ackPath: join(dir, `${stream}.acked`),
    nextSeq: 0,
    offset: 0,
    acked: -1,
    unacked: [],
    partialSince: undefined,
  };
  const ackText = await readText(s.ackPath);
  const acked = Number(ackText?.trim());
  if (ackText !== undefined && Number.isInteger(acked)) s.acked = acked;
  const journal = await readText(s.journalPath);
  if (journal === undefined) return s;
  let goodBytes = 0;
  for (const line of journal.split('\n').slice(0, -1)) {
    const [seq, start, end, at] = line.split(' ').map(Number);
    if (seq !== s.nextSeq || start !== s.offset || !(end! > start!) || !Number.isFinite(at)) break;
    if (seq > s.acked) s.unacked.push({ seq, start, end: end!, at: at! });
    s.nextSeq = seq + 1;
    s.offset = end!;
    goodBytes += Buffer.byteLength(line) + 1;
  }
  // The journal only ever grows by whole lines; anything after the last good one is a torn write.
  if (goodBytes !== Buffer.byteLength(journal)) await truncate(s.journalPath, goodBytes);
  if (s.acked >= s.nextSeq) s.acked = s.nextSeq - 1;
  return s;
}

export class LogShipper {
  private readonly tracked = new Map<string, Tracked>();
  private readonly clock: Clock;
  private readonly maxChunk: number;
  private readonly partialFlushMs: number;
  private readonly maxBatch: number;
  private readonly maxBacklog: number;
  /** One pump at a time: two would journal the same seq twice. */
  private running: Promise<void> = Promise.resolve();
  /** The pump queued behind the running one, not started yet: later callers share it. */
  private queued: Promise<void> | undefined;

  constructor(private readonly opts: LogShipperOptions) {
    this.clock = opts.clock ?? systemClock;
    this.maxChunk = opts.maxChunkBytes ?? 64 * 1024;
    this.partialFlushMs = opts.partialFlushMs ?? 200;
    this.maxBatch = opts.maxBatchBytes ?? 512 * 1024;
    this.maxBacklog = opts.maxBacklog ?? 16;
  }

  /** Starts (or resumes, from its journal) tailing an attempt's logs. */
  async track(taskId: string, attempt: number, dir: string): Promise<void> {
    if (this.tracked.has(key(taskId, attempt))) return;
    const streams = await Promise.all(STREAMS.map((s) => loadStream(dir, s)));
    if (this.tracked.has(key(taskId, attempt))) return;
    this.tracked.set(key(taskId, attempt), { taskId, attempt, dir, streams, final: false });
  }

  isTracked(taskId: string, attempt: number): boolean {
    return this.tracked.has(key(taskId, attempt));
  }

  untrack(taskId: string, attempt: number): void {
    this.tracked.delete(key(taskId, attempt));
  }

  /** Marks an attempt's process as over: its last partial line ships without waiting. */
  markFinal(taskId: string, attempt: number): void {
    const t = this.tracked.get(key(taskId, attempt));
    if (t) t.final = true;
  }

  /**
   * True once everything an exited attempt wrote has been acknowledged. Only meaningful after
   * `markFinal` and a successful `pump`.
   */
  async drained(taskId: string, attempt: number): Promise<boolean> {
    const t = this.tracked.get(key(taskId, attempt));
    if (!t) return true;
    if (!t.final) return false;
    for (const s of t.streams) {
      if (s.unacked.length > 0) return false;
      if ((await fileSize(s.logPath)) > s.offset) return false;
    }
    return true;
  }

  /**
   * Reads new output of every tracked attempt, journals new chunks and sends all that is not
   * acknowledged. Rejects when sending fails; nothing is lost, the next pump sends it again.
   * Calls made while a pump waits to start share it: it reads the files only once it starts,
   * so it covers everything written before any of them called. Many attempts ending at once
   * (each draining its logs) then cost one pump, not one each.
   */
  /** Bytes of an attempt's output the server has acknowledged (grows while shipping progresses). */
  ackedBytes(taskId: string, attempt: number): number {
    const t = this.tracked.get(key(taskId, attempt));
    if (!t) return 0;
    let n = 0;
    for (const s of t.streams) n += s.offset - s.unacked.reduce((a, e) => a + (e.end - e.start), 0);
    return n;
  }

  pump(): Promise<void> {
    if (this.queued) return this.queued;
    const run = this.running.then(() => {
      this.queued = undefined;
      return this.pumpOnce();
    });
    this.queued = run;
    // The chain continues whatever happened to this pump.
    this.running = run.catch(() => {});
    return run;
  }

  private async pumpOnce(): Promise<void> {
    for (const t of [...this.tracked.values()]) {
      for (const s of t.streams) await this.cut(t, s);
    }
    await this.sendUnacked();
  }

  /** Cuts the stream's new bytes into journalled chunks. */
  private async cut(t: Tracked, s: StreamState): Promise<void> {
    if (s.unacked.length >= this.maxBacklog) return;
    const size = await fileSize(s.logPath);
    if (size <= s.offset) {
      s.partialSince = undefined;
      return;
    }
    const room = (this.maxBacklog - s.unacked.length) * this.maxChunk;
    const buf = await readRange(s.logPath, s.offset, Math.min(size, s.offset + room));
    const now = this.clock.now();
    const fresh: Entry[] = [];
    let pos = 0;
    while (pos < buf.length && s.unacked.length + fresh.length < this.maxBacklog) {
      const rest = buf.length - pos;
      let end: number;
      if (rest > this.maxChunk) {
        // A full chunk: end at its last newline, else at a character boundary.
        const window = buf.subarray(pos, pos + this.maxChunk);
        const nl = window.lastIndexOf(0x0a);
        end = nl >= 0 ? pos + nl + 1 : pos + utf8Boundary(buf.subarray(pos), this.maxChunk);
      } else {
        const nl = buf.subarray(pos).lastIndexOf(0x0a);
        if (nl >= 0 && pos + nl + 1 < buf.length) end = pos + nl + 1;
        else if (nl >= 0) end = buf.length;
        else {
          // Only a partial line is left: wait a little for its newline, unless the task is over.
          s.partialSince ??= now;
          if (!t.final && now - s.partialSince < this.partialFlushMs) break;
          end = t.final ? buf.length : pos + utf8Boundary(buf.subarray(pos), rest);
        }
      }
      const bytes = buf.subarray(pos, end);
      fresh.push({ seq: s.nextSeq + fresh.length, start: s.offset + pos, end: s.offset + end, at: now, data: bytes.toString('utf8') });
      pos = end;
    }
    if (fresh.length === 0) return;
    // A partial line that is still waiting stays measured from when it was first seen.
    const tail = buf.subarray(pos);
    if (tail.length === 0 || tail.includes(0x0a)) s.partialSince = undefined;
    // Journal before sending: from here on these exact boundaries are the chunks' identity.
    await appendFile(s.journalPath, fresh.map((e) => `${e.seq} ${e.start} ${e.end} ${e.at}\n`).join(''));
    s.unacked.push(...fresh);
    s.nextSeq += fresh.length;
    s.offset = fresh[fresh.length - 1]!.end;
  }

  private async sendUnacked(): Promise<void> {
    const pending: { t: Tracked; s: StreamState; e: Entry }[] = [];
    for (const t of this.tracked.values()) for (const s of t.streams) for (const e of s.unacked) pending.push({ t, s, e });
    let i = 0;
    while (i < pending.length) {
      const batch: typeof pending = [];
      let bytes = 0;
      while (i < pending.length && batch.length < 1000) {
        const p = pending[i]!;
        p.e.data ??= (await readRange(p.s.logPath, p.e.start, p.e.end)).toString('utf8');
        const size = JSON.stringify(p.e.data).length + 100;
        if (batch.length > 0 && bytes + size > this.maxBatch) break;
        batch.push(p);
        bytes += size;
        i++;
      }
      try {
        await this.opts.send(
          batch.map(({ t, s, e }) => ({ taskId: t.taskId, attempt: t.attempt, stream: s.stream, seq: e.seq, at: e.at, data: e.data! })),
        );
      } catch (err) {
        if (!this.opts.isPermanent?.(err)) throw err;
        this.opts.onDrop?.(batch.length, err);
      }
      const touched = new Set<StreamState>();
      for (const { s, e } of batch) {
        s.acked = Math.max(s.acked, e.seq);
        touched.add(s);
      }
      for (const s of touched) {
        s.unacked = s.unacked.filter((e) => e.seq > s.acked);
        await writeFile(s.ackPath, String(s.acked));
      }
    }
  }
}
