// The npm package (issues 20 and 22): `npm pack` ships no test code, and the tarball installed
// into an empty project runs `npx fastgpu up`, a task, the dashboard and `import 'fastgpu/sdk'`.
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Daemon, ROOT, requireBuild } from './harness.js';

const run = promisify(execFile);
let dir: string;

beforeAll(() => {
  requireBuild();
  dir = mkdtempSync(join(tmpdir(), 'fastgpu-package-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What `npm pack` would put in the tarball (dist/ as built by `npm run build`). */
async function packList(): Promise<string[]> {
  const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 });
  return (JSON.parse(stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
}

describe('the npm package', () => {
  it('ships no tests, test harnesses, fixtures or files that import vitest', async () => {
    const files = await packList();
    expect(files).toContain('bin/fastgpu');
    expect(files).toContain('dist/cli/main.js');
    expect(files).toContain('dist/sdk/index.js');
    expect(files).toContain('dist/sdk/index.d.ts');
    expect(files).toContain('dist/web/index.html');
    expect(files).toContain('data/openb/README.md');
    expect(files.filter((f) => /\.test\.|(^|\/)testing\.|conformance|\/fixtures\/|^test\/|^bench\/|^src\//.test(f))).toEqual([]);
    const importsVitest = files.filter((f) => /\.(js|mjs|cjs|ts)$/.test(f) && /from ['"]vitest['"]|require\(['"]vitest['"]\)/.test(readFileSync(join(ROOT, f), 'utf8')));
    expect(importsVitest).toEqual([]);
  });

  it('installs from the tarball into an empty project: npx fastgpu up, a task, the dashboard, the SDK', async () => {
    await run('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], { cwd: ROOT });
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const project = join(dir, 'project');
    const home = join(dir, 'home');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'first-hour', version: '1.0.0', private: true, type: 'module' }));
    // Dependencies come from the registry (or npm's cache). Install scripts are skipped: the one
    // that matters, better-sqlite3's, compiles SQLite from source here (no prebuilt binary can be
    // downloaded), about 6 minutes on 2 cores. The addon the repo's own install compiled from the
    // same version and for this same Node is copied in instead; the versions are checked.
    await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts', join(dir, `fastgpu-${version}.tgz`)], { cwd: project, maxBuffer: 64 * 1024 * 1024 });
    const sqlite = (root: string): string => join(root, 'node_modules', 'better-sqlite3');
    const versionOf = (p: string): string => (JSON.parse(readFileSync(join(p, 'package.json'), 'utf8')) as { version: string }).version;
    expect(versionOf(sqlite(project))).toBe(versionOf(sqlite(ROOT)));
    mkdirSync(join(sqlite(project), 'build', 'Release'), { recursive: true });
    copyFileSync(join(sqlite(ROOT), 'build', 'Release', 'better_sqlite3.node'), join(sqlite(project), 'build', 'Release', 'better_sqlite3.node'));

    const env = { PATH: process.env.PATH, HOME: home, FASTGPU_HOME: home };
    // Its own process group: Ctrl-C reaches fastgpu itself, not only npx (which does not pass it on).
    const up = new Daemon(spawn('npx', ['fastgpu', 'up', '--port', '0', '--gpus', '1xH100', '-q'], { cwd: project, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true }));
    try {
      const url = (await up.waitFor(/FastGPU is up at (http:\/\/\S+)/, 60_000))[1]!;
      await up.waitFor(/Ctrl-C stops/);
      // The banner's commands work where it was printed: in this project, through npx.
      expect(up.output).toMatch(/\n {2}npx fastgpu ps\n/);

      const task = await run('npx', ['fastgpu', 'run', '--', 'sh', '-c', 'echo hello from the package'], { cwd: project, env, timeout: 60_000 });
      expect(task.stdout).toBe('hello from the package\n');

      // The dashboard is built in.
      const page = await fetch(`${url}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toMatch(/<div id="app"|<script type="module"/);

      writeFileSync(
        join(project, 'sdk.mjs'),
        "import { FastGPU } from 'fastgpu/sdk';\nconst fg = new FastGPU();\nconst t = await fg.tasks.submit({ command: ['true'] });\nconsole.log((await fg.tasks.wait(t.id)).state, (await fg.nodes()).length);\n",
      );
      const sdk = await run(process.execPath, ['sdk.mjs'], { cwd: project, env, timeout: 60_000 });
      expect(sdk.stdout).toBe('SUCCEEDED 1\n');
    } finally {
      process.kill(-up.child.pid!, 'SIGINT');
      await up.exited;
      expect(up.output).toMatch(/SIGINT: stopping/);
    }
  }, 240_000);
});
