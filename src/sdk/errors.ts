// Errors the SDK throws. Every failure from the server or the network is a FastGpuApiError
// with a stable code, so callers branch on `code`, never on message text.
import type { ErrorCode } from '../core/errors.js';

/** The server's codes, plus the client-side ones: no server configured, unreachable, timed out, a 5xx. */
export type ApiErrorCode = ErrorCode | 'METHOD_NOT_ALLOWED' | 'NOT_CONFIGURED' | 'NETWORK' | 'TIMEOUT' | 'INTERNAL';

export class FastGpuApiError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    /** HTTP status; 0 when no answer came (network, configuration, client timeout). */
    readonly status = 0,
    /** Dotted path of the offending field, e.g. `resources.gpu`. */
    readonly field?: string,
  ) {
    super(message);
    this.name = 'FastGpuApiError';
  }

  /** True for answers that say the request itself was wrong (4xx other than auth). */
  get isBadInput(): boolean {
    return this.code === 'INVALID_ARGUMENT' || this.code === 'UNSCHEDULABLE' || this.code === 'PAYLOAD_TOO_LARGE';
  }
}

const STATUS_CODES: Record<number, ApiErrorCode> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  422: 'UNSCHEDULABLE',
  429: 'RESOURCE_EXHAUSTED',
  503: 'UNAVAILABLE',
};

const KNOWN = new Set<string>([...Object.values(STATUS_CODES), 'INTERNAL']);

/** The error for a non-2xx answer, from its `{error: {code, message, field}}` body when there is one. */
export function errorFromResponse(status: number, body: unknown, fallbackText: string): FastGpuApiError {
  const err = (body as { error?: { code?: unknown; message?: unknown; field?: unknown } } | null)?.error;
  const code: ApiErrorCode =
    typeof err?.code === 'string' && KNOWN.has(err.code) ? (err.code as ApiErrorCode) : (STATUS_CODES[status] ?? 'INTERNAL');
  const message =
    typeof err?.message === 'string' && err.message !== ''
      ? err.message
      : `server answered ${status}${fallbackText ? `: ${fallbackText.slice(0, 200)}` : ''}`;
  const field = typeof err?.field === 'string' ? err.field : undefined;
  return new FastGpuApiError(code, message, status, field);
}
