// The pool page's "nodes coming and going" (issue 12): nodes that providers lent the pool with
// --autoscale, newest request first, each with its provider, shape, state (joining, up, draining,
// released) and the time of each step. Nothing is shown for a pool that never lent a node.
import type { LentNodeList, LentNodeState, LentNodeView } from '../../../src/protocol/autoscale.js';
import { getOptional } from '../api.js';
import { duration, time } from '../format.js';
import { useLive } from '../hooks.js';

const STATE_CLASS: Record<LentNodeState, string> = { joining: 'st-wait', up: 'st-ok', draining: 'st-wait', released: 'st-muted' };

/** How long it has been lent (joined → released, or → now), or how long it has been coming. */
function lentFor(n: LentNodeView, now: number): string {
  if (n.joinedAt === null) return n.releasedAt === null ? `coming for ${duration(now - Date.parse(n.requestedAt))}` : 'never joined';
  return duration((n.releasedAt === null ? now : Date.parse(n.releasedAt)) - Date.parse(n.joinedAt));
}

export function LentNodes() {
  // A server without autoscaling routes (an older one) answers 404: show nothing.
  const live = useLive(async (signal) => (await getOptional<LentNodeList>('/v1/autoscale/nodes', signal)) ?? { nodes: [] }, ['pool'], []);
  const nodes = live.data?.nodes ?? [];
  if (nodes.length === 0) return null;
  const now = Date.now();
  const coming = nodes.filter((n) => n.state === 'joining').length;
  const up = nodes.filter((n) => n.state === 'up').length;
  const draining = nodes.filter((n) => n.state === 'draining').length;
  return (
    <section class="lent" aria-labelledby="lent-h">
      <h2 id="lent-h">Nodes coming and going</h2>
      <p class="muted">
        Lent by a provider (--autoscale) in the last 24 hours: {coming} joining, {up} up, {draining} draining, {nodes.length - coming - up - draining} released.
      </p>
      {live.error && <p role="alert" class="error">Update failed: {live.error.message} (showing the last data)</p>}
      <div class="table-wrap">
        <table class="list cards-sm" aria-label="Lent nodes">
          <thead>
            <tr>
              <th scope="col">Node</th>
              <th scope="col">Provider</th>
              <th scope="col">Shape</th>
              <th scope="col">State</th>
              <th scope="col">Asked for</th>
              <th scope="col">Joined</th>
              <th scope="col">Draining</th>
              <th scope="col">Released</th>
              <th scope="col">Lent for</th>
            </tr>
          </thead>
          <tbody>
            {nodes.map((n) => (
              <tr key={`${n.provider}/${n.providerId}`} data-node={n.node} data-state={n.state}>
                <td data-label="Node">{n.node}</td>
                <td data-label="Provider">
                  {n.provider} <span class="muted">{n.providerId}</span>
                </td>
                <td data-label="Shape">{n.shape}</td>
                <td data-label="State">
                  <span class={`badge ${STATE_CLASS[n.state]}`}>{n.state}</span>
                </td>
                <td data-label="Asked for">{time(n.requestedAt)}</td>
                <td data-label="Joined">{time(n.joinedAt)}</td>
                <td data-label="Draining">{time(n.drainingAt)}</td>
                <td data-label="Released" title={n.releaseReason ?? undefined}>
                  {time(n.releasedAt)}
                  {n.releaseReason !== null && <div class="muted">{n.releaseReason}</div>}
                </td>
                <td data-label="Lent for">{lentFor(n, now)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
