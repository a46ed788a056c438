/** What the admin and billing calls need of the client: kept narrow, so they do not import client.ts (no cycle). */
export interface Requester {
  request<T>(method: string, path: string, opts?: { query?: Record<string, string | number | boolean | undefined>; body?: unknown }): Promise<T>;
}
