import { describe, expect, it } from 'vitest';
import { parseSweepSpec } from './spec.js';
import { trialSpec } from './trial.js';

describe('trialSpec', () => {
  it('fills the command and the environment', () => {
    const s = parseSweepSpec({ name: 'hp', command: 'train --lr {lr} --lr-decay {lr_decay} --home ${HOME}', metric: 'loss', trials: 1, space: { lr: [0.5], lr_decay: [true] } }, { tenant: 'default' });
    const t = trialSpec(s.template, 'sw_1', 3, { lr: 0.5, lr_decay: true });
    expect(t.name).toBe('hp-3');
    expect(t.command).toEqual(['sh', '-c', 'train --lr 0.5 --lr-decay true --home ${HOME}']);
    expect(t.env).toMatchObject({ FASTGPU_SWEEP_ID: 'sw_1', FASTGPU_TRIAL: '3', FASTGPU_PARAM_LR: '0.5', FASTGPU_PARAM_LR_DECAY: 'true', FASTGPU_PARAMS: '{"lr":0.5,"lr_decay":true}' });
  });
});
