export { autoscale, offerHolds, offerHourly, type AutoscaleInput } from './autoscale.js';
export type * from './types.js';
export { nodeHoursByProvider, type LentPeriod, type ProviderNodeHours } from './usage.js';
export { headroomTarget, isPlaceholder } from './headroom.js';
export { freeRoom, type NodeCapacity } from './room.js';
