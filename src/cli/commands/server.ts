// `fastgpu server`: the API, store and control loop alone; agents join it with `fastgpu agent`.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import type { ServerOptions } from '../../server/main.js';
import { describeStore } from '../../store/select.js';
import { contextOf, type CliContext } from '../context.js';
import { addAutoscaleFlags, compileServerFlags, daemonAction, DEFAULT_TIME_LIMIT_HELP, listenError, logSink, untilInterrupted, type RawServerFlags, type ServerFlags } from '../daemon.js';
import { cliCommand } from '../invocation.js';
import { storeFlag } from '../store-flag.js';
import { addTlsFlags, tlsBanner, tlsFromFlags } from '../tls-flags.js';
import { addPlacementFlags, placementFlags, type RawPlacementFlags } from '../placement-flags.js';

/** How long a clean shutdown may take before the process exits anyway. */
const SHUTDOWN_GRACE_MS = 10_000;

export function register(program: Command): void {
  addPlacementFlags(addTlsFlags(addAutoscaleFlags(program.command('server'))))
    .description('run the FastGPU server alone (API, store, scheduler); agents join with `fastgpu agent`')
    .option('--data-dir <dir>', 'where the database and admin token live (default: $FASTGPU_HOME/data)')
    .option('--store <url>', 'the database: postgres://USER@HOST[:PORT]/DB for several servers, or sqlite:PATH (default: $FASTGPU_STORE, else SQLite in the data dir)')
    .option('--port <n>', 'port to listen on; 0 picks a free one (default 7070)')
    .option('--host <host>', 'address to listen on (default 127.0.0.1; 0.0.0.0 for agents on other machines)')
    .option('-q, --quiet', 'no log lines on stderr')
    .option('--samples-raw <duration>', 'keep raw GPU utilisation samples this long (default 24h)')
    .option('--samples-minute <duration>', 'keep per-minute utilisation rollups this long (default 7d)')
    .option('--samples-hour <duration>', 'keep per-hour utilisation rollups this long (default 400d)')
    .option('--logs-retention <duration>', 'delete the logs of tasks that finished longer ago than this, e.g. 90d (default: keep logs forever)')
    .option('--default-time-limit <duration>', DEFAULT_TIME_LIMIT_HELP)
    .addOption(new Option('--node-lost-after <duration>', 'mark a node LOST after this long without a heartbeat').hideHelp())
    .action(
      daemonAction(async (raw: RawServerFlags & RawPlacementFlags & { store?: string }, cmd: Command) => {
        const ctx = contextOf(cmd);
        // Listen for Ctrl-C/SIGTERM before anything starts, so that a signal sent the moment the
        // banner appears (or during startup) stops the daemon cleanly instead of killing it.
        const interrupted = untilInterrupted(ctx);
        const flags = compileServerFlags(raw, ctx);
        const store = storeFlag(raw.store, ctx);
        const placement = placementFlags(raw);
        mkdirSync(flags.dataDir, { recursive: true, mode: 0o700 });
        const tls = await tlsFromFlags(raw, flags.dataDir);
        const { startServer } = await import('../../server/main.js');
        const server = await startServer({ ...serverOptions(flags, ctx, ''), ...placement, ...(store ? { store } : {}), ...(tls ? { tls } : {}) }).catch((e: unknown) => {
          throw listenError(e, flags.host, flags.port);
        });
        const tokenFile = join(flags.dataDir, 'admin.token');
        ctx.stdout.write(
          [
            `FastGPU server listening at ${server.url}`,
            `  data dir ${flags.dataDir}; admin token in ${tokenFile}`,
            ...(store ? [`  store ${describeStore(store)}`] : []),
            ...tlsBanner(tls),
            `  join an agent: ${cliCommand(ctx.env, ctx.cwd)} agent --server ${server.url} --join-token "$(${cliCommand(ctx.env, ctx.cwd)} admin join-token create -q)"${tls ? ` --ca ${tls.certFile}` : ''}`,
            `  use the CLI:   export FASTGPU_URL=${server.url} FASTGPU_TOKEN="$(cat ${tokenFile})"`,
            '',
          ].join('\n'),
        );
        const signal = await interrupted;
        ctx.stdout.write(`fastgpu: ${signal}: stopping the server\n`);
        await shutdown(ctx, () => server.close());
      }),
    );
}

export function serverOptions(flags: ServerFlags, ctx: CliContext, prefix: string): ServerOptions {
  return {
    dataDir: flags.dataDir,
    host: flags.host,
    port: flags.port,
    ...(flags.nodeLostAfterMs !== undefined ? { nodeLostAfterMs: flags.nodeLostAfterMs } : {}),
    ...(flags.sampleRetention !== undefined ? { sampleRetention: flags.sampleRetention } : {}),
    ...(flags.logsRetentionMs !== undefined ? { logsRetentionMs: flags.logsRetentionMs } : {}),
    ...(flags.autoscale !== undefined ? { autoscale: flags.autoscale } : {}),
    ...(flags.defaultTimeLimitMs !== undefined ? { defaultTimeLimitMs: flags.defaultTimeLimitMs } : {}),
    log: logSink(ctx, flags.quiet, prefix),
  };
}

/**
 * Runs `close`; a second Ctrl-C, or a close that hangs, ends the process at once. Timers and
 * sockets a part forgot to close must not keep a stopped daemon alive either.
 */
export async function shutdown(ctx: CliContext, close: () => Promise<void>): Promise<void> {
  const off = ctx.onInterrupt(() => process.exit(130));
  const force = setTimeout(() => {
    ctx.stderr.write('fastgpu: shutdown is taking too long; exiting\n');
    process.exit(1);
  }, SHUTDOWN_GRACE_MS);
  force.unref();
  try {
    await close();
  } finally {
    clearTimeout(force);
    off();
  }
  // Exit once main has returned, even if something left a handle open.
  setTimeout(() => process.exit(ctx.exitCode), 1_000).unref();
}
