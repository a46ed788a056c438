// `fastgpu up`: the server and a local agent in one process, until Ctrl-C. Saves the address
// and token in $FASTGPU_HOME/config.json so every other command finds them.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { writeConfig } from '../../sdk/config.js';
import { contextOf } from '../context.js';
import { cliCommand } from '../invocation.js';
import {
  compileServerFlags,
  daemonAction,
  gpuBanner,
  gpusFlag,
  listenError,
  logSink,
  nodeSizeFlags,
  DEFAULT_TIME_LIMIT_HELP,
  nonEmpty,
  SHARING_HELP,
  sharingFlag,
  untilInterrupted,
  type RawServerFlags,
} from '../daemon.js';
import { addAutoscaleFlags } from '../daemon.js';
import { addTlsFlags, tlsBanner, tlsFromFlags } from '../tls-flags.js';
import { addPlacementFlags, placementFlags, type RawPlacementFlags } from '../placement-flags.js';
import { serverOptions, shutdown } from './server.js';

export function register(program: Command): void {
  addPlacementFlags(addTlsFlags(addAutoscaleFlags(program.command('up'))))
    .description('start FastGPU on this machine: server, store and a local agent (Ctrl-C stops; tasks keep running)')
    .option('--data-dir <dir>', 'where the database, token and task state live (default: $FASTGPU_HOME/data)')
    .option('--port <n>', 'port to listen on; 0 picks a free one (default 7070)')
    .option('--host <host>', 'address to listen on (default 127.0.0.1)')
    .option('--gpus <spec>', 'simulated GPUs instead of discovered ones, e.g. 1xH100 or 2xA100-40GB,1xT4')
    .option('--cpus <n>', 'CPU cores the node offers tasks (default: what this machine has), e.g. 8 or 500m')
    .option('--memory <size>', 'host RAM the node offers tasks, with its unit (default: what this machine has), e.g. 16GiB')
    .option('--name <name>', 'name of the local node (default: the host name)')
    .option('--sharing <mode>', SHARING_HELP)
    .option('-q, --quiet', 'no server and agent log lines on stderr')
    .option('--samples-raw <duration>', 'keep raw GPU utilisation samples this long (default 24h)')
    .option('--samples-minute <duration>', 'keep per-minute utilisation rollups this long (default 7d)')
    .option('--samples-hour <duration>', 'keep per-hour utilisation rollups this long (default 400d)')
    .option('--logs-retention <duration>', 'delete the logs of tasks that finished longer ago than this, e.g. 90d (default: keep logs forever)')
    .option('--default-time-limit <duration>', DEFAULT_TIME_LIMIT_HELP)
    .addOption(new Option('--node-lost-after <duration>', 'mark a node LOST after this long without a heartbeat').hideHelp())
    .action(
      daemonAction(async (raw: RawServerFlags & RawPlacementFlags & { gpus?: string; name?: string; cpus?: string; memory?: string; sharing?: string }, cmd: Command) => {
        const ctx = contextOf(cmd);
        // Listen for Ctrl-C/SIGTERM before anything starts, so that a signal sent the moment the
        // banner appears (or during startup) stops the daemon cleanly instead of killing it.
        const interrupted = untilInterrupted(ctx);
        const flags = compileServerFlags(raw, ctx);
        const gpus = gpusFlag(raw.gpus);
        const size = nodeSizeFlags(raw);
        const sharing = sharingFlag(raw.sharing);
        const placement = placementFlags(raw);
        const name = raw.name === undefined ? undefined : nonEmpty(raw.name, '--name');
        mkdirSync(flags.dataDir, { recursive: true, mode: 0o700 });

        const tls = await tlsFromFlags(raw, flags.dataDir);
        const { startServer } = await import('../../server/main.js');
        const { startAgent } = await import('../../agent/main.js');
        const server = await startServer({ ...serverOptions(flags, ctx, 'server: '), ...placement, ...(tls ? { tls } : {}) }).catch((e: unknown) => {
          throw listenError(e, flags.host, flags.port);
        });
        let agent;
        try {
          agent = await startAgent({
            serverUrl: server.url,
            token: server.adminToken,
            ...(tls ? { ca: tls.certFile } : {}),
            stateDir: join(flags.dataDir, 'agent'),
            ...(gpus !== undefined ? { gpus } : {}),
            ...(name !== undefined ? { name } : {}),
            ...size,
            ...(sharing !== undefined ? { sharing } : {}),
            log: logSink(ctx, flags.quiet, 'agent: '),
          });
        } catch (e) {
          await server.close();
          throw e;
        }
        const saved = writeConfig({ url: server.url, token: server.adminToken, ...(tls ? { ca: tls.certFile } : {}) }, ctx.env);
        const fastgpu = cliCommand(ctx.env, ctx.cwd);
        ctx.stdout.write(
          [
            `FastGPU is up at ${server.url}`,
            `  dashboard: ${server.loginUrl}  (one-time login link, valid 10 minutes; \`fastgpu dashboard\` prints a fresh one)`,
            `  ${gpuBanner(agent, gpus, ctx.env)}`,
            `  data dir ${flags.dataDir}`,
            ...tlsBanner(tls),
            `  address and token saved to ${saved} (the CLI and SDK read it)`,
            '',
            'Try:',
            agent.simulated
              ? `  ${fastgpu} run --gpu 0.5 -- sh -c 'echo "GPU $CUDA_VISIBLE_DEVICES, $FASTGPU_GPU_MILLI milli-GPU"'`
              : `  ${fastgpu} run --gpu 0.5 -- nvidia-smi -L`,
            `  ${fastgpu} ps`,
            `  ${fastgpu} gpus`,
            '',
            'Ctrl-C stops FastGPU; running tasks keep going and are picked up again by the next `fastgpu up`.',
            '',
          ].join('\n'),
        );
        const signal = await interrupted;
        ctx.stdout.write(`\nfastgpu: ${signal}: stopping (running tasks keep going)\n`);
        await shutdown(ctx, async () => {
          await agent.stop();
          await server.close();
        });
      }),
    );
}
