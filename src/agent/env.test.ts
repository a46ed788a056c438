// A task's environment (issue 9 §5): a documented minimal base from the agent's, its own env,
// and the slice's variables; nothing else the agent was started with (tokens, cloud keys).
import { describe, expect, it } from 'vitest';
import { assignment } from './fixtures/helpers.js';
import { BASE_ENV_VARS, taskEnv } from './env.js';

const opts = { mpsPipeDir: '/p', mpsLogDir: '/l', signalFile: '/s' };

describe('task environment', () => {
  it('passes only the base list from the agent, then the task’s own, then the slice’s', () => {
    const agentEnv = {
      PATH: '/opt/bin:/usr/bin',
      HOME: '/home/agent',
      LANG: 'C.UTF-8',
      FASTGPU_TOKEN: 'agent-secret',
      AWS_SECRET_ACCESS_KEY: 'cloud-secret',
      DATABASE_URL: 'postgres://x:y@db/z',
      NODE_OPTIONS: '--inspect',
      CUDA_VISIBLE_DEVICES: '7',
    };
    const env = taskEnv(assignment(['true'], { env: { MY_VAR: '1', FASTGPU_GPUS: 'forged' } }), { ...opts, base: agentEnv });
    expect(env.PATH).toBe('/opt/bin:/usr/bin');
    expect(env.HOME).toBe('/home/agent');
    expect(env.LANG).toBe('C.UTF-8');
    expect(env.MY_VAR).toBe('1');
    expect(env.FASTGPU_GPUS).toBe('1');
    for (const k of ['FASTGPU_TOKEN', 'AWS_SECRET_ACCESS_KEY', 'DATABASE_URL', 'NODE_OPTIONS']) expect(env[k], k).toBeUndefined();
    const allowed = new Set<string>([...BASE_ENV_VARS, 'MY_VAR']);
    for (const k of Object.keys(env)) expect(allowed.has(k) || /^(FASTGPU_|CUDA_)/.test(k), k).toBe(true);
  });

  it('a PATH even when the agent has none', () => {
    expect(taskEnv(assignment(['true']), { ...opts, base: {} }).PATH).toMatch(/\/usr\/bin/);
  });
});
