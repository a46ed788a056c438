// POST /v1/agent/metrics: the metric points trials append to $FASTGPU_METRICS, as the agent
// ships them (src/agent/metrics-shipper.ts) and the server stores them (src/server/sweeps.ts).

/** One metric line of one attempt. */
export interface ShippedMetric {
  taskId: string;
  attempt: number;
  /** The line's number in the attempt's metrics file, from 0: with the attempt, its identity. */
  index: number;
  /** When the agent read it (epoch ms). */
  at: number;
  step: number;
  values: Record<string, number>;
}
