// The scheduler resolves requests through core/resolve; one import point for the folder.
export { describeRequest, resolveRequest, type ModelInfo } from '../resolve.js';
