export { autoscale, offerHourly, type AutoscaleInput } from './autoscale.js';
export type * from './types.js';
