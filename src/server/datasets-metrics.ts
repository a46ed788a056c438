// Data staging on /metrics (issue 16): each node's cache and the bytes its agent staged, as the
// agent last reported them in its heartbeat (totals since that agent started: a restart resets
// them, which Prometheus' rate() reads as a counter reset).
import { Counter, Gauge, type Registry } from 'prom-client';
import type { NodeCacheStatus, NodeRecord } from '../core/types.js';

/** Registers the data metrics on `registry`, read from the live nodes when scraped. */
export function registerDataMetrics(registry: Registry, nodes: () => Iterable<NodeRecord>): void {
  const each = (f: (node: string, c: NodeCacheStatus) => void): void => {
    for (const n of nodes()) if (n.cache && n.state !== 'LOST') f(n.name, n.cache);
  };
  const counter = (name: string, help: string, pick: (c: NodeCacheStatus) => number): void => {
    new Counter({
      name,
      help,
      labelNames: ['node'],
      registers: [registry],
      collect() {
        this.reset();
        each((node, c) => this.inc({ node }, pick(c)));
      },
    });
  };
  const gauge = (name: string, help: string, pick: (c: NodeCacheStatus) => number | null): void => {
    new Gauge({
      name,
      help,
      labelNames: ['node'],
      registers: [registry],
      collect() {
        this.reset();
        each((node, c) => {
          const v = pick(c);
          if (v !== null) this.set({ node }, v);
        });
      },
    });
  };
  counter('fastgpu_data_staged_bytes_total', 'Bytes of task inputs staged on the node (from its cache or downloaded), since its agent started', (c) => c.stagedBytes);
  counter('fastgpu_data_cache_hit_bytes_total', "Bytes staging found in the node's cache, since its agent started", (c) => c.hitBytes);
  counter('fastgpu_data_downloaded_bytes_total', 'Bytes the node downloaded to stage inputs, since its agent started', (c) => c.downloadedBytes);
  counter('fastgpu_data_staging_seconds_total', 'Seconds tasks spent staging their inputs on the node, summed, since its agent started', (c) => c.stagingSeconds);
  gauge('fastgpu_data_cache_bytes', "Bytes held in the node's dataset cache", (c) => c.usedBytes);
  gauge('fastgpu_data_cache_limit_bytes', "The size cap of the node's dataset cache", (c) => c.capBytes);
  gauge('fastgpu_data_cache_hit_ratio', 'Of the bytes staged on the node, the share found in its cache (0–1), since its agent started', (c) =>
    c.hitBytes + c.downloadedBytes > 0 ? c.hitBytes / (c.hitBytes + c.downloadedBytes) : null,
  );
}
