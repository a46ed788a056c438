// Tasks: every task in every state, filtered by state and searched by name, id, tenant or node.
// Filters live in the address (#/tasks?state=RUNNING&q=train) so a view can be shared.
import { useState } from 'preact/hooks';
import { api, type TaskState } from '../api.js';
import { matches } from '../model/tasks.js';
import { listKeys } from '../components/keys.js';
import { ALL_STATES, ago, placedOn, stagingProgress, stateClass, taskGpu, tenantColour } from '../format.js';
import { hashQuery, useLive } from '../hooks.js';
import { markInteractive } from '../perf.js';

/** Rows per page: a screenful or two, however many tasks the pool has. */
export const PAGE_SIZE = 50;

function writeHash(q: string, states: ReadonlySet<TaskState>, all: boolean, page = 0): void {
  const p = new URLSearchParams();
  if (page > 0) p.set('page', String(page + 1));
  if (q) p.set('q', q);
  if (states.size) p.set('state', [...states].join(','));
  if (all) p.set('all', '1');
  const s = p.toString();
  history.replaceState(null, '', `#/tasks${s ? `?${s}` : ''}`);
}

export function TasksPage() {
  const initial = hashQuery();
  const [q, setQ] = useState(initial.get('q') ?? '');
  const [states, setStates] = useState<Set<TaskState>>(() => new Set((initial.get('state') ?? '').split(',').filter((s): s is TaskState => (ALL_STATES as string[]).includes(s))));
  const [all, setAll] = useState(initial.get('all') === '1');
  const [page, setPage] = useState(Math.max(0, (Number(initial.get('page')) || 1) - 1));
  const live = useLive((signal) => api.tasks(all ? '?all=true&limit=5000' : '', signal), ['tasks'], [all]);

  const toggle = (s: TaskState): void => {
    const next = new Set(states);
    if (next.has(s)) next.delete(s);
    else next.add(s);
    setStates(next);
    setPage(0);
    writeHash(q, next, all);
  };

  const found = live.data ? live.data.tasks.filter((t) => matches(t, q.trim(), states)) : [];
  const pages = Math.max(1, Math.ceil(found.length / PAGE_SIZE));
  const shown = Math.min(page, pages - 1);
  const list = found.slice(shown * PAGE_SIZE, (shown + 1) * PAGE_SIZE);
  const go = (to: number): void => {
    setPage(to);
    writeHash(q, states, all, to);
  };
  const counts = new Map<TaskState, number>();
  for (const t of live.data?.tasks ?? []) counts.set(t.state, (counts.get(t.state) ?? 0) + 1);
  if (live.data) markInteractive();

  return (
    <section aria-labelledby="tasks-h">
      <h1 id="tasks-h">Tasks</h1>
      <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <label class="search">
          <span>Search</span>
          <input
            type="search"
            value={q}
            placeholder="name, id, tenant, node or command"
            onInput={(e) => {
              const v = (e.currentTarget as HTMLInputElement).value;
              setQ(v);
              setPage(0);
              writeHash(v, states, all);
            }}
          />
        </label>
        <fieldset class="chips">
          <legend>State</legend>
          {ALL_STATES.map((s) => (
            <label key={s} class={`chip ${states.has(s) ? 'on' : ''}`}>
              <input type="checkbox" checked={states.has(s)} onChange={() => toggle(s)} />
              {s.toLowerCase()} <span class="muted">{counts.get(s) ?? 0}</span>
            </label>
          ))}
        </fieldset>
        <label class="check">
          <input
            type="checkbox"
            checked={all}
            onChange={(e) => {
              const v = (e.currentTarget as HTMLInputElement).checked;
              setAll(v);
              setPage(0);
              writeHash(q, states, v);
            }}
          />
          Whole history (otherwise live tasks and the last 100 finished)
        </label>
      </form>
      {live.error && <p role="alert" class="error">Could not load tasks: {live.error.message}</p>}
      {!live.data ? (
        <p aria-busy="true">Loading tasks…</p>
      ) : (
        <>
          <p class="muted pager" aria-live="polite" data-testid="pager">
            {found.length === 0 ? `0 of ${live.data.tasks.length} tasks` : `${shown * PAGE_SIZE + 1}–${shown * PAGE_SIZE + list.length} of ${found.length}`}
            {found.length !== live.data.tasks.length ? ` matching (${live.data.tasks.length} tasks)` : found.length > 0 ? ' tasks' : ''}
            {pages > 1 && (
              <>
                {' '}
                <button type="button" onClick={() => go(shown - 1)} disabled={shown === 0}>
                  Newer
                </button>{' '}
                <span>
                  page {shown + 1} of {pages}
                </span>{' '}
                <button type="button" onClick={() => go(shown + 1)} disabled={shown >= pages - 1}>
                  Older
                </button>
              </>
            )}
          </p>
          <div class="table-wrap">
            <table class="list" onKeyDown={listKeys}>
              <caption class="sr-only">Tasks</caption>
              <thead>
                <tr>
                  <th scope="col">Task</th>
                  <th scope="col">State</th>
                  <th scope="col" class="hide-sm">Tenant</th>
                  <th scope="col">GPU</th>
                  <th scope="col" class="hide-sm">Node</th>
                  <th scope="col" class="hide-sm">Submitted</th>
                </tr>
              </thead>
              <tbody>
                {list.map((t) => (
                  <tr key={t.id} data-task-id={t.id} data-state={t.state}>
                    <td>
                      <a data-row-link href={`#/tasks/${encodeURIComponent(t.id)}`}>
                        {t.name}
                      </a>
                      <div class="muted mono small">{t.id}</div>
                    </td>
                    <td>
                      <span class={`badge ${stateClass(t.state)}`}>{t.state}</span>
                      {t.exitCode !== null && <span class="muted small"> exit {t.exitCode}</span>}
                      {stagingProgress(t) && (
                        <div class="muted small" data-testid="task-staging">
                          Staging{stagingProgress(t)!.percent !== null ? ` ${stagingProgress(t)!.percent} %` : '…'}
                        </div>
                      )}
                    </td>
                    <td class="hide-sm">
                      <span class="swatch" style={{ background: tenantColour(t.tenant) }} aria-hidden="true" /> {t.tenant}
                    </td>
                    <td>{taskGpu(t.spec)}</td>
                    <td class="hide-sm">{placedOn(t.placement)}</td>
                    <td class="hide-sm">{ago(t.createdAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}
