// Array benchmark (issue 14): submit an array of 10,000 elements in one request, through the
// server's HTTP handler (in-process inject: routing, validation, expansion, the store write, the
// JSON answer), on SQLite (its WAL checkpoints in the background, as `fastgpu up` runs it) and on
// Postgres. Counts the store transactions the submit made (the
// target is one). `npm run bench:arrays` prints a table; FASTGPU_TEST_PG names a Postgres to use,
// else one is started through scripts/pg-up.sh (as the tests do).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { buildApp } from '../src/server/app.js';
import { ensureAdminToken } from '../src/server/main.js';
import { openStore } from '../src/store/index.js';
import { PgStore } from '../src/store/postgres/store.js';
import { useTestPostgres } from '../src/store/postgres/testing.js';
import type { Store } from '../src/store/port.js';
import { ManualClock } from '../src/util/clock.js';

const ELEMENTS = 10_000;
const RUNS = Number(process.env.RUNS ?? 3);
const TARGET_MS = 1000;
/** `STORES=sqlite` (or postgres) runs one store only. */
const STORES = (process.env.STORES ?? 'sqlite,postgres').split(',');
/** `PROFILE=DIR` writes a V8 CPU profile of each submit request (and only it) into DIR. */
const PROFILE = process.env.PROFILE;
/** Send an Idempotency-Key, as the SDKs and the CLI do (`KEYED=0`: none). */
const KEYED = process.env.KEYED !== '0';

interface Row {
  store: string;
  run: number;
  ms: number;
  /** Of which in the store's write. */
  storeMs: number;
  /** CPU time of this process over the request (user + system): what the submit costs, whatever else the machine runs. */
  cpuMs: number;
  /** CPU time of the database's server processes over the request (Postgres on this machine; null otherwise). */
  dbCpuMs: number | null;
  transactions: number;
  tasks: number;
  /** Bytes of the answer. */
  answerBytes: number;
  keyed: boolean;
}

/**
 * Counts the transactions that store new tasks (commitBatch with newTasks, insertTasks): the
 * submit's. The scheduling cycle the submit starts may write (the elements' reasons) while the
 * answer is being sent; that write is the cycle's, not the submit's, and is not counted.
 */
function countTransactions(store: Store): { n: number; ms: number } {
  const c = { n: 0, ms: 0 };
  for (const m of ['commitBatch', 'insertTasks'] as const) {
    const real = store[m].bind(store) as (...a: unknown[]) => Promise<unknown>;
    (store as unknown as Record<string, unknown>)[m] = async (...a: unknown[]) => {
      const batch = a[0] as { newTasks?: unknown[] } | unknown[];
      if (m === 'insertTasks' || (!Array.isArray(batch) && (batch.newTasks?.length ?? 0) > 0)) c.n++;
      else return real(...a);
      const t0 = performance.now();
      try {
        return await real(...a);
      } finally {
        c.ms += performance.now() - t0;
      }
    };
  }
  return c;
}

/** Reads the CPU time (ms) of a database's backends from /proc: null when it runs elsewhere. */
type DbCpu = () => Promise<number | null>;

/** The CPU of every backend connected to the database at `url` (the store's pool), from /proc. */
async function pgBackendsCpu(url: string): Promise<{ read: DbCpu; close: () => Promise<void> }> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const tick = 1000 / 100; // USER_HZ: Linux reports these times in hundredths of a second.
  const read: DbCpu = async () => {
    const pids = (await c.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()')).rows.map((r) => r.pid);
    let ms = 0;
    for (const pid of pids) {
      let stat: string;
      try {
        stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      } catch {
        return null;
      }
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ms += (Number(f[11]) + Number(f[12])) * tick;
    }
    return ms;
  };
  return { read, close: () => c.end() };
}

async function benchOn(name: string, store: Store, dir: string, dbCpu: DbCpu = async () => null): Promise<Row[]> {
  await store.init();
  const clock = new ManualClock();
  const token = await ensureAdminToken(dir, store, clock);
  const app = await buildApp({ store, clock, tickMs: 0, nodeLostAfterMs: 15_000, logDrainMs: 20, sampleMaintenance: false });
  const rows: Row[] = [];
  try {
    const tx = countTransactions(store);
    for (let run = 1; run <= RUNS; run++) {
      // The cycles the last submit started (10,000 pending tasks) are not this submit's.
      await app.control.settle();
      const before = tx.n;
      const storeMsBefore = tx.ms;
      const payload = JSON.stringify({ name: `bench-${run}`, command: ['python', 'eval.py'], resources: { gpu: 0.25 }, array: `0-${ELEMENTS - 1}%64` });
      const session = PROFILE ? new Session() : null;
      if (session) {
        session.connect();
        await session.post('Profiler.enable');
        await session.post('Profiler.start');
      }
      const db0 = await dbCpu();
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      // As the SDKs and the CLI send it (KEYED=0 leaves it out): the key is stored with the tasks.
      const headers: Record<string, string> = { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...(KEYED ? { 'idempotency-key': `bench-${name}-${run}-${Date.now()}` } : {}) };
      const res = await app.app.inject({ method: 'POST', url: '/v1/tasks', headers, payload });
      const ms = performance.now() - t0;
      const c = process.cpuUsage(c0);
      const db1 = await dbCpu();
      if (session && PROFILE) {
        const { profile } = await session.post('Profiler.stop');
        mkdirSync(PROFILE, { recursive: true });
        writeFileSync(join(PROFILE, `arrays-${name}-${run}.cpuprofile`), JSON.stringify(profile));
        session.disconnect();
      }
      const cpuMs = (c.user + c.system) / 1000;
      if (res.statusCode !== 201) throw new Error(`submit: ${res.statusCode} ${res.payload.slice(0, 300)}`);
      const made = (JSON.parse(res.payload) as { array?: { size: number } }).array?.size ?? 0;
      rows.push({ store: name, run, ms, storeMs: tx.ms - storeMsBefore, cpuMs, dbCpuMs: db0 !== null && db1 !== null ? db1 - db0 : null, transactions: tx.n - before, tasks: made, answerBytes: res.rawPayload.length, keyed: KEYED });
    }
  } finally {
    await app.close();
    await store.close();
  }
  return rows;
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'fastgpu-bench-arrays-'));
  try {
    if (STORES.includes('sqlite')) rows.push(...(await benchOn('sqlite', openStore({ kind: 'sqlite', path: join(dir, 'fastgpu.db'), backgroundCheckpointMs: 1_000 }), dir)));
    if (STORES.includes('postgres')) {
      const pg = await useTestPostgres();
      const backends = await pgBackendsCpu(pg.url);
      try {
        rows.push(...(await benchOn('postgres', new PgStore({ url: pg.url, schema: pg.freshSchema(), maxConnections: 4 }), dir, backends.read)));
      } finally {
        await backends.close();
        await pg.stop();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const pad = (s: string, n: number): string => s.padEnd(n);
  console.log(`submit an array of ${ELEMENTS.toLocaleString('en')} elements in one request${KEYED ? ' with an Idempotency-Key (as the SDKs and the CLI send)' : ''} (target ≤ ${TARGET_MS} ms, one transaction)`);
  console.log(`${pad('store', 10)}${pad('run', 5)}${pad('elements', 10)}${pad('ms', 10)}${pad('store ms', 10)}${pad('cpu ms', 10)}${pad('db cpu ms', 11)}${pad('transactions', 14)}${pad('answer', 10)}verdict`);
  for (const r of rows) {
    const ok = r.ms <= TARGET_MS && r.transactions === 1 && r.tasks === ELEMENTS;
    console.log(`${pad(r.store, 10)}${pad(String(r.run), 5)}${pad(String(r.tasks), 10)}${pad(r.ms.toFixed(0), 10)}${pad(r.storeMs.toFixed(0), 10)}${pad(r.cpuMs.toFixed(0), 10)}${pad(r.dbCpuMs === null ? '-' : r.dbCpuMs.toFixed(0), 11)}${pad(String(r.transactions), 14)}${pad(`${(r.answerBytes / 1024).toFixed(1)} KiB`, 10)}${ok ? 'ok' : 'MISSED'}`);
  }
  for (const s of STORES) {
    const ms = rows.filter((r) => r.store === s).map((r) => r.ms).sort((a, b) => a - b);
    const cpu = rows.filter((r) => r.store === s).map((r) => r.cpuMs).sort((a, b) => a - b);
    const db = rows.filter((r) => r.store === s && r.dbCpuMs !== null).map((r) => r.dbCpuMs!).sort((a, b) => a - b);
    const dbText = db.length > 0 ? ` + ${db[Math.floor(db.length / 2)]!.toFixed(0)} ms CPU of the database` : '';
    console.log(`${s}: median ${ms[Math.floor(ms.length / 2)]?.toFixed(0)} ms wall, ${cpu[Math.floor(cpu.length / 2)]?.toFixed(0)} ms CPU of the server process${dbText} (load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores)`);
  }
}

await main();
