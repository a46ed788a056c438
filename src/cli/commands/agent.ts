// `fastgpu agent`: a node's agent joining a server. Real GPUs when nvidia-smi finds some,
// unless --gpus declares simulated ones.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { fastgpuHome, normaliseUrl } from '../../sdk/config.js';
import { contextOf } from '../context.js';
import { daemonAction, gpuBanner, gpusFlag, logSink, nodeSizeFlags, nonEmpty, SHARING_HELP, sharingFlag, untilInterrupted } from '../daemon.js';
import { sizeFlag, UsageError } from '../flags.js';
import { shutdown } from './server.js';

interface RawAgentFlags {
  server?: string;
  token?: string;
  tokenFile?: string;
  runAs?: string;
  gpus?: string;
  name?: string;
  stateDir?: string;
  quiet?: boolean;
  ephemeral?: boolean;
  cpus?: string;
  memory?: string;
  cacheSize?: string;
  sharing?: string;
  joinToken?: string;
  ca?: string;
}

/** An ephemeral node's tasks get this long after SIGTERM: Slurm's default KillWait is 30 s. */
const EPHEMERAL_GRACE_MS = 10_000;

export function register(program: Command): void {
  program
    .command('agent')
    .description("run a node's agent: it joins the server and runs the tasks placed on this machine")
    .option('--server <url>', 'server address (default: $FASTGPU_URL)')
    .option('--token <token>', 'token to join with (default: $FASTGPU_TOKEN); prefer --token-file or the variable: it is scrubbed from the command line, but only once the agent starts')
    .option('--token-file <path>', 'read the token from this file (keep it 0600)')
    .option('--join-token <token>', 'join with a one-time join token (fastgpu admin join-token create; default: $FASTGPU_JOIN_TOKEN): traded for a node credential kept in the state dir, so a restart needs no token')
    .option('--ca <file>', 'trust this CA certificate (PEM) for an https server, e.g. the self-signed one `fastgpu up --tls-self-signed` printed')
    .option('--run-as <user>', 'who tasks run as: USER (a name or uid; the agent must be root), per-task (a uid of its own per task: the default of a root agent), or root (opt out: as the agent) (default: $FASTGPU_RUN_AS)')
    .option('--gpus <spec>', 'simulated GPUs instead of discovered ones, e.g. 4xH100')
    .option('--cpus <n>', 'CPU cores the node offers tasks (default: what this machine has), e.g. 8 or 500m')
    .option('--memory <size>', 'host RAM the node offers tasks, with its unit (default: what this machine has), e.g. 16GiB')
    .option('--cache-size <size>', "the node's dataset cache cap, e.g. 200GiB (default 20GiB): least recently used datasets not in use by a task are evicted to stay under it")
    .option('--name <name>', 'node name (default: the host name)')
    .option('--state-dir <dir>', "where this agent keeps its tasks' state (default: $FASTGPU_HOME/agent)")
    .option('--sharing <mode>', SHARING_HELP)
    .option('--ephemeral', 'the node goes away when the agent stops (an autoscaler lent it): stop its tasks on SIGTERM/SIGINT, SIGKILL 10 s later, so none outlives the node')
    .option('-q, --quiet', 'no log lines on stderr')
    .action(
      daemonAction(async (raw: RawAgentFlags, cmd: Command) => {
        const ctx = contextOf(cmd);
        // Listen for Ctrl-C/SIGTERM before anything starts, so that a signal sent the moment the
        // banner appears (or during startup) stops the daemon cleanly instead of killing it.
        const interrupted = untilInterrupted(ctx);
        const url = raw.server ?? ctx.env.FASTGPU_URL;
        let token = raw.token ?? ctx.env.FASTGPU_TOKEN;
        if (raw.tokenFile !== undefined) {
          try {
            token = readFileSync(raw.tokenFile, 'utf8');
          } catch (e) {
            throw new UsageError(`--token-file: cannot read ${raw.tokenFile}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
          }
        }
        // The token must not show in `ps`: the process title replaces the command line.
        if (raw.token !== undefined) process.title = 'fastgpu agent';
        if (url === undefined || url.trim() === '') throw new UsageError('agent: --server is required (or set FASTGPU_URL)');
        const joinToken = (raw.joinToken ?? ctx.env.FASTGPU_JOIN_TOKEN)?.trim() || undefined;
        if (raw.joinToken !== undefined) process.title = 'fastgpu agent';
        if (joinToken !== undefined && raw.token === undefined && raw.tokenFile === undefined) token = undefined;
        if (joinToken !== undefined && token !== undefined) throw new UsageError('agent: give --join-token or --token, not both');
        let serverUrl: string;
        try {
          serverUrl = normaliseUrl(url);
        } catch {
          throw new UsageError(`--server: ${JSON.stringify(url)} is not an http(s) URL`);
        }
        const gpus = gpusFlag(raw.gpus);
        const size = nodeSizeFlags(raw);
        const cacheMiB = raw.cacheSize !== undefined ? sizeFlag(raw.cacheSize, '--cache-size') : undefined;
        const sharing = sharingFlag(raw.sharing);
        const name = raw.name === undefined ? undefined : nonEmpty(raw.name, '--name');
        const stateDir = raw.stateDir !== undefined ? nonEmpty(raw.stateDir, '--state-dir') : join(fastgpuHome(ctx.env), 'agent');

        const { startAgent } = await import('../../agent/main.js');
        const agent = await startAgent({
          serverUrl,
          ...(token !== undefined && token.trim() !== '' ? { token: token.trim() } : {}),
          ...(joinToken !== undefined ? { joinToken } : {}),
          ...(raw.ca !== undefined ? { ca: nonEmpty(raw.ca, '--ca') } : {}),
          stateDir,
          ...(gpus !== undefined ? { gpus } : {}),
          ...(name !== undefined ? { name } : {}),
          ...size,
          ...(cacheMiB !== undefined ? { cacheBytes: cacheMiB * 1024 * 1024 } : {}),
          ...(raw.ephemeral === true ? { ephemeral: true } : {}),
          ...(sharing !== undefined ? { sharing } : {}),
          ...(raw.runAs !== undefined ? { runAs: nonEmpty(raw.runAs, '--run-as') } : {}),
          log: logSink(ctx, raw.quiet === true, ''),
        });
        ctx.stdout.write(`FastGPU agent joined ${serverUrl} as node ${agent.nodeId}\n  ${gpuBanner(agent, gpus, ctx.env)}\n  state dir ${stateDir}\n`);
        const signal = await interrupted;
        if (raw.ephemeral === true) {
          ctx.stdout.write(`fastgpu: ${signal}: stopping the agent and its tasks (an ephemeral node)\n`);
          const n = await agent.stopTasks(EPHEMERAL_GRACE_MS);
          ctx.stdout.write(`fastgpu: stopped ${n} task(s)\n`);
        } else {
          ctx.stdout.write(`fastgpu: ${signal}: stopping the agent (running tasks keep going)\n`);
        }
        await shutdown(ctx, () => agent.stop());
      }),
    );
}
