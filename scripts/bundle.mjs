// Builds one self-contained FastGPU: the CLI (server, agent and every command) bundled by
// esbuild into one file, the native SQLite module (and HiGHS's wasm if the code imports it), the dashboard's
// built assets and this machine's Node.js binary, in one compressed tarball. A machine with no
// Node.js and no network (the GPU device: bench/gpu/run.sh) unpacks it and runs
// `fastgpu/bin/fastgpu`.
//
//   node scripts/bundle.mjs [--out build/fastgpu-bundle.tar.xz] [--level 0-9] [--stage DIR]
//
// Layout inside the tarball (paths the code finds relative to its own file):
//   fastgpu/bin/node, fastgpu/bin/fastgpu (sh wrapper)
//   fastgpu/package.json                      (agent version: ../../package.json of the bundle)
//   fastgpu/lib/app/fastgpu.mjs               (the bundle)
//   fastgpu/lib/app/supervisor.sh             (launcher: ./supervisor.sh)
//   fastgpu/lib/app/migrations/*.sql          (store: ./migrations/)
//   fastgpu/lib/web/                          (dashboard: ../web)
//   fastgpu/node_modules/{better-sqlite3,bindings,file-uri-to-path}  (native; + highs when imported)
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function parseArgs(argv) {
  const opts = { out: join(root, 'build', 'fastgpu-bundle.tar.xz'), level: 9, stage: join(root, 'build', 'bundle-stage') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--out') opts.out = resolve(value());
    else if (a === '--stage') opts.stage = resolve(value());
    else if (a === '--level') {
      const v = value();
      if (!/^[0-9]$/.test(v)) throw new Error(`--level must be 0 to 9, got ${JSON.stringify(v)}`);
      opts.level = Number(v);
    } else throw new Error(`unknown option ${JSON.stringify(a)} (known: --out, --level, --stage)`);
  }
  return opts;
}

/** Copies only the files a package needs at run time (keeps the tarball small). */
function copyPackage(name, files, app) {
  const from = join(root, 'node_modules', name);
  const to = join(app, 'node_modules', name);
  for (const f of ['package.json', ...files]) {
    const src = join(from, f);
    if (!existsSync(src)) throw new Error(`bundle: ${relative(root, src)} is missing; run \`npm install\` first`);
    mkdirSync(dirname(join(to, f)), { recursive: true });
    cpSync(src, join(to, f), { recursive: true });
  }
}

function dirBytes(dir) {
  let n = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    n += st.isDirectory() ? dirBytes(p) : st.size;
  }
  return n;
}

export async function bundle(opts) {
  const t0 = Date.now();
  const web = join(root, 'dist', 'web');
  if (!existsSync(join(web, 'index.html'))) throw new Error('bundle: dist/web/index.html is missing; run `npm run build` first');

  rmSync(opts.stage, { recursive: true, force: true });
  const app = join(opts.stage, 'fastgpu');
  const lib = join(app, 'lib', 'app');
  mkdirSync(lib, { recursive: true });
  mkdirSync(join(app, 'bin'), { recursive: true });

  const result = await build({
    stdin: {
      contents: "import { main } from './src/cli/main.ts';\nprocess.exitCode = await main(process.argv.slice(2));\n",
      resolveDir: root,
      sourcefile: 'fastgpu-entry.ts',
      loader: 'ts',
    },
    outfile: join(lib, 'fastgpu.mjs'),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    // Native and wasm modules load files beside themselves: they travel as packages instead.
    external: ['better-sqlite3', 'highs'],
    // CommonJS dependencies (fastify, pino…) call require() for Node built-ins.
    banner: { js: "import { createRequire as __fastgpuCreateRequire } from 'node:module';\nconst require = __fastgpuCreateRequire(import.meta.url);" },
    legalComments: 'none',
    minifySyntax: true,
    logLevel: 'warning',
    metafile: true,
  });
  if (result.errors.length > 0) throw new Error('bundle: esbuild failed');

  cpSync(join(root, 'src', 'agent', 'supervisor.sh'), join(lib, 'supervisor.sh'));
  chmodSync(join(lib, 'supervisor.sh'), 0o755);
  cpSync(join(root, 'src', 'store', 'sqlite', 'migrations'), join(lib, 'migrations'), { recursive: true });
  cpSync(web, join(app, 'lib', 'web'), { recursive: true });
  copyPackage('better-sqlite3', ['lib', 'build/Release/better_sqlite3.node'], app);
  copyPackage('bindings', ['bindings.js'], app);
  copyPackage('file-uri-to-path', ['index.js'], app);
  // HiGHS (wasm) only travels when the bundled code imports it (today only the benchmarks do).
  const imported = new Set(Object.values(result.metafile.outputs).flatMap((o) => o.imports.map((i) => i.path)));
  if (imported.has('highs')) copyPackage('highs', ['build/highs.mjs', 'build/highs.js', 'build/highs.wasm'], app);

  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'fastgpu-bundle', version: pkg.version, type: 'module', private: true }, null, 2) + '\n');
  cpSync(process.execPath, join(app, 'bin', 'node'));
  chmodSync(join(app, 'bin', 'node'), 0o755);
  // No Node.js on the target: the wrapper runs the bundled binary, from wherever it was unpacked.
  writeFileSync(
    join(app, 'bin', 'fastgpu'),
    '#!/bin/sh\n# FastGPU from a self-contained bundle (scripts/bundle.mjs).\nhere=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)\nexec "$here/node" "$here/../lib/app/fastgpu.mjs" "$@"\n',
  );
  chmodSync(join(app, 'bin', 'fastgpu'), 0o755);
  writeFileSync(
    join(app, 'BUNDLE.txt'),
    `FastGPU ${pkg.version}, bundled ${new Date().toISOString()}\nNode.js ${process.version} (${process.platform}-${process.arch})\nRun: fastgpu/bin/fastgpu up --help\n`,
  );
  const tBuilt = Date.now();

  mkdirSync(dirname(opts.out), { recursive: true });
  rmSync(opts.out, { force: true });
  // xz, not zstd: the device image surely has xz (and Python's lzma), maybe not zstd.
  execFileSync('sh', ['-c', `tar -C "$1" -cf - fastgpu | xz -T0 -${opts.level} > "$2"`, 'bundle', opts.stage, opts.out], { stdio: 'inherit' });
  const tDone = Date.now();
  const bytes = statSync(opts.out).size;
  return { out: opts.out, bytes, unpackedBytes: dirBytes(app), jsBytes: statSync(join(lib, 'fastgpu.mjs')).size, buildMs: tBuilt - t0, compressMs: tDone - tBuilt };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const r = await bundle(parseArgs(process.argv.slice(2)));
    const mib = (n) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
    process.stdout.write(
      `bundle: ${relative(process.cwd(), r.out)} ${mib(r.bytes)} (unpacked ${mib(r.unpackedBytes)}, JS ${mib(r.jsBytes)}); ` +
        `staged in ${(r.buildMs / 1000).toFixed(1)} s, compressed in ${(r.compressMs / 1000).toFixed(1)} s\n`,
    );
  } catch (e) {
    process.stderr.write(`bundle: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  }
}
