// Entry point of the agent (docs/CONTRACTS.md "Entry points"): discover the node, then run the
// agent loop against the server over HTTP. `fastgpu agent` and `fastgpu up` call startAgent.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { Clock, Gpu } from '../core/types.js';
import { systemClock, timerClock } from '../util/clock.js';
import { fetchTrusting, readCaFile } from '../util/tls.js';
import { CredentialRenewer, joinedCredential } from './join.js';
import { NODE_NAME_RE } from '../protocol/agent.js';
import { Agent } from './agent.js';
import { hostResources, resolveNodeGpus, sampleNvidiaGpus, type RealSharing } from './discovery.js';
import { HttpLink } from './http-link.js';
import { SupervisorLauncher, which } from './launcher.js';
import { compileRunAs, settleDefault, thisHost, untraversableAbove, type RunAs } from './task-user.js';
import { withStaging } from './staging.js';
import { OutputsLauncher } from './outputs.js';
import { httpOutputsLink } from './outputs-http.js';
import { FileNodeState } from './node-state.js';
import { mpsReport, startNodeMps, stopNodeMps } from './mps.js';

export interface AgentOptions {
  serverUrl: string;
  /** A shared agent (or admin) token; without it the agent joins (`joinToken`) or uses the credential it joined with. */
  token?: string;
  /** A join token (issue 11): traded once for a node credential kept in the state dir (agent/join.ts). */
  joinToken?: string;
  /** A PEM file of the CA (or the self-signed certificate) to trust for an https server. */
  ca?: string;
  /** Default os.hostname(). */
  name?: string;
  /** Survives agent restarts; tasks are re-attached from it. */
  stateDir: string;
  /** Simulated devices, e.g. "4xH100" or "2xA100-40GB,1xT4". */
  gpus?: string;
  /** Path of nvidia-smi, default "nvidia-smi" on PATH. */
  nvidiaSmi?: string;
  /** Default: what the machine has. */
  cpuMilli?: number;
  memoryMiB?: number;
  clock?: Clock;
  log?: (line: string) => void;
  /**
   * Who tasks run as (task-user.ts): a user, `per-task`, or `root` (the opt-out). Default
   * $FASTGPU_RUN_AS, else: a root agent runs each task as a uid of its own; any other agent runs
   * them as itself.
   */
  runAs?: string;
  /** How real GPUs are shared; default `mps` when an MPS control daemon runs, else `exclusive`. */
  sharing?: RealSharing;
  /** MPS pipe folder tasks connect to in `mps` mode; default `<stateDir>/mps/pipe`. */
  mpsPipeDir?: string;
  /** The MPS control program the agent runs in `mps` mode; default `nvidia-cuda-mps-control` on PATH. */
  mpsControl?: string;
  /** Extra node labels. */
  labels?: Record<string, string>;
  /** The node's dataset cache cap in bytes (issue 16; default staging.ts DEFAULT_CACHE_BYTES). */
  cacheBytes?: number;
  /** The node goes away when the agent stops (`--ephemeral`): see AgentConfig.ephemeral. */
  ephemeral?: boolean;
  /** Gives up starting (while it waits for the server) when aborted. */
  signal?: AbortSignal;
}

export interface RunningAgent {
  nodeId: string;
  gpus: Gpu[];
  simulated: boolean;
  /** Ends the agent; its tasks keep running and are re-attached by the next agent. */
  stop(): Promise<void>;
  /** Stops its tasks (SIGKILL after `graceMs`) and waits for them: for a node that goes away. */
  stopTasks(graceMs: number): Promise<number>;
}

function agentVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** Validates the options once, with messages that name the option. */
function compile(opts: AgentOptions): Omit<AgentOptions, 'runAs'> & { name: string; stateDir: string; runAs: RunAs } {
  const fail = (field: string, msg: string): never => {
    throw new Error(`agent option ${field}: ${msg}`);
  };
  // Several servers, comma-separated: the agent fails over among them (HttpLink).
  for (const one of opts.serverUrl.split(',')) {
    let url: URL | undefined;
    try {
      url = new URL(one.trim());
    } catch {
      fail('serverUrl', `${JSON.stringify(opts.serverUrl)} is not a URL (or a comma-separated list of them)`);
    }
    if (url && url.protocol !== 'http:' && url.protocol !== 'https:') fail('serverUrl', 'must be http(s)');
  }
  if (opts.token && opts.joinToken) fail('joinToken', 'give a join token or a shared agent token, not both');
  if (!opts.stateDir) fail('stateDir', 'is required');
  for (const f of ['cpuMilli', 'memoryMiB'] as const) {
    const v = opts[f];
    if (v !== undefined && (!Number.isInteger(v) || v <= 0)) fail(f, `must be a positive whole number, got ${v}`);
  }
  const asked = opts.runAs ?? process.env.FASTGPU_RUN_AS;
  const runAs = ((): RunAs => {
    try {
      return compileRunAs(asked, thisHost(which('setpriv')));
    } catch (e) {
      return fail('runAs', (e as Error).message);
    }
  })();
  const name = opts.name ?? hostname();
  if (!NODE_NAME_RE.test(name)) fail('name', `${JSON.stringify(name.slice(0, 40))} is not a valid node name: 1 to 128 characters from A-Z a-z 0-9 . _ -`);
  const stateDir = resolve(opts.stateDir);
  return { ...opts, name, stateDir, runAs: settleDefault(runAs, (asked ?? '').trim() !== '', untraversableAbove(join(stateDir, 'tasks'))) };
}

/**
 * Starts an agent: discovers GPUs, registers (waiting for the server if it is not up yet),
 * re-attaches tasks found in the state dir, and runs until `stop()`.
 * @example const agent = await startAgent({ serverUrl: 'http://127.0.0.1:7070', token, stateDir: '~/.fastgpu/data/agent', gpus: '1xH100' })
 */
export async function startAgent(options: AgentOptions): Promise<RunningAgent> {
  const opts = compile(options);
  const log = opts.log ?? (() => {});
  const clock = opts.clock ?? systemClock;
  const node = await resolveNodeGpus({
    nodeName: opts.name,
    ...(opts.gpus !== undefined ? { gpus: opts.gpus } : {}),
    ...(opts.nvidiaSmi !== undefined ? { nvidiaSmi: opts.nvidiaSmi } : {}),
    ...(opts.sharing !== undefined ? { sharing: opts.sharing } : {}),
  });
  log(`agent ${opts.name}: ${node.note}`);
  const host = hostResources();
  // Joining (issue 11): a node credential instead of a shared token, renewed before it expires.
  const tlsFetch = opts.ca !== undefined ? fetchTrusting(readCaFile(opts.ca)) : undefined;
  let renewer: CredentialRenewer | undefined;
  let joinLabels: Record<string, string> = {};
  if (!opts.token) {
    const joined = await joinedCredential({
      serverUrl: opts.serverUrl,
      stateDir: opts.stateDir,
      name: opts.name,
      agentVersion: agentVersion(),
      clock,
      log,
      ...(opts.joinToken !== undefined ? { joinToken: opts.joinToken } : {}),
      ...(tlsFetch ? { fetch: tlsFetch } : {}),
    });
    renewer = new CredentialRenewer(joined, { stateDir: opts.stateDir, clock: timerClock(clock), log, onRenewed: () => {}, ...(tlsFetch ? { fetch: tlsFetch } : {}) });
    renewer.start();
    joinLabels = joined.labels;
  }
  const bearer = renewer ? () => renewer.credential : (opts.token ?? '');
  // The node credential and the lease file live beside the attempts (0600; see node-state.ts).
  const nodeState = new FileNodeState(opts.stateDir);
  const launcher = new SupervisorLauncher({
    stateDir: opts.stateDir,
    leaseFile: nodeState.leaseFile,
    clock,
    log,
    ...(opts.mpsPipeDir !== undefined ? { mpsPipeDir: opts.mpsPipeDir } : {}),
    runAs: opts.runAs,
  });
  if (opts.runAs.kind !== 'agent') {
    const closed = untraversableAbove(opts.stateDir);
    if (closed !== undefined) log(`warning: tasks run as other users cannot reach their signal, result and metrics files: ${closed} is not traversable by others (chmod o+x ${closed}, or use a --state-dir under a traversable folder)`);
  } else if (opts.runAs.closedAt !== undefined) {
    log(`warning: tasks run as root, not as uids of their own: ${opts.runAs.closedAt} is not traversable by others, so such a task could not reach its signal, result and metrics files; give the agent a --state-dir under a traversable folder (e.g. /var/lib/fastgpu) to isolate tasks, or --run-as root to say this is wanted`);
  }
  if (opts.runAs.kind === 'per-task') log(`tasks run as unprivileged uids of their own (${opts.runAs.first}–${opts.runAs.last}); --run-as root runs them as root`);
  else if (opts.runAs.kind === 'user') log(`tasks run as ${opts.runAs.user} (uid ${opts.runAs.uid})`);
  else if (opts.runAs.optedOut) log('warning: tasks run as root (--run-as root): any task can read the admin token, the state dir and every other task');
  // MPS (mps.ts): real GPUs shared with `mps` get a control daemon the agent runs and watches.
  const mps = await startNodeMps(node.gpus, { stateDir: opts.stateDir, pipeDir: opts.mpsPipeDir, controlBin: opts.mpsControl, clock, log });
  // Data inputs (issue 16) are staged through the node cache before a task starts.
  const staged = await withStaging(launcher, { stateDir: opts.stateDir, serverUrl: opts.serverUrl, token: bearer, log, ...(tlsFetch ? { fetch: tlsFetch } : {}), ...(opts.cacheBytes !== undefined ? { capBytes: opts.cacheBytes } : {}) });
  // Task outputs (issue 16) are uploaded after a successful exit, as the agent of the attempt.
  let nodeId = (): string => '';
  const outputs = new OutputsLauncher({
    inner: staged,
    link: httpOutputsLink({ serverUrl: opts.serverUrl, token: bearer, credential: () => nodeState.readCredential(), ...(tlsFetch ? { fetch: tlsFetch } : {}) }),
    nodeId: () => nodeId(),
    stateDir: opts.stateDir,
    log,
  });
  const agent = new Agent({
    link: new HttpLink({ serverUrl: opts.serverUrl, token: bearer, ...(tlsFetch ? { fetch: tlsFetch } : {}) }),
    launcher: outputs,
    clock,
    log,
    nodeState,
    node: {
      name: opts.name,
      cpuMilli: opts.cpuMilli ?? host.cpuMilli,
      memoryMiB: opts.memoryMiB ?? host.memoryMiB,
      // Simulated GPUs do no work: their utilisation is the allocated share, and says so.
      // The join token's labels are the admin's word: they win over the agent's own.
      labels: { 'fastgpu.io/gpu-metrics': node.simulated ? 'simulated-allocated-share' : 'nvidia-smi', ...opts.labels, ...joinLabels },
      gpus: node.gpus,
      simulated: node.simulated,
      agentVersion: agentVersion(),
    },
    ...(node.simulated
      ? {}
      : { sampleGpus: (signal: AbortSignal) => sampleNvidiaGpus({ signal, ...(opts.nvidiaSmi !== undefined ? { nvidiaSmi: opts.nvidiaSmi } : {}) }) }),
    ...(mps ? { mpsHealth: () => mpsReport(mps.health()) } : {}),
    cacheReport: () => staged.report(),
    ...(opts.ephemeral === true ? { ephemeral: true } : {}),
  });
  nodeId = () => agent.nodeId;
  const onAbort = (): void => void agent.stop();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await agent.start();
  } catch (e) {
    renewer?.stop();
    await agent.stop();
    await stopNodeMps(mps, launcher, log);
    throw e;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
  if (opts.signal?.aborted) {
    renewer?.stop();
    await stopNodeMps(mps, launcher, log);
    throw new Error('agent start aborted');
  }
  return {
    // The server may hand out a new id when the agent registers again.
    get nodeId() {
      return agent.nodeId;
    },
    gpus: node.gpus,
    simulated: node.simulated,
    stop: async () => {
      renewer?.stop();
      await agent.stop();
      await stopNodeMps(mps, launcher, log);
    },
    stopTasks: (graceMs) => agent.stopTasks(graceMs),
  };
}
