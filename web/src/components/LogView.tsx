// A virtualised log: only the rows in view (plus a margin) are in the DOM, so 100k lines scroll
// as smoothly as 100. Follows the end while scrolled to the bottom; search highlights every
// match and steps through them with Enter / Shift+Enter.
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { MARKER, STDERR, type LogBuffer } from './logbuffer.js';

const ROW = 18;
const OVERSCAN = 30;

function Highlighted({ text, needle, current }: { text: string; needle: string; current: boolean }) {
  if (needle === '') return <>{text}</>;
  const lower = text.toLowerCase();
  const out = [];
  let at = 0;
  for (;;) {
    const i = lower.indexOf(needle, at);
    if (i < 0) break;
    if (i > at) out.push(text.slice(at, i));
    out.push(
      <mark key={i} class={current ? 'current' : undefined}>
        {text.slice(i, i + needle.length)}
      </mark>,
    );
    at = i + needle.length;
  }
  out.push(text.slice(at));
  return <>{out}</>;
}

export interface LogViewProps {
  buffer: LogBuffer;
  version: number;
  /** File name for the download. */
  fileName: string;
  status: string;
}

export function LogView({ buffer, version, fileName, status }: LogViewProps) {
  const box = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(480);
  const [follow, setFollow] = useState(true);
  const [query, setQuery] = useState('');
  const [needle, setNeedle] = useState('');
  const [current, setCurrent] = useState(0);
  const n = buffer.lines.length;

  // Debounce the search a little: a keystroke on 100k lines should not block typing.
  useEffect(() => {
    const t = setTimeout(() => setNeedle(query.toLowerCase()), query.length > 0 ? 120 : 0);
    return () => clearTimeout(t);
  }, [query]);
  const hits = useMemo(() => buffer.search(needle), [needle, needle === '' ? 0 : version]);
  const hitLine = hits.length > 0 ? hits[Math.min(current, hits.length - 1)] : undefined;

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setHeight(el.clientHeight));
    ro.observe(el);
    setHeight(el.clientHeight);
    return () => ro.disconnect();
  }, []);

  // Stick to the end while following.
  useLayoutEffect(() => {
    const el = box.current;
    if (el && follow) el.scrollTop = el.scrollHeight;
  }, [version, follow, n]);

  const goTo = (line: number): void => {
    const el = box.current;
    if (!el) return;
    setFollow(false);
    el.scrollTop = Math.max(0, line * ROW - el.clientHeight / 2);
    setScrollTop(el.scrollTop);
  };

  const step = (d: number): void => {
    if (hits.length === 0) return;
    const next = (Math.min(current, hits.length - 1) + d + hits.length) % hits.length;
    setCurrent(next);
    goTo(hits[next]!);
  };

  // A new search jumps to its first match.
  useEffect(() => {
    setCurrent(0);
    if (hits.length > 0) goTo(hits[0]!);
  }, [needle]);

  const onScroll = (): void => {
    const el = box.current;
    if (!el) return;
    setScrollTop(el.scrollTop);
    const atEnd = el.scrollTop + el.clientHeight >= el.scrollHeight - ROW;
    if (follow !== atEnd) setFollow(atEnd);
  };

  const download = (): void => {
    const url = URL.createObjectURL(new Blob([buffer.text()], { type: 'text/plain;charset=utf-8' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = fileName;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  };

  const first = Math.max(0, Math.floor(scrollTop / ROW) - OVERSCAN);
  const last = Math.min(n, Math.ceil((scrollTop + height) / ROW) + OVERSCAN);
  const rows = [];
  const gutter = String(n).length;
  for (let i = first; i < last; i++) {
    const kind = buffer.kinds[i];
    rows.push(
      <div key={i} class={`ln${kind === STDERR ? ' err' : kind === MARKER ? ' marker' : ''}${i === hitLine ? ' hit' : ''}`} style={{ top: `${i * ROW}px` }} data-line={i + 1}>
        <span class="no" aria-hidden="true">
          {String(i + 1).padStart(gutter, ' ')}
        </span>
        <Highlighted text={buffer.lines[i]!} needle={needle} current={i === hitLine} />
      </div>,
    );
  }

  return (
    <div class="logs">
      <div class="log-tools" role="toolbar" aria-label="Log tools">
        <label class="search">
          <span class="sr-only">Search the log</span>
          <input
            type="search"
            placeholder="Search the log"
            value={query}
            onInput={(e) => setQuery((e.currentTarget as HTMLInputElement).value)}
            onKeyDown={(e) => {
              if (e.key === 'Enter') {
                e.preventDefault();
                step(e.shiftKey ? -1 : 1);
              }
            }}
          />
        </label>
        <span class="muted" aria-live="polite" data-testid="log-hits">
          {needle ? (hits.length ? `${Math.min(current, hits.length - 1) + 1} of ${hits.length}` : 'no match') : `${n.toLocaleString()} lines`}
        </span>
        <button type="button" onClick={() => step(-1)} disabled={hits.length === 0} aria-label="Previous match">
          ↑
        </button>
        <button type="button" onClick={() => step(1)} disabled={hits.length === 0} aria-label="Next match">
          ↓
        </button>
        <button type="button" aria-pressed={follow} onClick={() => setFollow(!follow)}>
          {follow ? 'Following' : 'Follow'}
        </button>
        <button type="button" onClick={download} disabled={n === 0}>
          Download
        </button>
        <span class="muted small">{status}</span>
      </div>
      <div class="log-box" ref={box} onScroll={onScroll} tabIndex={0} role="log" aria-label="Task log" aria-live="off">
        <div class="log-inner" style={{ height: `${n * ROW}px` }}>
          {rows}
        </div>
        {n === 0 && <p class="muted log-empty">No output yet.</p>}
      </div>
    </div>
  );
}
