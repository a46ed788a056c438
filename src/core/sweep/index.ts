// Sweeps in the core: the spec, the sampler, early stopping and trial specs (all pure).
export * from './types.js';
export * from './spec.js';
export * from './sample.js';
export * from './stopping.js';
export * from './trial.js';
export * from './metrics.js';
export * from './external.js';
