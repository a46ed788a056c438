// The environment a launched task sees: a minimal base taken from the agent's (BASE_ENV_VARS
// only: never its tokens, credentials or anything else it was started with), then the task's
// `env`, then the slice's variables, which the task cannot override.
// See docs/CONTRACTS.md "Environment of a launched task".
import type { Assignment } from '../protocol/agent.js';

export interface TaskEnvOptions {
  /** Where MPS clients find the control daemon's pipes (`mps` mode). */
  mpsPipeDir: string;
  mpsLogDir: string;
  /** File the agent writes `FASTGPU_PREEMPTED=1` into before it preempts the task. */
  signalFile: string;
  /** The environment to start from; default: the agent's. */
  base?: NodeJS.ProcessEnv;
}

/**
 * The agent's variables a task inherits (when the agent has them); nothing else is passed on.
 * PATH gets a default when the agent has none.
 */
export const BASE_ENV_VARS = ['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'LANGUAGE', 'LC_ALL', 'LC_CTYPE', 'TZ', 'TMPDIR', 'TERM', 'LD_LIBRARY_PATH'] as const;
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The full environment of one attempt.
 * @example taskEnv(a, opts).CUDA_VISIBLE_DEVICES // 'GPU-1e2b…' on real GPUs, '0' when simulated
 */
export function taskEnv(a: Assignment, opts: TaskEnvOptions): Record<string, string> {
  const env: Record<string, string> = { PATH: DEFAULT_PATH };
  const base = opts.base ?? process.env;
  for (const k of BASE_ENV_VARS) {
    const v = base[k];
    if (v !== undefined) env[k] = v;
  }
  Object.assign(env, a.env);

  const p = a.placement;
  // Real GPUs are named by uuid: indices shift when an MPS daemon or a container remaps devices.
  const visible = p.sharing === 'simulated' ? p.gpus.map(String) : p.gpuUuids;
  Object.assign(env, {
    FASTGPU_TASK_ID: a.taskId,
    FASTGPU_ATTEMPT: String(a.attempt),
    FASTGPU_TASK_NAME: a.name,
    FASTGPU_NODE: p.node,
    FASTGPU_GPU_MILLI: String(p.gpuMilli),
    FASTGPU_GPU_MEMORY_MIB: String(p.memoryMiB),
    FASTGPU_GPUS: p.gpus.join(','),
    FASTGPU_SHARING: p.sharing,
    FASTGPU_SIGNAL_FILE: opts.signalFile,
    // Empty hides every GPU from a CPU-only task, as it should.
    CUDA_VISIBLE_DEVICES: visible.join(','),
  });
  if (p.vgpuId !== undefined) env.FASTGPU_VGPU_ID = p.vgpuId;

  if (p.sharing === 'mps' && p.gpus.length > 0) {
    env.CUDA_MPS_PIPE_DIRECTORY = opts.mpsPipeDir;
    env.CUDA_MPS_LOG_DIRECTORY = opts.mpsLogDir;
    env.CUDA_MPS_ACTIVE_THREAD_PERCENTAGE = String(Math.max(1, Math.floor(p.gpuMilli / 10)));
    // Keyed by the device ordinal the client sees (0..n-1 after CUDA_VISIBLE_DEVICES): MPS
    // accepts uuids here too but has been seen not to apply the limit for them.
    env.CUDA_MPS_PINNED_DEVICE_MEM_LIMIT = p.gpus.map((_, i) => `${i}=${p.memoryMiB}M`).join(',');
  }
  return env;
}
