// The FastGPU TypeScript SDK.
//
//   import { FastGPU, VirtualGPU } from 'fastgpu/sdk';
//   const vg = await VirtualGPU.create(20, 'tflops');
//   await vg.submit('python train.py');
//   console.log(await vg.wait());
//   await vg.delete();
export { FastGPU, TasksApi, VgpusApi, type FastGPUOptions } from './client.js';
export { AdminApi, TenantsApi, TokensApi, type TenantView, type TenantInput, type TenantUpdate, type TokenView, type TokenRole, type CreatedToken } from './admin.js';
export { BillingApi, type BillingSettings, type PriceBookView, type PromotionView, type PromotionInput, type Quote, type UsageReport, type UsageRow, type UsageGroup, type UsageQuery } from './billing.js';
export { DatasetsApi, type Dataset, type DatasetSummary, type PushOptions, type PushProgress, type PushResult, type QuotaView } from './datasets.js';
export { SweepsApi, type SweepInput, type SweepParam, type SweepSummary, type SweepDetail, type SweepMetrics, type TrialView, type SweepState, type TrialState } from './sweeps.js';
export { VirtualGPU, type VgpuUnit, type VirtualGPUOptions, type VirtualGPUSpec } from './vgpu.js';
export { ArraysApi, MapError, type ArraySpecInput, type ArrayResults, type ArrayView, type DependencyInput, type MapOptions } from './arrays.js';
export { FastGpuApiError, type ApiErrorCode } from './errors.js';
export { fastgpuHome, configPath, readConfig, writeConfig, resolveConnection, type SavedConfig, type Connection } from './config.js';
export * from './types.js';
/** A task as the SDK returns it. */
export type { TaskView as Task } from './types.js';
