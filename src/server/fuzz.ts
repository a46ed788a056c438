// Generated hostile requests for every route: each route of the OpenAPI (plus the unauthenticated
// ones outside it) with every content type (JSON, YAML, form, text, none), bodies that range
// from plausible specs to deep nesting, alias bombs, huge numbers and junk, and odd params,
// queries and credentials. Used by the fuzz test (in-process) and by bench/fuzz-api.ts (over
// a real socket). Deterministic for a seed. Requests that would block on purpose (SSE, long
// polls) are turned into their non-blocking form.
import { mulberry32 } from '../core/placement/rng.js';

export interface FuzzRequest {
  method: 'GET' | 'POST' | 'DELETE' | 'PUT' | 'PATCH';
  url: string;
  headers: Record<string, string>;
  body?: string;
}

export interface FuzzTargets {
  /** Route patterns by method, e.g. ['POST', '/v1/tasks/:id/cancel'] (from /v1/openapi.json). */
  routes: [string, string][];
  adminToken: string;
  /** Other tokens (member, viewer…) to call with now and then. */
  otherTokens: string[];
  /** Ids that exist (tasks, nodes, tenants…), so handlers get past their lookups. */
  ids: string[];
}

/** Routes of an OpenAPI document as [METHOD, pattern], plus the ones it leaves out. */
export function routesOf(openapi: { paths: Record<string, Record<string, unknown>> }): [string, string][] {
  const out: [string, string][] = [];
  for (const [path, ops] of Object.entries(openapi.paths)) {
    for (const m of Object.keys(ops)) out.push([m.toUpperCase(), path.replace(/\{([^}]+)\}/g, ':$1')]);
  }
  out.push(['POST', '/dashboard/session'], ['GET', '/dashboard/session'], ['DELETE', '/dashboard/session'], ['GET', '/'], ['GET', '/nope']);
  return out;
}

export const CONTENT_TYPES = ['application/json', 'application/yaml', 'application/x-www-form-urlencoded', 'text/plain', 'none'] as const;

const ODD_NUMBERS = [0, -1, 1e300, -1e300, 99999999999999999999, 2 ** 53, 0.1, 1e-300, 1000000.000001];
const ODD_STRINGS = ['', ' ', 'x'.repeat(600), '99999999999999999999', '1e309', 'NaN', '-1', '../../etc/passwd', '\u0000', '%', '😀', '<script>', 'H100', 'default', '30%', '1.50/h', '2025-03-01', 'true'];
const KEYS = ['command', 'resources', 'gpu', 'memory', 'env', 'priority', 'tenant', 'name', 'price', 'model', 'budget', 'discount', 'from', 'to', 'guarantee', 'limit', 'weight', 'token', 'nodeId', 'tasks', 'chunks', 'count', 'retries', 'timeLimit', 'role', 'prices', 'default', 'replicas', 'array', 'after', 'budgetPolicy'];

export class FuzzGen {
  private readonly r: () => number;
  constructor(
    private readonly t: FuzzTargets,
    seed: number,
  ) {
    this.r = mulberry32(seed);
  }

  private pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.r() * xs.length)]!;
  }

  private chance(p: number): boolean {
    return this.r() < p;
  }

  private scalar(): unknown {
    const k = this.r();
    if (k < 0.3) return this.pick(ODD_NUMBERS);
    if (k < 0.65) return this.pick(ODD_STRINGS);
    if (k < 0.75) return this.chance(0.5);
    if (k < 0.8) return null;
    return Math.floor(this.r() * 2000) - 500;
  }

  /** A random JSON value, shallow enough to be meaningful, keyed with the API's own field names. */
  value(depth = 0): unknown {
    const k = this.r();
    if (depth > 4 || k < 0.4) return this.scalar();
    if (k < 0.6) return Array.from({ length: Math.floor(this.r() * 4) }, () => this.value(depth + 1));
    const o: Record<string, unknown> = {};
    for (let i = Math.floor(this.r() * 5); i > 0; i--) o[this.pick(KEYS)] = this.value(depth + 1);
    return o;
  }

  /** A plausible task spec with one field broken now and then. */
  spec(): Record<string, unknown> {
    const s: Record<string, unknown> = { command: ['true'], resources: { gpu: this.pick([0, 0.5, 1, 'H100:0.5', { count: 1 }, { memory: '20GiB' }]) } };
    if (this.chance(0.5)) s[this.pick(KEYS)] = this.scalar();
    return s;
  }

  /** Bodies that once crashed parsers or overflowed amounts. */
  private hostile(type: string): string {
    const n = this.pick([65, 1000, 5000, 20000]);
    const yaml = type === 'application/yaml';
    switch (Math.floor(this.r() * 6)) {
      case 0:
        return '['.repeat(n) + (this.chance(0.5) ? ']'.repeat(n) : '');
      case 1:
        return yaml ? '{'.repeat(n) : `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
      case 2:
        return yaml ? `command: ${'- '.repeat(n)}x` : JSON.stringify({ command: ['x'], env: { A: '['.repeat(n) } });
      case 3: {
        const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
        for (let i = 1; i < 12; i++) lines.push(`a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(', ')}]`);
        return yaml ? lines.join('\n') : JSON.stringify({ price: 99999999999999999999, budget: '99999999999999999999', discount: '99999999999999999999/h' });
      }
      case 4:
        return yaml ? 'command: "true"\npriority: .nan\nresources: {gpu: .inf}\n' : '{"command": ["true"], "priority": 1e999}';
      default:
        return Buffer.from(Array.from({ length: 64 }, () => Math.floor(this.r() * 256))).toString('latin1');
    }
  }

  private body(type: string): string | undefined {
    if (type === 'none') return undefined;
    const k = this.r();
    if (k < 0.25) return this.hostile(type);
    const v = k < 0.55 ? this.spec() : this.value();
    switch (type) {
      case 'application/json':
        return JSON.stringify(v);
      case 'application/yaml':
        return this.chance(0.5) ? JSON.stringify(v) : toYamlish(v);
      case 'application/x-www-form-urlencoded':
        return new URLSearchParams(Object.entries(typeof v === 'object' && v !== null ? v : { v }).map(([a, b]): [string, string] => [a, JSON.stringify(b) ?? ''])).toString();
      default:
        return typeof v === 'string' ? v : JSON.stringify(v);
    }
  }

  private param(): string {
    const k = this.r();
    if (k < 0.5 && this.t.ids.length > 0) return encodeURIComponent(this.pick(this.t.ids));
    if (k < 0.8) return encodeURIComponent(String(this.scalar()));
    return this.pick(['%E0%A4%A', '..', 'a%2Fb', '%00', 'x'.repeat(300)]);
  }

  private query(path: string): string {
    const q: string[] = [];
    for (let i = Math.floor(this.r() * 3); i > 0; i--) q.push(`${this.pick(['limit', 'after', 'state', 'tenant', 'attempt', 'stream', 'from', 'to', 'bogus', 'nodeId', 'model'])}=${encodeURIComponent(String(this.scalar()))}`);
    // Long polls answer at once; follows and event streams are not fuzzed in this form.
    if (path.endsWith('/wait')) q.push('timeoutMs=0');
    if (path === '/v1/agent/assignments') q.push('waitMs=0');
    return q.length > 0 ? `?${q.join('&')}` : '';
  }

  /** The next request. */
  next(): FuzzRequest {
    let [method, pattern] = this.pick(this.t.routes);
    if (this.chance(0.05)) method = this.pick(['PUT', 'PATCH', 'DELETE', 'GET', 'POST']);
    const path = pattern.replace(/:[A-Za-z_]+/g, () => this.param());
    const headers: Record<string, string> = {};
    const a = this.r();
    if (a < 0.75) headers.authorization = `Bearer ${this.t.adminToken}`;
    else if (a < 0.85 && this.t.otherTokens.length > 0) headers.authorization = `Bearer ${this.pick(this.t.otherTokens)}`;
    else if (a < 0.92) headers.authorization = this.pick(['Bearer nope', 'Basic abc', 'Bearer', '']);
    if (this.chance(0.5)) headers['x-fastgpu-csrf'] = '1';
    const req: FuzzRequest = { method: method as FuzzRequest['method'], url: path + this.query(pattern), headers };
    if (method !== 'GET' && method !== 'DELETE') {
      const type = this.pick(CONTENT_TYPES);
      const body = this.body(type);
      if (type !== 'none') headers['content-type'] = type;
      if (body !== undefined) req.body = body;
    }
    return req;
  }
}

/** Whether a request would open a stream that never ends by itself (skipped by the fuzz). */
export function isStream(req: FuzzRequest): boolean {
  // As a client would send it: `/v1/tasks/../events` is `/v1/events`.
  const path = new URL(req.url, 'http://x').pathname;
  return req.method === 'GET' && (/^\/v1\/events\/?$/.test(path) || /follow=/.test(req.url));
}

/** Flow-style YAML of a JSON value (valid YAML; plain keys where they are words). */
function toYamlish(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(toYamlish).join(', ')}]`;
  if (typeof v === 'object' && v !== null) return `{${Object.entries(v).map(([k, x]) => `${/^\w+$/.test(k) ? k : JSON.stringify(k)}: ${toYamlish(x)}`).join(', ')}}`;
  return JSON.stringify(v) ?? 'null';
}
