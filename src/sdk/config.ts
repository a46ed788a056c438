// Where the server is and which token to use: explicit options, then FASTGPU_URL/FASTGPU_TOKEN,
// then $FASTGPU_HOME/config.json (written by `fastgpu up`). The CLI and the SDK share this.
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { FastGpuApiError } from './errors.js';

export type Env = Readonly<Record<string, string | undefined>>;

export interface SavedConfig {
  url: string;
  token: string;
  /** The CA file (PEM) to trust for an https server with a private certificate. */
  ca?: string;
}

export interface Connection {
  url: string;
  token: string | undefined;
  /** The CA file to trust (issue 11): `ca`, $FASTGPU_CA, or the saved one for the saved address. */
  ca?: string;
}

/** `$FASTGPU_HOME`, default `~/.fastgpu`. */
export function fastgpuHome(env: Env = process.env): string {
  const home = env.FASTGPU_HOME;
  return home !== undefined && home !== '' ? home : join(homedir(), '.fastgpu');
}

export function configPath(env: Env = process.env): string {
  return join(fastgpuHome(env), 'config.json');
}

/** The saved config, or undefined when there is none; a broken file is an error naming it. */
export function readConfig(env: Env = process.env): SavedConfig | undefined {
  const path = configPath(env);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new FastGpuApiError('NOT_CONFIGURED', `cannot read ${path}: ${(e as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new FastGpuApiError('NOT_CONFIGURED', `${path} is not valid JSON; delete it and run \`fastgpu up\` again`);
  }
  const c = parsed as Partial<SavedConfig> | null;
  if (typeof c?.url !== 'string' || typeof c.token !== 'string') {
    throw new FastGpuApiError('NOT_CONFIGURED', `${path} lacks "url" and "token"; delete it and run \`fastgpu up\` again`);
  }
  return { url: c.url, token: c.token, ...(typeof (c as { ca?: unknown }).ca === 'string' ? { ca: (c as { ca: string }).ca } : {}) };
}

/** Saves `{url, token}` with mode 0600 (written whole, then renamed, so a reader never sees half). */
export function writeConfig(config: SavedConfig, env: Env = process.env): string {
  const path = configPath(env);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
  return path;
}

export const NOT_CONFIGURED_MESSAGE =
  'no FastGPU server configured: run `fastgpu up` or pass --server/--token (or set FASTGPU_URL/FASTGPU_TOKEN)';

/**
 * The server address and token to use. The saved token is only sent to the saved address,
 * so a `--server` pointing elsewhere never receives it.
 */
export function resolveConnection(explicit: { url?: string; token?: string; ca?: string }, env: Env = process.env): Connection {
  const conn = resolveUrlToken(explicit, env);
  const ca = nonEmpty(explicit.ca) ?? nonEmpty(env.FASTGPU_CA) ?? savedCaFor(conn.url, env);
  return ca !== undefined ? { ...conn, ca } : conn;
}

/** The saved CA, only for the saved address. */
function savedCaFor(url: string, env: Env): string | undefined {
  const saved = readConfig(env);
  return saved?.ca !== undefined && normaliseUrl(saved.url) === url ? saved.ca : undefined;
}

function resolveUrlToken(explicit: { url?: string; token?: string }, env: Env): Connection {
  const url = nonEmpty(explicit.url) ?? nonEmpty(env.FASTGPU_URL);
  const token = nonEmpty(explicit.token) ?? nonEmpty(env.FASTGPU_TOKEN);
  if (url !== undefined && token !== undefined) return { url: normaliseUrl(url), token };
  const saved = readConfig(env);
  if (url === undefined) {
    if (saved === undefined) throw new FastGpuApiError('NOT_CONFIGURED', NOT_CONFIGURED_MESSAGE);
    return { url: normaliseUrl(saved.url), token: token ?? saved.token };
  }
  const sameServer = saved !== undefined && normaliseUrl(saved.url) === normaliseUrl(url);
  return { url: normaliseUrl(url), token: token ?? (sameServer ? saved.token : undefined) };
}

/**
 * `host:port` gets `http://`; a trailing slash goes. A malformed URL is an error naming it.
 * Several servers, comma-separated, are normalised each (clients fail over among them).
 */
export function normaliseUrl(raw: string): string {
  if (raw.includes(',')) return raw.split(',').map((one) => normaliseOne(one.trim())).join(',');
  return normaliseOne(raw);
}

function normaliseOne(raw: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    throw new FastGpuApiError('INVALID_ARGUMENT', `server: ${JSON.stringify(raw)} is not a URL; use e.g. http://127.0.0.1:7070`, 0, 'server');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new FastGpuApiError('INVALID_ARGUMENT', `server: ${JSON.stringify(raw)} must be an http:// or https:// URL`, 0, 'server');
  }
  return u.toString().replace(/\/+$/, '');
}

function nonEmpty(s: string | undefined): string | undefined {
  return s !== undefined && s.trim() !== '' ? s.trim() : undefined;
}
