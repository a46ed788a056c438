// Pool: nodes, their GPUs, and the slices on each GPU drawn to scale, coloured by tenant, with
// measured utilisation; cluster totals on top. Built for 100 nodes × 8 GPUs: nodes re-render
// only when their own GPUs change (a signature string per node).
import { Component } from 'preact';
import { memo } from 'preact/compat';
import { useLayoutEffect, useRef } from 'preact/hooks';
import { api, type GpuView, type NodeView } from '../api.js';
import { gpus, mib, pct, tenantColour } from '../format.js';
import { recordGpus } from '../history.js';
import { useLive } from '../hooks.js';
import { totalsOf } from '../model/pool.js';
import { LentNodes } from './LentNodes.js';
import { afterPaint, markInteractive, perf, record } from '../perf.js';

interface PoolData {
  gpus: GpuView[];
  nodes: NodeView[];
  /** performance.now() when the data was in hand. */
  at: number;
}

interface NodeGroup {
  id: string;
  name: string;
  state: string;
  node: NodeView | undefined;
  gpus: GpuView[];
  sig: string;
}

function gpuSig(g: GpuView): string {
  let s = `${g.index}|${g.allocatedMilli}|${g.allocatedMemoryMiB}|${g.utilPercent ?? ''}|${g.nodeState}`;
  for (const x of g.slices) s += `|${x.taskId ?? ''}:${x.vgpuId ?? ''}:${x.milli}:${x.memoryMiB}:${x.tenant}:${x.name}`;
  return s;
}

function group(data: PoolData): NodeGroup[] {
  const byId = new Map<string, NodeGroup>();
  // A node its provider took back (--autoscale) is gone on purpose: RELEASED, as `fastgpu nodes` says, not LOST.
  for (const n of data.nodes) byId.set(n.id, { id: n.id, name: n.name, state: n.labels?.['fastgpu.io/lifecycle'] === 'released' ? 'RELEASED' : n.state, node: n, gpus: [], sig: '' });
  for (const g of data.gpus) {
    let grp = byId.get(g.nodeId);
    if (!grp) byId.set(g.nodeId, (grp = { id: g.nodeId, name: g.node, state: g.nodeState, node: undefined, gpus: [], sig: '' }));
    grp.gpus.push(g);
  }
  const out = [...byId.values()];
  for (const grp of out) {
    const n = grp.node;
    grp.sig = `${grp.state}|${n ? `${n.allocated.cpuMilli}/${n.cpuMilli}|${n.tasks}` : ''}` + grp.gpus.map(gpuSig).join('#');
  }
  return out;
}

export function PoolPage() {
  const live = useLive<PoolData>(
    async (signal) => {
      const [g, n] = await Promise.all([api.gpus(signal), api.nodes(signal)]);
      recordGpus(g.gpus);
      return { gpus: g.gpus, nodes: n.nodes, at: performance.now() };
    },
    ['pool'],
    [],
  );
  const data = live.data;
  const measured = useRef<number>(-1);

  useLayoutEffect(() => {
    if (!data || measured.current === data.at) return;
    measured.current = data.at;
    record(perf.poolRender, performance.now() - data.at);
    afterPaint(data.at, (ms) => record(perf.poolFrame, ms));
    markInteractive();
  }, [data]);

  if (live.error && !data) return <p role="alert" class="error">Could not load the pool: {live.error.message}</p>;
  if (!data) return <p aria-busy="true">Loading the pool…</p>;
  const groups = group(data);
  const t = totalsOf(data.gpus);
  const tenants = [...t.byTenant.entries()].sort((a, b) => b[1] - a[1]);

  return (
    <section aria-labelledby="pool-h">
      <h1 id="pool-h">Pool</h1>
      <div class="totals" role="group" aria-label="Cluster totals">
        <Stat label="GPU allocated" value={`${gpus(t.allocatedMilli)} / ${gpus(t.capacityMilli)}`} sub={pct(t.allocatedMilli, t.capacityMilli)} bar={t.capacityMilli ? t.allocatedMilli / t.capacityMilli : 0} />
        <Stat label="GPU memory allocated" value={`${mib(t.allocatedMemoryMiB)} / ${mib(t.memoryMiB)}`} sub={pct(t.allocatedMemoryMiB, t.memoryMiB)} bar={t.memoryMiB ? t.allocatedMemoryMiB / t.memoryMiB : 0} />
        <Stat
          label="Fragmented capacity"
          value={`${gpus(t.fragmentedMilli)} GPU`}
          sub={`free only in pieces, on ${t.partlyUsed} partly used GPU${t.partlyUsed === 1 ? '' : 's'}; largest free piece ${gpus(t.largestFreeMilli)}`}
        />
        <Stat label="Idle GPUs" value={`${t.idleGpus} of ${t.gpuCount}`} sub={t.utilCount ? `measured utilisation ${Math.round(t.utilSum / t.utilCount)}% on average` : 'no utilisation samples yet'} />
      </div>
      {live.error && <p role="alert" class="error">Update failed: {live.error.message} (showing the last data)</p>}
      {tenants.length > 0 && (
        <ul class="legend" aria-label="Tenants">
          {tenants.map(([name, milli]) => (
            <li key={name}>
              <span class="swatch" style={{ background: tenantColour(name) }} aria-hidden="true" />
              {name} <span class="muted">{gpus(milli)} GPU</span>
            </li>
          ))}
        </ul>
      )}
      <LentNodes />
      {groups.length === 0 ? (
        <p class="empty">No nodes yet. Start an agent (<code>fastgpu agent --server URL --token T</code>) or run <code>fastgpu up</code>.</p>
      ) : (
        <div class="nodes">
          {groups.map((g) => (
            <NodeCard key={g.id} group={g} sig={g.sig} />
          ))}
        </div>
      )}
    </section>
  );
}

function Stat(props: { label: string; value: string; sub?: string; bar?: number }) {
  return (
    <div class="stat">
      <div class="stat-label">{props.label}</div>
      <div class="stat-value">{props.value}</div>
      {props.bar !== undefined && (
        <div class="meter" role="meter" aria-label={props.label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(props.bar * 100)}>
          <span style={{ width: `${Math.min(100, props.bar * 100)}%` }} />
        </div>
      )}
      {props.sub && <div class="stat-sub">{props.sub}</div>}
    </div>
  );
}

/**
 * A node card that re-renders only when its data changed and it is on screen (or near it).
 * Off-screen cards keep their last drawing and catch up as soon as they scroll into view, so a
 * refresh of all 800 GPUs' utilisation costs only the visible cards.
 */
class NodeCard extends Component<{ group: NodeGroup; sig: string }> {
  private drawn = '';
  visible = true;

  override shouldComponentUpdate(next: { sig: string }): boolean {
    return next.sig !== this.drawn && this.visible;
  }

  override componentDidMount(): void {
    if (this.base instanceof Element) cardObserver().observe(this.base);
    if (this.base) cards.set(this.base, this);
  }

  override componentWillUnmount(): void {
    if (this.base instanceof Element) cardObserver().unobserve(this.base);
    if (this.base) cards.delete(this.base);
  }

  setVisible(v: boolean): void {
    this.visible = v;
    if (v && this.props.sig !== this.drawn) this.forceUpdate();
  }

  override render() {
    this.drawn = this.props.sig;
    return <NodeCardView group={this.props.group} />;
  }
}

const cards = new Map<unknown, NodeCard>();
let observer: IntersectionObserver | null = null;
function cardObserver(): IntersectionObserver {
  observer ??= new IntersectionObserver(
    (entries) => {
      for (const e of entries) cards.get(e.target)?.setVisible(e.isIntersecting);
    },
    { rootMargin: '400px 0px' },
  );
  return observer;
}

function NodeCardView({ group: g }: { group: NodeGroup }) {
  const alloc = g.gpus.reduce((a, x) => a + x.allocatedMilli, 0);
  return (
    <article class={`node node-${g.state.toLowerCase()}`} aria-label={`Node ${g.name}`}>
      <header class="node-h">
        <h2>{g.name}</h2>
        <span class={`badge ${g.state === 'READY' ? 'st-ok' : g.state === 'LOST' ? 'st-bad' : g.state === 'RELEASED' ? 'st-muted' : 'st-wait'}`}>{g.state}</span>
        <span class="muted">
          {g.gpus.length} GPU{g.gpus.length === 1 ? '' : 's'} · {gpus(alloc)} allocated
          {g.node ? ` · CPU ${gpus(g.node.allocated.cpuMilli)}/${gpus(g.node.cpuMilli)} · RAM ${mib(g.node.allocated.memoryMiB)}/${mib(g.node.memoryMiB)}` : ''}
        </span>
      </header>
      <ul class="gpus">
        {g.gpus.map((x) => (
          <GpuRow key={x.index} gpu={x} />
        ))}
      </ul>
    </article>
  );
}

function slicesSig(g: GpuView): string {
  let s = `${g.index}`;
  for (const x of g.slices) s += `|${x.taskId ?? ''}:${x.vgpuId ?? ''}:${x.milli}:${x.memoryMiB}:${x.tenant}:${x.name}`;
  return s;
}

/** One GPU: its numbers and slices (re-drawn only when they change), then its utilisation. */
function GpuRow({ gpu: g }: { gpu: GpuView }) {
  return (
    <li class="gpu">
      <GpuAllocation gpu={g} sig={allocSig(g)} />
      {g.utilPercent !== undefined && <Util index={g.index} value={Math.round(g.utilPercent)} />}
    </li>
  );
}

function allocSig(g: GpuView): string {
  return `${g.allocatedMilli}|${g.allocatedMemoryMiB}|${slicesSig(g)}`;
}

const GpuAllocation = memo(
  function GpuAllocation({ gpu: g }: { gpu: GpuView; sig: string }) {
    return (
      <>
        <div class="gpu-h">
          <span class="gpu-name">
            GPU {g.index} <span class="muted">{g.model}</span>
          </span>
          <span class="muted gpu-nums">
            {gpus(g.allocatedMilli)}/1 · {mib(g.allocatedMemoryMiB)}/{mib(g.memoryMiB)}
          </span>
        </div>
        <SliceBar gpu={g} />
      </>
    );
  },
  (a, b) => a.sig === b.sig,
);

/** Measured utilisation: one element (the bar is drawn by CSS from --u), so a refresh of
 * every GPU's value stays cheap. */
function Util({ index, value }: { index: number; value: number }) {
  return (
    <div class="util" style={{ '--u': `${Math.min(100, value)}%` }} role="meter" aria-label={`GPU ${index} measured utilisation`} aria-valuemin={0} aria-valuemax={100} aria-valuenow={value}>
      <span>util {value}%</span>
    </div>
  );
}

function SliceBar({ gpu: g }: { gpu: GpuView }) {
  // Tasks inside a vGPU are drawn inside their reservation's slice, not again beside it.
  const inside = new Map<string, string[]>();
  for (const s of g.slices) if (s.taskId && s.vgpuId) (inside.get(s.vgpuId) ?? inside.set(s.vgpuId, []).get(s.vgpuId)!).push(s.name);
  let left = 0;
  return (
    <div class="gpu-bar" role="group" aria-label={`GPU ${g.index}, ${g.model}: ${gpus(g.allocatedMilli)} of 1 allocated in ${g.slices.length} slice${g.slices.length === 1 ? '' : 's'}`}>
      {g.slices.map((s) => {
        if (s.taskId && s.vgpuId) return null;
        const w = Math.min(100 - left, s.milli / 10);
        const style = { left: `${left}%`, width: `${w}%`, background: tenantColour(s.tenant) };
        left += w;
        const tasks = s.vgpuId ? inside.get(s.vgpuId) : undefined;
        const title = `${s.vgpuId && !s.taskId ? 'vGPU ' : ''}${s.name} · tenant ${s.tenant} · ${gpus(s.milli)} GPU · ${mib(s.memoryMiB)}${tasks ? ` · running ${tasks.join(', ')}` : ''}`;
        const text = w >= 9 ? s.name : '';
        return s.taskId ? (
          <a key={s.taskId} class="slice" href={`#/tasks/${encodeURIComponent(s.taskId)}`} style={style} title={title} aria-label={title} data-milli={s.milli}>
            {text}
          </a>
        ) : (
          <span key={s.vgpuId} class="slice slice-vgpu" style={style} title={title} aria-label={title} data-milli={s.milli}>
            {text}
          </span>
        );
      })}
    </div>
  );
}
