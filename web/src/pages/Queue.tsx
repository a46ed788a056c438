// Queue: pending tasks by priority, then submit time (the scheduler also weighs fair share between
// tenants, which the API does not expose per task), with the reason in plain words.
import { api } from '../api.js';
import { queueOrder } from '../model/queue.js';
import { listKeys } from '../components/keys.js';
import { duration, reasonDetail, reasonWords, taskGpu, tenantColour } from '../format.js';
import { useLive } from '../hooks.js';
import { markInteractive } from '../perf.js';

export function QueuePage() {
  const live = useLive((signal) => api.tasks('?state=PENDING', signal), ['tasks'], []);
  if (live.error && !live.data) return <p role="alert" class="error">Could not load the queue: {live.error.message}</p>;
  if (!live.data) return <p aria-busy="true">Loading the queue…</p>;
  markInteractive();
  const queue = queueOrder(live.data.tasks);
  return (
    <section aria-labelledby="queue-h">
      <h1 id="queue-h">Queue</h1>
      <p class="muted">
        {queue.length === 0 ? 'Nothing is waiting: every submitted task has been placed.' : `${queue.length} task${queue.length === 1 ? '' : 's'} waiting, by priority and then age (the scheduler also weighs fair share between tenants).`}
      </p>
      {queue.length > 0 && (
        <div class="table-wrap">
          <table class="list cards-sm" onKeyDown={listKeys}>
            <caption class="sr-only">Pending tasks</caption>
            <thead>
              <tr>
                <th scope="col" class="num">#</th>
                <th scope="col">Task</th>
                <th scope="col" class="num">Priority</th>
                <th scope="col" class="hide-sm">Tenant</th>
                <th scope="col">Wants</th>
                <th scope="col" class="hide-sm">Waiting</th>
                <th scope="col">Why</th>
              </tr>
            </thead>
            <tbody>
              {queue.map((t, i) => (
                <tr key={t.id}>
                  <td class="num" data-label="#">{i + 1}</td>
                  <td data-label="Task">
                    <a data-row-link href={`#/tasks/${encodeURIComponent(t.id)}`}>
                      {t.name}
                    </a>
                    <div class="muted mono small">{t.id}</div>
                  </td>
                  <td class="num" data-label="Priority">{t.priority}</td>
                  <td class="hide-sm" data-label="Tenant">
                    <span class="swatch" style={{ background: tenantColour(t.tenant) }} aria-hidden="true" /> {t.tenant}
                  </td>
                  <td data-label="Wants">{taskGpu(t.spec)}</td>
                  <td class="hide-sm" data-label="Waiting">{t.createdAt ? duration(Date.now() - Date.parse(t.createdAt)) : '—'}</td>
                  <td class="reason" data-label="Why">
                    {t.reason && <span class="badge st-wait">{t.reason}</span>} {reasonWords(t.reason, t.reasonMessage)}
                    {reasonDetail(t.reasonMessage) && <div class="muted small">{reasonDetail(t.reasonMessage)}</div>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
