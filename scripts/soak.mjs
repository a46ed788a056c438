#!/usr/bin/env node
// `npm run test:soak`: the whole test suite N times in a row (default 5) with two CPU hogs beside
// it, as CI's 2 cores are when Postgres, the Python tests and a build share them. A flaky test
// shows up here, not in someone's landing. Prints each run and a summary: runs, tests, failures.
//
//   npm run test:soak                      # 5 runs of everything
//   npm run test:soak -- --runs 1 src/core/state.test.ts   # any vitest filters after the flags
//   SOAK_RUNS=3 npm run test:soak
//
// Hogs: `stress-ng --cpu 2` (Debian: apt-get install stress-ng) when present, else two busy Node
// loops. The suite is built once first (the e2e tests run bin/fastgpu), unless --no-build.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function parseArgs(argv) {
  const out = { runs: Number(process.env.SOAK_RUNS ?? 5), build: true, hogs: 2, filters: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--runs') out.runs = Number(argv[++i]);
    else if (a === '--hogs') out.hogs = Number(argv[++i]);
    else if (a === '--no-build') out.build = false;
    else out.filters.push(a);
  }
  for (const [k, v] of [['--runs', out.runs], ['--hogs', out.hogs]]) {
    if (!Number.isInteger(v) || v < 0 || (k === '--runs' && v < 1)) {
      console.error(`soak: ${k} must be a whole number${k === '--runs' ? ' ≥ 1' : ' ≥ 0'} (got ${v})`);
      process.exit(2);
    }
  }
  return out;
}

function hasStressNg() {
  return spawnSync('stress-ng', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Starts the hogs; answers a function that stops exactly those processes. */
function startHogs(n) {
  if (n === 0) return { what: 'none', stop: async () => {} };
  const procs = hasStressNg()
    ? [spawn('stress-ng', ['--cpu', String(n), '--quiet'], { stdio: 'ignore', detached: true })]
    : Array.from({ length: n }, () => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore', detached: true }));
  const what = procs.length === 1 && n > 1 ? `stress-ng --cpu ${n}` : `${n} busy Node loop${n === 1 ? '' : 's'}`;
  /** SIGTERM (stress-ng stops and reaps its workers), then SIGKILL to the group after 3 s. */
  const stop = async () => {
    const exited = procs.map((p) => (p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise((r) => p.once('exit', r))));
    for (const p of procs) {
      try {
        process.kill(p.pid, 'SIGTERM');
      } catch {
        // Already gone: nothing left to stop.
      }
    }
    const late = setTimeout(() => {
      for (const p of procs) {
        try {
          // Each hog leads its own process group (detached): its workers go with it.
          process.kill(-p.pid, 'SIGKILL');
        } catch {
          // Already gone: nothing left to stop.
        }
      }
    }, 3000);
    await Promise.all(exited);
    clearTimeout(late);
  };
  return { what, stop };
}

function npx(args, opts = {}) {
  return new Promise((resolve) => {
    const p = spawn('npx', args, { stdio: 'inherit', ...opts });
    p.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

const opts = parseArgs(process.argv.slice(2));

// The suite is the one `npm test` runs: on a real Postgres (scripts/with-pg.sh starts a throwaway
// one, once for all the runs) and with the same `--exclude`s as package.json's "test" script.
if (!process.env.FASTGPU_TEST_PG) {
  const again = spawnSync('scripts/with-pg.sh', [process.execPath, ...process.argv.slice(1)], { stdio: 'inherit' });
  process.exit(again.status ?? 1);
}
const testScript = JSON.parse(readFileSync('package.json', 'utf8')).scripts.test;
const excludes = [...testScript.matchAll(/--exclude\s+(\S+)/g)].flatMap((m) => ['--exclude', m[1]]);
if (opts.build) {
  console.log('soak: building once (npm run build) …');
  const b = spawnSync('npm', ['run', 'build'], { stdio: 'inherit' });
  if (b.status !== 0) {
    console.error('soak: the build failed; nothing was run');
    process.exit(1);
  }
}

const dir = mkdtempSync(join(tmpdir(), 'fastgpu-soak-'));
const hogs = startHogs(opts.hogs);
const onSignal = () => {
  void hogs.stop().then(() => process.exit(130));
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

const results = [];
try {
  console.log(`soak: ${opts.runs} run(s) of ${opts.filters.length ? opts.filters.join(' ') : 'the whole suite'} beside ${hogs.what}`);
  for (let i = 1; i <= opts.runs; i++) {
    const json = join(dir, `run-${i}.json`);
    const t0 = Date.now();
    const code = await npx(['vitest', 'run', '--reporter=dot', '--reporter=json', `--outputFile.json=${json}`, ...excludes, ...opts.filters]);
    const seconds = Math.round((Date.now() - t0) / 1000);
    let r;
    try {
      r = JSON.parse(readFileSync(json, 'utf8'));
    } catch {
      r = null;
    }
    const failedNames = r
      ? r.testResults.flatMap((f) => [
          ...(f.status === 'failed' && f.assertionResults.length === 0 ? [`${f.name}: ${String(f.message ?? 'failed to run').split('\n')[0]}`] : []),
          ...f.assertionResults.filter((a) => a.status === 'failed').map((a) => `${f.name.replace(`${process.cwd()}/`, '')} > ${a.fullName}`),
        ])
      : [`vitest exited ${code} without a report`];
    const run = { run: i, tests: r?.numTotalTests ?? 0, failures: failedNames.length, exit: code, seconds, failedNames };
    results.push(run);
    console.log(`soak: run ${i}/${opts.runs}: ${run.tests} tests, ${run.failures} failure(s), exit ${code}, ${seconds} s`);
    for (const n of failedNames) console.log(`soak:   FAILED ${n}`);
  }
} finally {
  await hogs.stop();
  rmSync(dir, { recursive: true, force: true });
}

const tests = results.reduce((a, r) => a + r.tests, 0);
const failures = results.reduce((a, r) => a + r.failures, 0);
const bad = results.filter((r) => r.failures > 0 || r.exit !== 0).length;
console.log('');
console.log('run  tests  failures  exit  seconds');
for (const r of results) console.log(`${String(r.run).padStart(3)}  ${String(r.tests).padStart(5)}  ${String(r.failures).padStart(8)}  ${String(r.exit).padStart(4)}  ${String(r.seconds).padStart(7)}`);
console.log(`soak: runs ${results.length}, tests ${tests}, failures ${failures} (${bad} run(s) not clean) beside ${hogs.what}`);
process.exit(bad === 0 ? 0 : 1);
