// A task's log as lines: chunks of stdout and stderr (possibly ending mid-line) joined into
// lines per (attempt, stream), with a marker line where a new attempt begins. Mutable and
// append-only, so 100k lines cost one array; views re-render on `version`.
import type { LogChunkView } from '../types.js';

export const STDOUT = 0;
export const STDERR = 1;
export const MARKER = 2;

export class LogBuffer {
  readonly lines: string[] = [];
  readonly kinds: number[] = [];
  /** Bumped on every change. */
  version = 0;
  /** Highest chunk position taken (chunks at or below it are duplicates). */
  lastPos = 0;
  private open = new Map<string, number>();
  private attempt = 0;

  append(c: LogChunkView): void {
    if (c.pos <= this.lastPos) return;
    this.lastPos = c.pos;
    if (c.attempt !== this.attempt) {
      if (this.attempt !== 0 || c.attempt > 1) {
        this.lines.push(`── attempt ${c.attempt} ──`);
        this.kinds.push(MARKER);
      }
      this.attempt = c.attempt;
      this.open.clear();
    }
    const key = `${c.attempt}:${c.stream}`;
    const kind = c.stream === 'stderr' ? STDERR : STDOUT;
    const parts = c.data.split('\n');
    const openAt = this.open.get(key);
    let i = 0;
    if (openAt !== undefined) {
      this.lines[openAt] += parts[0]!;
      i = 1;
    }
    for (; i < parts.length; i++) {
      if (i === parts.length - 1 && parts[i] === '') break;
      this.lines.push(parts[i]!.replace(/\r$/, ''));
      this.kinds.push(kind);
    }
    const last = parts[parts.length - 1];
    if (last === '' || last === undefined) this.open.delete(key);
    else this.open.set(key, this.lines.length - 1);
    this.version++;
  }

  text(): string {
    return this.lines.join('\n') + (this.lines.length ? '\n' : '');
  }

  /** Indices of lines containing `q` (case-insensitive). */
  search(q: string): number[] {
    if (q === '') return [];
    const needle = q.toLowerCase();
    const out: number[] = [];
    const lines = this.lines;
    for (let i = 0; i < lines.length; i++) if (lines[i]!.toLowerCase().includes(needle)) out.push(i);
    return out;
  }
}
