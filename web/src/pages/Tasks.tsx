// Tasks: every task in every state, filtered by state and searched by name, id, tenant or node.
// Filters live in the address (#/tasks?state=RUNNING&q=train) so a view can be shared.
import { useState } from 'preact/hooks';
import { api, type TaskState } from '../api.js';
import { matches } from '../model/tasks.js';
import { listKeys } from '../components/keys.js';
import { ALL_STATES, ago, placedOn, stateClass, taskGpu, tenantColour } from '../format.js';
import { hashQuery, useLive } from '../hooks.js';
import { markInteractive } from '../perf.js';

function writeHash(q: string, states: ReadonlySet<TaskState>, all: boolean): void {
  const p = new URLSearchParams();
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
  const live = useLive((signal) => api.tasks(all ? '?all=true&limit=5000' : '', signal), ['tasks'], [all]);

  const toggle = (s: TaskState): void => {
    const next = new Set(states);
    if (next.has(s)) next.delete(s);
    else next.add(s);
    setStates(next);
    writeHash(q, next, all);
  };

  const list = live.data ? live.data.tasks.filter((t) => matches(t, q.trim(), states)) : [];
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
          <p class="muted" aria-live="polite">
            {list.length} of {live.data.tasks.length} tasks
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
