// Tenancy: tenants, roles and permissions, quotas, fair share and preemption choice.
export * from './types.js';
export * from './permissions.js';
export * from './fairshare.js';
export * from './quota.js';
export * from './preemption.js';
export * from './parse.js';
export * from './usage.js';
