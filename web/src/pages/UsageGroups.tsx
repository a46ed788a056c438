// The Usage page's table of arrays, maps and sweeps (issue 14): each group's GPU-hours and cost
// over the period, promotions included, and its elements (trials) counted by state, from
// `GET /v1/usage`'s `groups`. A sweep links to its own page.
import type { UsageGroup } from '../../../src/protocol/arrays.js';
import { listKeys } from '../components/keys.js';

/** `6 SUCCEEDED · 2 PRUNED`: most first. */
export function countsText(counts: Readonly<Record<string, number>>): string {
  const parts = Object.entries(counts)
    .filter(([, n]) => n > 0)
    .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1));
  return parts.length === 0 ? '—' : parts.map(([s, n]) => `${n} ${s}`).join(' · ');
}

const hours = (s: number): string => (s / 3600).toFixed(s < 36 ? 3 : 2);

export function UsageGroups(props: { groups: readonly UsageGroup[]; priced: boolean; money: (v: number) => string }) {
  const { groups, priced, money } = props;
  if (groups.length === 0) return null;
  return (
    <div class="table-wrap" data-testid="usage-groups">
      <table class="list cards-sm" onKeyDown={listKeys}>
        <caption>Arrays, maps and sweeps</caption>
        <thead>
          <tr>
            <th scope="col">Kind</th>
            <th scope="col">Name</th>
            <th scope="col">Tenant</th>
            <th scope="col" class="num">Size</th>
            <th scope="col">States</th>
            <th scope="col" class="num">GPU-hours</th>
            {priced && (
              <>
                <th scope="col" class="num">Charged</th>
                <th scope="col">Promotions applied</th>
              </>
            )}
          </tr>
        </thead>
        <tbody>
          {groups.map((g) => (
            <tr key={g.id}>
              <td data-label="Kind">{g.kind}</td>
              <td data-label="Name">
                <a data-row-link href={g.kind === 'sweep' ? `#/sweeps/${encodeURIComponent(g.id)}` : `#/tasks?q=${encodeURIComponent(g.id)}&all=1`} title={g.id}>
                  {g.name}
                </a>
              </td>
              <td data-label="Tenant">{g.tenant}</td>
              <td class="num" data-label="Size">{g.size}</td>
              <td data-label="States">{countsText(g.counts)}</td>
              <td class="num" data-label="GPU-hours">{hours(g.gpuSeconds)}</td>
              {priced && (
                <>
                  <td class="num" data-label="Charged">{money(g.chargedAmount)}</td>
                  <td data-label="Promotions">{g.promotions.length ? g.promotions.join(', ') : '—'}</td>
                </>
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
