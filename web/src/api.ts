// The API as the page sees it: typed GETs and the few actions, all same-origin with the
// session cookie. Unsafe calls carry the CSRF header the dashboard plugin asks for.
import type { GpuView, NodeView, TaskDetailView, TaskEventPage, TaskView } from './types.js';

export type * from './types.js';

export const CSRF_HEADER = 'x-fastgpu-csrf';

/** An API error with the server's code and message (`{error: {code, message}}`). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Called when any call answers 401: the session ended (server restart, token revoked). */
let onUnauthenticated: () => void = () => {};
export function setUnauthenticatedHandler(f: () => void): void {
  onUnauthenticated = f;
}
export function notifyUnauthenticated(): void {
  onUnauthenticated();
}

async function errorOf(res: Response): Promise<ApiError> {
  let code = 'HTTP_' + res.status;
  let message = res.statusText || `HTTP ${res.status}`;
  try {
    const body = (await res.json()) as { error?: { code?: string; message?: string } };
    if (body.error?.code) code = body.error.code;
    if (body.error?.message) message = body.error.message;
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(res.status, code, message);
}

export async function request<T>(method: 'GET' | 'POST' | 'DELETE', url: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method !== 'GET') headers[CSRF_HEADER] = '1';
  if (body !== undefined) headers['content-type'] = 'application/json';
  const init: RequestInit = { method, headers, credentials: 'same-origin' };
  if (body !== undefined) init.body = JSON.stringify(body);
  if (signal) init.signal = signal;
  const res = await fetch(url, init);
  if (!res.ok) {
    const err = await errorOf(res);
    if (res.status === 401 && !url.startsWith('/dashboard/session')) onUnauthenticated();
    throw err;
  }
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

export const get = <T>(url: string, signal?: AbortSignal): Promise<T> => request<T>('GET', url, undefined, signal);

export interface Me {
  tenant: string;
  role: string;
}

/** Who is logged in (set once the session is known); viewers may look but not act. */
export const session: { me: Me | null } = { me: null };
export const canAct = (): boolean => session.me !== null && session.me.role !== 'viewer';

export const api = {
  me: () => get<Me>('/dashboard/session'),
  login: (token: string) => request<Me>('POST', '/dashboard/session', { token }),
  logout: () => request<void>('DELETE', '/dashboard/session'),
  gpus: (signal?: AbortSignal) => get<{ gpus: GpuView[] }>('/v1/gpus', signal),
  nodes: (signal?: AbortSignal) => get<{ nodes: NodeView[] }>('/v1/nodes', signal),
  tasks: (query: string, signal?: AbortSignal) => get<{ tasks: TaskView[] }>(`/v1/tasks${query}`, signal),
  task: (id: string, signal?: AbortSignal) => get<TaskDetailView>(`/v1/tasks/${encodeURIComponent(id)}`, signal),
  /** One page of a task's stored history, after event `after` (`next` while more follow). */
  taskEvents: (id: string, after: number, signal?: AbortSignal) =>
    get<TaskEventPage>(`/v1/tasks/${encodeURIComponent(id)}/events?after=${after}&limit=1000`, signal),
  cancel: (id: string) => request<TaskView>('POST', `/v1/tasks/${encodeURIComponent(id)}/cancel`),
};

/** GET that answers null when the server has no such route (endpoints a server may not have yet). */
export async function getOptional<T>(url: string, signal?: AbortSignal): Promise<T | null> {
  try {
    return await get<T>(url, signal);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404 && (e.code === 'HTTP_404' || /^no route/i.test(e.message))) return null;
    throw e;
  }
}
