// `fastgpu logs` output: chunks to stdout/stderr, optionally with each line's time, and the
// last N lines of a history (`--tail`).
import type { LogChunkView } from '../sdk/types.js';
import type { CliContext } from './context.js';

/** A chunk as the server sends it: `at` is when the agent recorded it (ISO 8601). */
export type Chunk = Pick<LogChunkView, 'stream' | 'data'> & { at?: string };

export interface LogWriter {
  write(c: Chunk): void;
  /** Ends an unfinished timestamped line, so that what follows starts on its own. */
  flush(): void;
}

/**
 * Writes chunks to the stream they came from; with `timestamps`, each line starts with the
 * time its chunk was recorded. A line split across chunks gets one time, its first.
 */
export function logWriter(ctx: Pick<CliContext, 'stdout' | 'stderr'>, timestamps: boolean): LogWriter {
  const midLine = { stdout: false, stderr: false };
  return {
    write(c) {
      const out = c.stream === 'stderr' ? ctx.stderr : ctx.stdout;
      if (!timestamps) return void out.write(c.data);
      const stamp = `${c.at ?? '-'} `;
      let text = '';
      for (const piece of c.data.split(/(?<=\n)/)) {
        if (piece === '') continue;
        text += midLine[c.stream] ? piece : stamp + piece;
        midLine[c.stream] = !piece.endsWith('\n');
      }
      out.write(text);
    },
    flush() {
      if (!timestamps) return;
      for (const s of ['stdout', 'stderr'] as const) {
        if (midLine[s]) (s === 'stderr' ? ctx.stderr : ctx.stdout).write('\n');
        midLine[s] = false;
      }
    },
  };
}

/** Keeps the last `n` lines of the chunks added, each with its stream and time. */
export class LastLines {
  private lines: Chunk[] = [];

  constructor(private readonly n: number) {}

  add(c: Chunk): void {
    for (const piece of c.data.split(/(?<=\n)/)) {
      if (piece === '') continue;
      const prev = this.lines[this.lines.length - 1];
      // The rest of a line the previous chunk of the same stream began.
      if (prev && prev.stream === c.stream && !prev.data.endsWith('\n')) prev.data += piece;
      else this.lines.push({ stream: c.stream, data: piece, ...(c.at !== undefined ? { at: c.at } : {}) });
    }
    // Trim now and then, not per line: the history may be long.
    if (this.lines.length > 2 * this.n + 1000) this.lines = this.lines.slice(-this.n);
  }

  chunks(): Chunk[] {
    return this.n === 0 ? [] : this.lines.slice(-this.n);
  }
}
