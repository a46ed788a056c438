// Datasets benchmark (issue 16): a folder of typical training files (BENCH_DATA_MIB, default
// 1024: 90 % incompressible 16 MiB shards as tensors, JPEG packs or parquet are, 10 % CSV text),
// pushed to a real server on loopback (TS SDK) and staged into a node cache (agent/cache.ts, the
// chunks fetched through the agent route), timed beside a raw `cp -r` of the same folder on the
// same disk. Then the warm cases: a second push (nothing to upload) and a second stage (nothing
// to download). The server runs as its own process (`bin/fastgpu server`: run `npm run build`
// first), as it does for users. `npm run bench:data`; prints a table, with the CPU seconds each
// cold step used (this process and the server's) beside its wall time: on a loaded machine the
// wall time mostly measures the load. BENCH_NODE_ARGS passes node flags to the server (e.g.
// `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile it).
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { NodeCache } from '../src/agent/cache.js';
import { FastGPU } from '../src/sdk/client.js';
import { readFileSync } from 'node:fs';
import { httpDataSource } from '../src/agent/staging-http.js';
import { randomBytes } from 'node:crypto';

const MiB = 1024 * 1024;

async function writeFile(path: string, bytes: number, text: boolean): Promise<void> {
  const out = createWriteStream(path);
  const line = 'id,label,split,width,height,path\n';
  for (let left = bytes; left > 0; ) {
    const n = Math.min(left, MiB);
    const piece = text ? Buffer.from(Array.from({ length: Math.ceil(n / 40) }, (_, i) => `${i},${i % 1000},train,224,224,img/${i}.jpg\n`).join('') || line).subarray(0, n) : randomBytes(n);
    if (!out.write(piece)) await once(out, 'drain');
    left -= n;
  }
  out.end();
  await once(out, 'finish');
}

async function makeFolder(dir: string, totalMiB: number): Promise<number> {
  mkdirSync(join(dir, 'shards'), { recursive: true });
  mkdirSync(join(dir, 'meta'), { recursive: true });
  let bytes = 0;
  const shards = Math.max(1, Math.round((totalMiB * 0.9) / 16));
  for (let i = 0; i < shards; i++) {
    await writeFile(join(dir, 'shards', `train-${String(i).padStart(5, '0')}.bin`), 16 * MiB, false);
    bytes += 16 * MiB;
  }
  const csv = Math.max(1, Math.round(totalMiB * 0.1));
  for (let i = 0; i < csv; i++) {
    await writeFile(join(dir, 'meta', `labels-${i}.csv`), MiB, true);
    bytes += MiB;
  }
  return bytes;
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const r = await fn();
  return [r, (performance.now() - t0) / 1000];
}

/** `cp -r`, and the CPU seconds (user + system) it used, from bash's `time`. */
async function cp(from: string, to: string): Promise<number> {
  const child = spawn('bash', ['-c', 'TIMEFORMAT="%U %S"; time cp -r "$0" "$1"', from, to], { stdio: ['ignore', 'inherit', 'pipe'] });
  let err = '';
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const [code] = (await once(child, 'exit')) as [number];
  if (code !== 0) throw new Error(`cp exited ${code}: ${err}`);
  const [u, s] = err.trim().split(/\s+/).slice(-2).map(Number);
  return (u ?? 0) + (s ?? 0);
}

/**
 * CPU seconds (user + system) of this process and of the server process: a number the shared
 * machine's load does not inflate the way it inflates wall time.
 */
function cpuSeconds(serverPid: number): number {
  const self = process.cpuUsage();
  // /proc/<pid>/stat fields 14 and 15: utime and stime in clock ticks (100 a second on Linux).
  const fields = readFileSync(`/proc/${serverPid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (self.user + self.system) / 1e6 + (Number(fields[11]) + Number(fields[12])) / 100;
}

/** `fastgpu server` in a child process: its URL (from its log line) and admin token. */
async function serverProcess(dataDir: string): Promise<{ url: string; adminToken: string; pid: number; close: () => Promise<void> }> {
  const child = spawn(process.execPath, [...(process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(' ') : []), join(import.meta.dirname, '..', 'bin', 'fastgpu'), 'server', '--data-dir', dataDir, '--port', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr.on('data', (b: Buffer) => {
      log += b.toString();
      const m = /listening on (http:\/\/\S+)/.exec(log);
      if (m) resolve(m[1]!);
    });
    child.on('exit', (code) => reject(new Error(`fastgpu server exited ${code}: ${log}`)));
  });
  child.stderr.resume();
  return {
    url,
    pid: child.pid!,
    adminToken: readFileSync(join(dataDir, 'admin.token'), 'utf8').trim(),
    close: async () => {
      child.kill('SIGTERM');
      if (child.exitCode === null) await once(child, 'exit');
    },
  };
}

async function main(): Promise<void> {
  const totalMiB = Number(process.env.BENCH_DATA_MIB ?? 1024);
  const root = mkdtempSync(join(tmpdir(), 'fastgpu-bench-data-'));
  const server = await serverProcess(join(root, 'server'));
  try {
    const src = join(root, 'src');
    const bytes = await makeFolder(src, totalMiB);
    const gib = bytes / 2 ** 30;
    const [cpCpu, cpS] = await timed(() => cp(src, join(root, 'cp-copy')));
    rmSync(join(root, 'cp-copy'), { recursive: true, force: true });

    const fg = new FastGPU({ url: server.url, token: server.adminToken, env: {}, requestTimeoutMs: 600_000 });
    let cpu0 = cpuSeconds(server.pid);
    const [pushed, pushS] = await timed(() => fg.datasets.push(src, 'bench'));
    const pushCpu = cpuSeconds(server.pid) - cpu0;
    const [again, pushWarmS] = await timed(() => fg.datasets.push(src, 'bench'));
    const manifest = (await fg.datasets.get(`bench@${pushed.version}`)).manifest;

    // The agent's own chunk reader (agent/staging-http.ts), as a task's staging uses it.
    const fetchChunk = httpDataSource({ serverUrl: server.url, token: server.adminToken }).chunks('default');
    const cache = await NodeCache.open({ dir: join(root, 'node-cache'), capBytes: 4 * bytes, fetch: fetchChunk });
    cpu0 = cpuSeconds(server.pid);
    const [cold, stageS] = await timed(() => cache.stage(manifest, join(root, 'task1', 'data')));
    const stageCpu = cpuSeconds(server.pid) - cpu0;
    const [warm, stageWarmS] = await timed(() => cache.stage(manifest, join(root, 'task2', 'data')));
    const stats = cache.snapshot();

    const mibs = (s: number): string => `${(bytes / MiB / s).toFixed(0)} MiB/s`;
    const cpuCol = (s: number): string => `${s.toFixed(2)} s`;
    const rows: [string, string, string, string, string][] = [
      ['raw `cp -r` of the folder', `${cpS.toFixed(2)} s`, mibs(cpS), cpuCol(cpCpu), 'baseline'],
      [`push, cold (${pushed.uploadedChunks} chunks, ${(pushed.sentBytes / MiB).toFixed(0)} MiB on the wire)`, `${pushS.toFixed(2)} s`, mibs(pushS), cpuCol(pushCpu), ''],
      [`stage, cold (${cold.fetchedChunks} chunks fetched, checked, linked)`, `${stageS.toFixed(2)} s`, mibs(stageS), cpuCol(stageCpu), ''],
      [
        'push + stage, cold',
        `${(pushS + stageS).toFixed(2)} s`,
        mibs(pushS + stageS),
        cpuCol(pushCpu + stageCpu),
        `${((100 * cpS) / (pushS + stageS)).toFixed(0)} % of cp's speed (target ≥ 70 %)`,
      ],
      [`push again, warm (${again.uploadedChunks} chunks uploaded)`, `${pushWarmS.toFixed(2)} s`, '', '', ''],
      [`stage again, warm (${warm.fetchedBytes} bytes fetched)`, `${stageWarmS.toFixed(2)} s`, '', '', `target ≤ 1 s: ${stageWarmS <= 1 ? 'met' : 'NOT met'}`],
    ];
    console.log(`\nDatasets on loopback: ${gib.toFixed(2)} GiB in ${manifest.files.length} files (${(bytes * 0.9) / MiB} MiB random shards, rest CSV); cache hit ratio after the warm stage ${(stats.hits / (stats.hits + stats.misses)).toFixed(2)}\n`);
    console.log('| step | time | rate | CPU (client + server) | note |\n| --- | --- | --- | --- | --- |');
    for (const r of rows) console.log(`| ${r.join(' | ')} |`);
    // The throughput table first: the agent part below is the slow one on a loaded machine.
    if (process.env.BENCH_DATA_AGENT === '0') return;
    // Task start delay (submit → process started) through a real agent: no input, then the same
    // 1 GiB input cold (the agent's own cache is empty), then again cached.
    const agent = spawn(process.execPath, [join(import.meta.dirname, '..', 'bin', 'fastgpu'), 'agent', '--server', server.url, '--token', server.adminToken, '--gpus', '1xH100', '--name', 'bench', '--state-dir', join(root, 'agent'), '--quiet'], { stdio: 'ignore' });
    try {
      const delay = async (spec: Parameters<typeof fg.tasks.submit>[0]): Promise<number> => {
        const t = await fg.tasks.submit(spec);
        for (;;) {
          const now = await fg.tasks.get(t.id);
          if (now.state === 'SUCCEEDED' && now.startedAt && now.createdAt) return (Date.parse(now.startedAt) - Date.parse(now.createdAt)) / 1000;
          if (['FAILED', 'CANCELLED', 'TIMEOUT'].includes(now.state)) throw new Error(`bench task ${t.id} ended ${now.state}: ${now.reasonMessage ?? ''}`);
          await new Promise((r) => setTimeout(r, 20));
        }
      };
      const inputs = [{ dataset: `bench@${pushed.version}`, path: 'data' }];
      await delay({ command: 'true' }); // the agent registers and takes its first task: not counted
      const none = await delay({ command: 'true' });
      const coldStart = await delay({ command: 'true', inputs });
      const cached = await delay({ command: 'true', inputs });
      const startRows: [string, string, string][] = [
        ['no input (submit → started)', `${none.toFixed(2)} s`, 'through a real agent'],
        [`${gib.toFixed(2)} GiB input, cold on the node`, `${coldStart.toFixed(2)} s`, 'staged: downloaded into the agent’s cache'],
        [`${gib.toFixed(2)} GiB input, cached on the node`, `${cached.toFixed(2)} s`, `+${(cached - none).toFixed(2)} s vs none (target ≤ 1 s: ${cached - none <= 1 ? 'met' : 'NOT met'})`],
      ];
      console.log('\n| task start | time | note |\n| --- | --- | --- |');
      for (const r of startRows) console.log(`| ${r.join(' | ')} |`);
    } finally {
      agent.kill('SIGTERM');
      if (agent.exitCode === null) await once(agent, 'exit');
    }
  } finally {
    await server.close();
    // Staged inputs are read-only folders: make them writable again to delete them.
    await new Promise((r) => spawn('chmod', ['-R', 'u+w', root]).on('exit', r));
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
