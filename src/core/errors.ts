// Typed errors with stable codes. "Bad input" errors (FastGpuError) are mapped to HTTP
// statuses in one place (server/errors.ts); anything else thrown is a bug and becomes a 500.

export type ErrorCode =
  | 'INVALID_ARGUMENT' // 400: a field is wrong; `field` names it
  | 'UNSCHEDULABLE' // 422: valid, but can never fit any node
  | 'UNAUTHENTICATED' // 401
  | 'FORBIDDEN' // 403
  | 'NOT_FOUND' // 404
  | 'CONFLICT' // 409: e.g. cancel of a finished task
  | 'PAYLOAD_TOO_LARGE' // 413
  | 'RESOURCE_EXHAUSTED' // 429: a per-caller limit (e.g. open streams) is reached
  | 'UNAVAILABLE'; // 503

export class FastGpuError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Dotted path of the offending field, e.g. `resources.gpu.count`. */
    readonly field?: string,
  ) {
    super(message);
    this.name = 'FastGpuError';
  }
}

export const invalid = (field: string, message: string): FastGpuError =>
  new FastGpuError('INVALID_ARGUMENT', `${field}: ${message}`, field);

export const notFound = (what: string, id: string): FastGpuError =>
  new FastGpuError('NOT_FOUND', `${what} ${id} not found`);

export const conflict = (message: string): FastGpuError => new FastGpuError('CONFLICT', message);
