// A real PostgreSQL for tests: the one named by FASTGPU_TEST_PG (CI and `npm test` start one
// with scripts/pg-up.sh and export it), or else a throwaway cluster started here through the
// same script, so that one test file runs alone too. Without a PostgreSQL server installed this
// fails, naming the package: the Postgres tests never pass by being skipped.
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { ident } from './db.js';

const run = promisify(execFile);
const SCRIPTS = fileURLToPath(new URL('../../../scripts/', import.meta.url));

export interface TestPostgres {
  /** A database of its own on the server, for this test file. */
  url: string;
  /** A fresh, empty schema in that database for one store. */
  freshSchema(): string;
  dropSchema(name: string): Promise<void>;
  /** Drops the database and stops the cluster if this process started it. */
  stop(): Promise<void>;
}

/** A TCP port on 127.0.0.1 that was free a moment ago (the kernel picks it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** A throwaway cluster of this process's own. */
export interface Cluster {
  url: string;
  /** Stops it and removes its folder. */
  stop: () => Promise<void>;
  /** Stops the server and keeps its data: `fast` (clients are disconnected) or `immediate` (as a crash). */
  halt: (mode: 'fast' | 'immediate') => Promise<void>;
  /** Starts it again after halt(), on the same port and data. */
  resume: () => Promise<void>;
}

/**
 * Starts a cluster with scripts/pg-up.sh; returns its URL and how to stop (or halt and resume) it.
 * `durable`: PostgreSQL's own defaults (fsync, synchronous commit), without which a crash loses
 * the last commits it acknowledged; otherwise as PG_DURABLE says (fast and unsafe by default).
 */
export async function startCluster(opts: { durable?: boolean } = {}): Promise<Cluster> {
  const root = mkdtempSync(join(tmpdir(), 'fastgpu-pg-'));
  const env = { ...process.env, PG_ROOT: root, PG_PORT: String(await freePort()), ...(opts.durable === true ? { PG_DURABLE: '1' } : {}) };
  try {
    const { stdout } = await run(join(SCRIPTS, 'pg-up.sh'), { env });
    const url = stdout.trim().split('\n').pop() ?? '';
    return {
      url,
      // Tearing the test cluster down: a failure leaves only a temp folder behind, never a wrong result.
      stop: async () => void (await run(join(SCRIPTS, 'pg-down.sh'), { env }).catch(() => {})),
      halt: async (mode) => void (await run(join(SCRIPTS, 'pg-down.sh'), { env: { ...env, KEEP: '1', PG_STOP_MODE: mode } })),
      resume: async () => void (await run(join(SCRIPTS, 'pg-up.sh'), { env })),
    };
  } catch (err) {
    const e = err as { code?: number; stderr?: string };
    if (e.code === 3) {
      throw new Error(
        'The Postgres store tests need a PostgreSQL server: install it (Debian/Ubuntu: `apt-get install postgresql`), or set FASTGPU_TEST_PG=postgres://… to one you run.',
      );
    }
    throw new Error(`scripts/pg-up.sh failed: ${e.stderr ?? String(err)}`);
  }
}

let counter = 0;

/** Creates database `name` on `server` (a postgres:// URL) and answers the URL that names it. */
export async function createDatabase(server: string, name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: server });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${ident(name)}`);
  } finally {
    await admin.end();
  }
  const u = new URL(server);
  u.pathname = `/${name}`;
  return u.toString();
}

/** A database of its own on FASTGPU_TEST_PG's server, or on a cluster started for this file. */
export async function useTestPostgres(): Promise<TestPostgres> {
  const given = process.env.FASTGPU_TEST_PG;
  const cluster = given ? null : await startCluster();
  const server = given ?? cluster?.url ?? '';
  const dbName = `fastgpu_test_${process.pid}_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: server });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${ident(dbName)}`);
  const u = new URL(server);
  u.pathname = `/${dbName}`;
  const url = u.toString();
  const inDb = new pg.Client({ connectionString: url });
  await inDb.connect();
  return {
    url,
    freshSchema: () => `s${counter++}`,
    dropSchema: async (name) => void (await inDb.query(`DROP SCHEMA IF EXISTS ${ident(name)} CASCADE`)),
    stop: async () => {
      // Test teardown: the database is throwaway, and a close error cannot change what was tested.
      await inDb.end().catch(() => {});
      await admin.query(`DROP DATABASE IF EXISTS ${ident(dbName)} WITH (FORCE)`).catch(() => {});
      await admin.end().catch(() => {});
      await cluster?.stop();
    },
  };
}
