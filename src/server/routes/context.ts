import type { Clock } from '../../core/types.js';
import type { Store } from '../../store/port.js';
import type { RouteBook } from '../api.js';
import type { Authenticator } from '../auth.js';
import type { ControlPlane } from '../control.js';
import type { IdempotencyBook } from '../idempotency.js';
import type { SseHub } from '../sse.js';

/** What every route module gets. */
export interface RouteContext {
  book: RouteBook;
  store: Store;
  control: ControlPlane;
  clock: Clock;
  auth: Authenticator;
  sse: SseHub;
  /** Idempotency-Key bookkeeping for submits. */
  idempotency: IdempotencyBook;
  log: (line: string) => void;
  /** After a task finishes, how long a log follower waits for late chunks before `end`. */
  logDrainMs: number;
  /** The pool's default time limit for tasks that set none (Slurm's DefaultTime). */
  defaultTimeLimitMs?: number;
}
