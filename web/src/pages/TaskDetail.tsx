// Task detail: spec, placement, a timeline of what happened (the task's stored events, then
// live ones), every attempt, the full log (every page fetched, then followed live over SSE),
// and Cancel.
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, canAct, get, type LogChunkView, type PoolEvent, type TaskDetailView } from '../api.js';
import { LogBuffer } from '../components/logbuffer.js';
import { LogView } from '../components/LogView.js';
import { duration, gpus, mib, placedOn, reasonDetail, reasonWords, stagingProgress, stateClass, taskGpu, TERMINAL, time } from '../format.js';
import { useLive } from '../hooks.js';
import { onEvent } from '../live.js';
import { mergeEvents, timeline } from '../model/timeline.js';
import { markInteractive } from '../perf.js';

const PAGE = 10_000;

const cores = (milli: number): string => `${gpus(milli)} core${milli === 1000 ? '' : 's'}`;

/** Loads every log page, then follows over SSE; feeds `buffer` and calls `changed`. */
function useLogs(id: string): { buffer: LogBuffer; version: number; status: string } {
  const [buffer, setBuffer] = useState(() => new LogBuffer());
  const [version, setVersion] = useState(0);
  const [status, setStatus] = useState('loading…');
  useEffect(() => {
    const buf = new LogBuffer();
    setBuffer(buf);
    setVersion(0);
    const ctl = new AbortController();
    let es: EventSource | null = null;
    let frame = 0;
    const bump = (): void => {
      if (frame) return;
      frame = requestAnimationFrame(() => {
        frame = 0;
        setVersion(buf.version);
      });
    };
    void (async () => {
      try {
        let after = 0;
        for (;;) {
          const page = await get<{ chunks: LogChunkView[]; next: number }>(`/v1/tasks/${encodeURIComponent(id)}/logs?after=${after}&limit=${PAGE}`, ctl.signal);
          for (const c of page.chunks) buf.append(c);
          after = page.next;
          setVersion(buf.version);
          setStatus(`loading… ${buf.lines.length.toLocaleString()} lines`);
          if (page.chunks.length < PAGE) break;
        }
        if (ctl.signal.aborted) return;
        setStatus('live');
        es = new EventSource(`/v1/tasks/${encodeURIComponent(id)}/logs?follow=true&after=${after}`);
        es.addEventListener('log', (m) => {
          try {
            buf.append(JSON.parse((m as MessageEvent<string>).data) as LogChunkView);
            bump();
          } catch {
            // a malformed event: skip it
          }
        });
        es.addEventListener('end', () => {
          es?.close();
          setStatus('complete');
          setVersion(buf.version);
        });
        es.onerror = () => {
          if (es && es.readyState === EventSource.CONNECTING) setStatus('reconnecting…');
        };
        es.onopen = () => setStatus('live');
      } catch (e) {
        if (!ctl.signal.aborted) setStatus(`could not load logs: ${e instanceof Error ? e.message : String(e)}`);
      }
    })();
    return () => {
      ctl.abort();
      es?.close();
      if (frame) cancelAnimationFrame(frame);
    };
  }, [id]);
  return { buffer, version, status };
}

/**
 * The task's events: its stored history (every page), then the live ones as they come. Live
 * events are taken from before the history is asked for, so none falls between the two; the
 * overlap is dropped by seq.
 */
function useTaskEvents(id: string): { events: readonly PoolEvent[]; error: string | null } {
  const [events, setEvents] = useState<readonly PoolEvent[]>([]);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    setEvents([]);
    setError(null);
    const ctl = new AbortController();
    const off = onEvent((e) => {
      if (e.taskId === id) setEvents((l) => mergeEvents(l, [e]));
    });
    void (async () => {
      try {
        let after = 0;
        for (;;) {
          const page = await api.taskEvents(id, after, ctl.signal);
          if (ctl.signal.aborted) return;
          setEvents((l) => mergeEvents(l, page.events));
          if (page.next === undefined || page.next <= after) break;
          after = page.next;
        }
      } catch (e) {
        // The record still tells the main steps; say what is missing rather than hide it.
        if (!ctl.signal.aborted) setError(e instanceof Error ? e.message : String(e));
      }
    })();
    return () => {
      ctl.abort();
      off();
    };
  }, [id]);
  return { events, error };
}

export function TaskDetailPage({ id }: { id: string }) {
  const live = useLive((signal) => api.task(id, signal), [`task:${id}`], [id]);
  const history = useTaskEvents(id);
  const [cancelling, setCancelling] = useState(false);
  // Cancelling kills work: the first click asks, the second acts.
  const [confirming, setConfirming] = useState(false);
  const [actionError, setActionError] = useState<string | null>(null);
  const logs = useLogs(id);

  if (live.error && !live.data) {
    const gone = live.error instanceof ApiError && live.error.status === 404;
    return (
      <p role="alert" class="error">
        {gone ? `There is no task ${id}.` : `Could not load task ${id}: ${live.error.message}`} <a href="#/tasks">All tasks</a>
      </p>
    );
  }
  const t = live.data;
  if (!t) return <p aria-busy="true">Loading task…</p>;
  markInteractive();
  const finished = TERMINAL.includes(t.state);
  const spec = t.spec;
  const cancel = async (): Promise<void> => {
    setConfirming(false);
    setCancelling(true);
    setActionError(null);
    try {
      await api.cancel(t.id);
      live.reload();
    } catch (e) {
      setActionError(e instanceof Error ? e.message : String(e));
    } finally {
      setCancelling(false);
    }
  };
  const staging = stagingProgress(t);
  const runFor = t.startedAt ? (t.finishedAt ? Date.parse(t.finishedAt) : Date.now()) - Date.parse(t.startedAt) : null;

  return (
    <section aria-labelledby="task-h" class="task">
      <p class="crumbs">
        <a href="#/tasks">Tasks</a> / <span class="mono">{t.id}</span>
      </p>
      <header class="task-h">
        <h1 id="task-h">{t.name}</h1>
        <span class={`badge ${stateClass(t.state)}`} data-testid="task-state">
          {t.state}
        </span>
        {t.exitCode !== null && <span class="muted">exit code {t.exitCode}</span>}
        <span class="grow" />
        {canAct() && !confirming && (
          <button type="button" class="danger" onClick={() => setConfirming(true)} disabled={finished || cancelling}>
            {cancelling ? 'Cancelling…' : 'Cancel task'}
          </button>
        )}
        {canAct() && confirming && !finished && (
          <span role="group" aria-label="Confirm cancel" class="confirm" data-testid="cancel-confirm">
            <span>{t.state === 'RUNNING' ? 'Stop this running task? Its process is killed.' : 'Cancel this task? It will not run.'}</span>{' '}
            <button type="button" class="danger" onClick={() => void cancel()}>
              Yes, cancel it
            </button>{' '}
            <button type="button" onClick={() => setConfirming(false)}>
              Keep it
            </button>
          </span>
        )}
      </header>
      {actionError && <p role="alert" class="error">{actionError}</p>}
      {t.state === 'PENDING' && (
        <p class="note">
          {reasonWords(t.reason, t.reasonMessage)} {reasonDetail(t.reasonMessage)}
        </p>
      )}
      {staging && (
        <p class="note" data-testid="task-staging">
          {reasonWords('Staging')} {placedOn(t.placement)}:{' '}
          {staging.percent !== null && <progress max={100} value={staging.percent} aria-label="Staging progress" />} {reasonDetail(staging.text)}
        </p>
      )}
      {/* The log first: it is what people open a task for (above the fold at 1280×800). */}
      <div class="card" id="logs">
        <h2>Logs</h2>
        <LogView buffer={logs.buffer} version={logs.version} fileName={`${t.name}-${t.id}.log`} status={logs.status} />
      </div>
      <div class="cards">
        <div class="card">
          <h2>Spec</h2>
          <dl class="kv">
            <dt>Command</dt>
            <dd class="mono">{spec.command.join(' ')}</dd>
            <dt>GPU</dt>
            <dd>{taskGpu(spec)}</dd>
            <dt>CPU / RAM</dt>
            <dd>
              {cores(spec.resources.cpuMilli)} · {mib(spec.resources.memoryMiB)}
            </dd>
            <dt>Priority</dt>
            <dd>{spec.priority}</dd>
            <dt>Tenant</dt>
            <dd>{spec.tenant}</dd>
            <dt>Time limit</dt>
            <dd>{spec.timeLimitMs ? duration(spec.timeLimitMs) : 'none'}</dd>
            <dt>Retries</dt>
            <dd>
              {spec.retries}
              {spec.preemptible ? ' · preemptible' : ''}
            </dd>
            {spec.gang > 1 && (
              <>
                <dt>Gang</dt>
                <dd>
                  replica {t.gangIndex + 1} of {spec.gang}
                </dd>
              </>
            )}
            {spec.vgpuId && (
              <>
                <dt>vGPU</dt>
                <dd class="mono">{spec.vgpuId}</dd>
              </>
            )}
            {spec.workdir && (
              <>
                <dt>Workdir</dt>
                <dd class="mono">{spec.workdir}</dd>
              </>
            )}
            {Object.keys(spec.env).length > 0 && (
              <>
                <dt>Env</dt>
                <dd class="mono small">
                  {Object.entries(spec.env).map(([k, v]) => (
                    <div key={k}>
                      {k}={v}
                    </div>
                  ))}
                </dd>
              </>
            )}
          </dl>
        </div>
        <div class="card">
          <h2>Placement</h2>
          {t.placement ? (
            <dl class="kv" data-testid="placement">
              <dt>Node</dt>
              <dd>{t.placement.node}</dd>
              <dt>GPUs</dt>
              <dd>
                {t.placement.gpus.length ? t.placement.gpus.join(', ') : t.placement.vgpuId ? `its vGPU ${t.placement.vgpuId}` : 'none (CPU only)'} ({t.placement.sharing})
              </dd>
              <dt>Slice</dt>
              <dd>
                {gpus(t.placement.gpuMilli)} GPU · {mib(t.placement.memoryMiB)} per GPU
              </dd>
              <dt>CPU / RAM</dt>
              <dd>
                {cores(t.placement.cpuMilli)} · {mib(t.placement.hostMemoryMiB)}
              </dd>
            </dl>
          ) : (
            <p class="muted">Not placed{finished ? '' : ' yet'}.</p>
          )}
          <h2>Timeline</h2>
          <ol class="timeline" data-testid="timeline">
            {timeline(t, history.events).map((x, i) => (
              <li key={i} data-event={x.event}>
                <time dateTime={x.at}>{time(x.at)}</time> {x.what}
              </li>
            ))}
          </ol>
          {history.error && <p class="muted">Could not load the task’s full history: {history.error}</p>}
          {runFor !== null && <p class="muted">Ran for {duration(runFor)}.</p>}
        </div>
      </div>
      {t.attempts.length > 0 && (
        <div class="card">
          <h2>Attempts</h2>
          <div class="table-wrap">
            <table class="list cards-sm">
              <thead>
                <tr>
                  <th scope="col">#</th>
                  <th scope="col">Node</th>
                  <th scope="col">GPUs</th>
                  <th scope="col">Placed</th>
                  <th scope="col">Started</th>
                  <th scope="col">Ended</th>
                  <th scope="col">Outcome</th>
                </tr>
              </thead>
              <tbody>
                {t.attempts.map((a) => (
                  <tr key={a.attempt}>
                    <td class="num" data-label="#">{a.attempt}</td>
                    <td data-label="Node">{a.node}</td>
                    <td data-label="GPUs">{a.placement.gpus.length ? `GPU ${a.placement.gpus.join(', ')} · ${gpus(a.placement.gpuMilli)} each` : '—'}</td>
                    <td data-label="Placed">{time(a.scheduledAt)}</td>
                    <td data-label="Started">{time(a.startedAt)}</td>
                    <td data-label="Ended">{time(a.endedAt)}</td>
                    <td data-label="Outcome">
                      {a.outcome ? <span class={`badge ${stateClass(a.outcome)}`}>{a.outcome}</span> : 'running'}
                      {a.exitCode !== null ? ` exit ${a.exitCode}` : ''}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </div>
      )}
    </section>
  );
}
