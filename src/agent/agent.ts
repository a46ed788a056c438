// The agent loop. Four loops share one table of known attempts:
//   assignments  long-poll; launch new work at once, obey stop orders
//   watch        notice exits (at once for our own children, by polling for re-attached ones),
//                ship the attempt's last logs, then report the exit at once
//   logs         tail and ship stdout/stderr every `logPollMs`
//   heartbeat    every `heartbeatIntervalMs`: what runs and what ended, utilisation samples;
//                forget exited attempts the server acknowledged; re-register when told
// The agent does not kill tasks itself when the server is unreachable: every acknowledged
// register or heartbeat renews the node lease, and the agent writes the renewed fence deadline
// to its lease file; each task's supervisor fences its own task once that deadline passes
// (src/protocol/lease.ts), also while this process is paused or dead. `stop()` ends the loops and
// leaves tasks running (a restarted agent re-attaches them from the state dir).
import { randomBytes } from 'node:crypto';
import type { Clock, Gpu, Placement } from '../core/types.js';
import type { Assignment, CacheReport, MpsHealthReport, RegisterRequest, RunningReport, StopOrder } from '../protocol/agent.js';
import { sleepOn, timerClock, type TimerClock } from '../util/clock.js';
import { simulatedSamples, type GpuSample } from './discovery.js';
import type { Launcher } from './launcher.js';
import { LogShipper } from './log-shipper.js';
import { MetricsShipper } from './metrics-shipper.js';
import { uploadingOf } from './outputs.js';
import { Backoff, isRetryable, LinkError, type ServerLink } from './link.js';
import { MemoryNodeState, type NodeState } from './node-state.js';

export interface NodeInfo {
  name: string;
  cpuMilli: number;
  memoryMiB: number;
  labels: Record<string, string>;
  gpus: Gpu[];
  simulated: boolean;
  agentVersion: string;
}

/** How long an ephemeral node holds a task's unordered kill for its own stop (see `ephemeral`). */
export const EPHEMERAL_KILL_WAIT_MS = 3_000;

export interface AgentConfig {
  link: ServerLink;
  launcher: Launcher;
  node: NodeInfo;
  /** Utilisation of real GPUs; simulated ones are derived from allocations. */
  sampleGpus?: (signal: AbortSignal) => Promise<GpuSample[]>;
  /** Time and timers (a ManualClock in tests); default the system's. */
  clock?: Clock;
  log?: (line: string) => void;
  /** The node credential and lease file (default: in memory, nothing fences). */
  nodeState?: NodeState;
  /** Long-poll wait the agent asks for. */
  pollWaitMs?: number;
  /** How often logs are tailed. */
  logPollMs?: number;
  /** How often re-attached attempts are checked for an exit (own children are noticed at once). */
  watchMs?: number;
  /** How long an exit report waits for the attempt's logs to be shipped. */
  drainTimeoutMs?: number;
  /** Overrides the server's heartbeat interval (tests). */
  heartbeatIntervalMs?: number;
  /** Nodes shared with MPS: the control daemon's health, sent with each heartbeat (mps.ts). */
  mpsHealth?: () => MpsHealthReport;
  /** The dataset cache and staging totals, sent with each heartbeat (staging.ts). */
  cacheReport?: () => CacheReport;
  /**
   * The node goes away when the agent stops (an autoscaler lent it). Its provider's kill (Slurm's
   * scancel signals every process of the job, the task's supervisor included) may reach a task
   * before it reaches the agent: a task that ends other than with exit 0 and was not stopped by
   * the agent (killed by a signal, exited non-zero on one, or its supervisor killed before it
   * recorded an exit) is held up to EPHEMERAL_KILL_WAIT_MS for the agent's own stop, and then
   * reported as preempted (requeued), not as a failure. A node not going away reports it as it was,
   * that much later.
   */
  ephemeral?: boolean;
  /** Log shipping knobs (tests). */
  partialFlushMs?: number;
}

type Phase =
  /** The process runs (or is starting). */
  | 'running'
  /** The process ended; its last logs are being shipped before the exit is reported. */
  | 'draining'
  /** The exit is reported (or being reported); forgotten once the server acknowledges it. */
  | 'exited';

interface Known {
  taskId: string;
  attempt: number;
  phase: Phase;
  report: RunningReport;
  placement?: Placement;
  /** The server epoch of the assignment (with the attempt, its fencing token). */
  epoch?: number;
  /** The server took the exit report (set by `send`): a node going away may stop waiting for it. */
  delivered?: boolean;
}

const keyOf = (taskId: string, attempt: number): string => `${taskId}/${attempt}`;

export class Agent {
  nodeId = '';
  heartbeatIntervalMs = 5_000;
  private readonly known = new Map<string, Known>();
  private readonly abort = new AbortController();
  private readonly loops: Promise<void>[] = [];
  private readonly pending = new Set<Promise<unknown>>();
  private readonly shipper: LogShipper;
  /** $FASTGPU_METRICS tails (metrics-shipper.ts), when the link can ship them. */
  private readonly metrics: MetricsShipper | null;
  private readonly clock: TimerClock;
  private readonly log: (line: string) => void;
  private readonly nodeState: NodeState;
  /** The lease timings the server gave at registration. */
  private fence = { afterMs: 0, graceMs: 0 };
  private registering: Promise<void> | undefined;
  private wakeWatch: (() => void) | undefined;
  /**
   * Settles once the node has an id (its first registration) or the agent stops. Nothing is sent
   * before: a restarted agent finds exits and logs on disk while it registers, and a report or
   * log batch without a node id is refused for good (and its chunks dropped).
   */
  private readonly registeredOnce: Promise<void>;
  private markRegistered: () => void = () => {};
  /** Sends waiting at that gate now (a test awaits one arriving there instead of sleeping). */
  private held = 0;
  /** An exit hint came while the watch loop was busy: look again at once. */
  private watchDirty = false;
  private stopped = false;
  /** Set by stopTasks: the node is going away, and nothing new starts on it. */
  private leaving = false;

  constructor(private readonly cfg: AgentConfig) {
    this.clock = timerClock(cfg.clock);
    this.log = cfg.log ?? (() => {});
    this.nodeState = cfg.nodeState ?? new MemoryNodeState();
    this.registeredOnce = new Promise<void>((resolve) => (this.markRegistered = resolve));
    this.shipper = new LogShipper({
      clock: this.clock,
      ...(cfg.partialFlushMs !== undefined ? { partialFlushMs: cfg.partialFlushMs } : {}),
      send: async (chunks) => {
        await this.untilRegistered();
        // Not a LinkError: the shipper keeps the chunks for the next agent.
        if (this.signal.aborted) throw new Error('the agent is stopping');
        await cfg.link.shipLogs({ nodeId: this.nodeId, chunks }, this.abort.signal);
      },
      isPermanent: (e) => e instanceof LinkError && !e.retryable && !e.unknownNode && !this.signal.aborted,
      onDrop: (n, e) => this.log(`the server refused ${n} log chunk(s), dropping them: ${(e as Error).message}`),
    });
    const shipMetrics = cfg.link.shipMetrics?.bind(cfg.link);
    this.metrics = shipMetrics
      ? new MetricsShipper({ send: (points) => shipMetrics({ nodeId: this.nodeId, points }, this.abort.signal), now: () => this.clock.now(), log: this.log })
      : null;
    cfg.launcher.onExit(() => {
      this.watchDirty = true;
      this.wakeWatch?.();
    });
  }

  private get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** Registers (retrying while the server is unreachable), then starts the loops. */
  async start(): Promise<void> {
    await this.register(true);
    if (this.signal.aborted) return;
    this.loops.push(this.assignmentLoop(), this.watchLoop(), this.logLoop(), this.heartbeatLoop());
  }

  /** Ends the loops and timers; tasks keep running. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.abort.abort();
    this.markRegistered();
    this.wakeWatch?.();
    await Promise.allSettled([...this.loops, ...this.pending]);
    this.cfg.launcher.dispose();
  }

  /**
   * Stops every task this node runs (an ephemeral node going away: its provider took it back) and
   * waits for them to end: SIGTERM with FASTGPU_PREEMPTED=1 now, SIGKILL after `graceMs`. Without
   * this, a supervisor outside the provider's process tracking would run on until its lease fence.
   * A task that already exited 0 and is uploading its outputs gets `graceMs` to finish them (its
   * work is done), and is stopped after that. Then it waits, up to `graceMs` + 5 s in all, for the
   * server to take every one of their exit reports: an agent stopped before that would leave the
   * server to learn it from the lease, and to run again a task whose outputs were committed.
   * Answers how many were still running or uploading.
   */
  async stopTasks(graceMs: number): Promise<number> {
    // Nothing new starts here from now on: an assignment that reaches a node going away would run
    // on past its provider's kill (supervisors escape its process tracking) and finish unheard.
    this.leaving = true;
    const { launcher } = this.cfg;
    const began = this.clock.now();
    const scanned = (await launcher.scan()).map((a) => a.report);
    const live = scanned.filter((r) => r.status === 'running');
    const uploading = scanned.filter((r) => r.status === 'uploading');
    await Promise.allSettled(live.map((r) => launcher.stop(r.taskId, r.attempt, graceMs, 'preempted')));
    const deadline = began + graceMs + 5_000;
    const still = async (r: RunningReport, status: RunningReport['status'], until: number): Promise<boolean> => {
      while ((await launcher.inspect(r.taskId, r.attempt))?.status === status) {
        if (this.clock.now() >= until) return true;
        await sleepOn(this.clock, 100);
      }
      return false;
    };
    for (const r of live) await still(r, 'running', deadline);
    for (const r of uploading) if (await still(r, 'uploading', began + graceMs)) await launcher.stop(r.taskId, r.attempt, 0, 'preempted').catch(() => false); // already over: nothing to stop
    const reported = (r: RunningReport): boolean => {
      const k = this.known.get(keyOf(r.taskId, r.attempt));
      return k === undefined || k.delivered === true;
    };
    const all = [...live, ...uploading];
    while (!all.every(reported) && this.clock.now() < deadline && !this.signal.aborted) await sleepOn(this.clock, 50);
    return all.length;
  }

  /** How many sends (exit reports, log batches) wait for the node's first registration now. */
  heldForRegistration(): number {
    return this.held;
  }

  /** Where every send waits until the node has an id; counted while it waits. */
  private async untilRegistered(): Promise<void> {
    this.held++;
    try {
      await this.registeredOnce;
    } finally {
      this.held--;
    }
  }

  /** Attempts this agent tracks, for tests and status. */
  attempts(): { taskId: string; attempt: number; phase: Phase }[] {
    return [...this.known.values()].map(({ taskId, attempt, phase }) => ({ taskId, attempt, phase }));
  }

  // ------------------------------------------------------------------ registration

  private register(first = false): Promise<void> {
    this.registering ??= this.doRegister(first).finally(() => {
      this.registering = undefined;
    });
    return this.registering;
  }

  /**
   * A first register proposes a credential the agent drew and saved itself: when the answer is
   * lost (a timeout under load) and the register is sent again, the server, which already took
   * it, still recognises this agent instead of refusing the name as held by another.
   */
  private async proposeCredential(): Promise<string> {
    const drawn = `fgn_${randomBytes(30).toString('base64url')}`;
    await this.nodeState.writeCredential(drawn);
    return drawn;
  }

  private async doRegister(first: boolean): Promise<void> {
    const backoff = new Backoff(100, 5_000);
    for (;;) {
      if (this.signal.aborted) return;
      try {
        // Everything the state dir knows, re-attached: running ones are watched, exited ones
        // reported until acknowledged.
        for (const s of await this.cfg.launcher.scan()) await this.adopt(s.report, s.placement);
        const n = this.cfg.node;
        const credential = (await this.nodeState.readCredential()) ?? (await this.proposeCredential());
        const req: RegisterRequest = {
          name: n.name,
          cpuMilli: n.cpuMilli,
          memoryMiB: n.memoryMiB,
          labels: n.labels,
          gpus: n.gpus,
          simulated: n.simulated,
          agentVersion: n.agentVersion,
          tasks: [...this.known.values()].map((k) => this.reportOf(k)),
          ...(credential !== undefined ? { credential } : {}),
        };
        const sentAt = this.clock.now();
        const res = await this.cfg.link.register(req, this.signal);
        if (res.credential !== undefined) await this.nodeState.writeCredential(res.credential);
        const held = res.credential ?? credential;
        if (held !== undefined) this.cfg.link.setCredential?.(held);
        this.fence = { afterMs: res.fenceAfterMs, graceMs: res.fenceGraceMs };
        await this.renewed(sentAt);
        this.nodeId = res.nodeId;
        this.markRegistered();
        this.heartbeatIntervalMs = this.cfg.heartbeatIntervalMs ?? res.heartbeatIntervalMs;
        this.log(`registered as ${res.nodeId} with ${req.tasks.length} known task attempt(s)`);
        await this.obey(res.stop.map((s) => ({ ...s, reason: s.reason ?? ('orphaned' as const) })));
        return;
      } catch (e) {
        if (this.signal.aborted) return;
        if (first && !isRetryable(e)) throw e;
        const wait = backoff.next();
        this.log(`register failed (${(e as Error).message}); retrying in ${wait} ms`);
        await sleepOn(this.clock, wait, this.signal);
      }
    }
  }

  /** The server acknowledged a renewal sent at `sentAt`: the supervisors may run until sentAt + fenceAfterMs. */
  private async renewed(sentAt: number): Promise<void> {
    if (this.fence.afterMs <= 0) return;
    try {
      await this.nodeState.writeLease(sentAt + this.fence.afterMs, this.fence.graceMs);
    } catch (e) {
      // The tasks fence themselves at the old deadline: safe, and said loudly.
      this.log(`cannot write the lease file (${(e as Error).message}): tasks will be fenced at the previous deadline`);
    }
  }

  /** Tracks an attempt found on disk or launched before. */
  private async adopt(report: RunningReport, placement?: Placement): Promise<Known> {
    const key = keyOf(report.taskId, report.attempt);
    let k = this.known.get(key);
    if (!k) {
      k = { taskId: report.taskId, attempt: report.attempt, phase: 'running', report, ...(placement ? { placement } : {}) };
      this.known.set(key, k);
      await this.shipper.track(report.taskId, report.attempt, this.cfg.launcher.attemptDir(report.taskId, report.attempt));
      this.metrics?.track(report.taskId, report.attempt, this.cfg.launcher.attemptDir(report.taskId, report.attempt));
    }
    if (report.status === 'exited' && k.phase === 'running') this.exited(k, report);
    else if (k.phase === 'running') k.report = report;
    return k;
  }

  /** What to tell the server about an attempt. Draining ones still count as running. */
  private reportOf(k: Known): RunningReport {
    if (k.phase === 'exited') return k.report;
    // Inputs being staged (staging.ts): not started yet, with the progress.
    const staging = k.report.status === 'staging' ? k.report.staging : undefined;
    const r: RunningReport = { taskId: k.taskId, attempt: k.attempt, status: k.report.status === 'staging' ? 'staging' : 'running', ...(staging ? { staging } : {}) };
    // Exited 0, outputs uploading (outputs.ts): with the progress and the process's end.
    if (k.report.status === 'uploading') Object.assign(r, uploadingOf(k.report));
    if (k.epoch !== undefined) r.epoch = k.epoch;
    if (k.report.pid !== undefined) r.pid = k.report.pid;
    if (k.report.startedAt !== undefined) r.startedAt = k.report.startedAt;
    return r;
  }

  // ------------------------------------------------------------------ assignments

  private async assignmentLoop(): Promise<void> {
    const backoff = new Backoff(100, 5_000);
    while (!this.signal.aborted && !this.leaving) {
      try {
        const res = await this.cfg.link.pollAssignments(this.nodeId, this.cfg.pollWaitMs ?? 20_000, this.signal);
        backoff.reset();
        // Launch first: a stop for a pair in the same answer then finds it launched.
        let acted = 0;
        for (const a of res.assignments) if (await this.launch(a)) acted++;
        acted += await this.obey(res.stop);
        // A server that keeps answering at once with nothing new must not make this loop spin.
        // (Counted, not read off the size of `known`: a heartbeat forgetting finished attempts
        // meanwhile made a launch look like nothing, and the next poll waited 100 ms.)
        if (acted === 0 && res.assignments.length + res.stop.length > 0) await sleepOn(this.clock, 100, this.signal);
      } catch (e) {
        if (this.signal.aborted) return;
        if (e instanceof LinkError && e.unknownNode) {
          await this.register();
          continue;
        }
        const wait = backoff.next();
        this.log(`polling for assignments failed (${(e as Error).message}); retrying in ${wait} ms`);
        await sleepOn(this.clock, wait, this.signal);
      }
    }
  }

  /** Launches (or re-attaches) an assignment; false when it was known already (nothing done). */
  private async launch(a: Assignment): Promise<boolean> {
    const key = keyOf(a.taskId, a.attempt);
    if (this.known.has(key)) return false; // the server repeats assignments until it hears of them
    if (this.leaving) {
      // Handed over as the node goes away (stopTasks): refused unstarted, so the server places it
      // elsewhere without spending a retry.
      this.log(`not starting ${key}: this node is going away`);
      this.send([{ taskId: a.taskId, attempt: a.attempt, status: 'exited', exitCode: null, endReason: 'never-started', error: 'its node was going away (its provider took it back) when it was handed over' }]);
      return true;
    }
    let result;
    try {
      result = await this.cfg.launcher.launch(a);
    } catch (e) {
      // The state dir is unusable (disk full, permissions): nothing was started, and nothing
      // will be (the launcher throws before it spawns). A node problem, not the task's: the
      // server runs it again, a bounded number of times.
      this.log(`launching ${key} failed: ${(e as Error).message}`);
      this.send([{ taskId: a.taskId, attempt: a.attempt, status: 'exited', exitCode: null, endReason: 'never-started', error: `the agent could not launch it: ${(e as Error).message}` }]);
      return true;
    }
    if (result.untracked) {
      this.send([result.report]);
      return true;
    }
    if (!result.launched) this.log(`${key} was launched before: re-attached`);
    const k = await this.adopt(result.report, a.placement);
    if (a.epoch !== undefined) k.epoch = a.epoch;
    if (result.launched) {
      this.log(`started ${key} (${a.name})`);
      this.send([this.reportOf(k)]);
    }
    return true;
  }

  /** Carries out stop orders; answers how many it acted on (not finished or unknown already). */
  private async obey(orders: StopOrder[]): Promise<number> {
    let acted = 0;
    for (const o of orders) {
      const key = keyOf(o.taskId, o.attempt);
      const k = this.known.get(key);
      if (k && k.phase !== 'running') continue;
      try {
        const known = await this.cfg.launcher.stop(o.taskId, o.attempt, o.graceMs, o.reason);
        if (!known) continue;
        acted++;
        if (!k) {
          // Never launched here: the launcher recorded it as stopped before start; report that.
          const r = await this.cfg.launcher.inspect(o.taskId, o.attempt);
          if (r) await this.adopt(r);
        }
        this.log(`stopping ${key} (${o.reason}, grace ${o.graceMs} ms)`);
      } catch (e) {
        this.log(`stopping ${key} failed: ${(e as Error).message}`);
      }
    }
    return acted;
  }

  // ------------------------------------------------------------------ exits

  private async watchLoop(): Promise<void> {
    while (!this.signal.aborted) {
      this.watchDirty = false;
      for (const k of [...this.known.values()]) {
        if (k.phase !== 'running' || this.signal.aborted) continue;
        try {
          const r = await this.cfg.launcher.inspect(k.taskId, k.attempt);
          if (r?.status === 'exited') this.exited(k, r);
          else if (r) {
            // Staged and started, or exited and uploading: the server hears it now, not at the next heartbeat.
            const started = (k.report.status === 'staging' && r.status === 'running') || (k.report.status !== 'uploading' && r.status === 'uploading');
            k.report = r;
            if (started) this.send([this.reportOf(k)]);
          }
        } catch (e) {
          this.log(`checking ${keyOf(k.taskId, k.attempt)} failed: ${(e as Error).message}`);
        }
      }
      if (this.watchDirty || this.signal.aborted) continue;
      await new Promise<void>((resolve) => {
        const done = (): void => {
          t.clear();
          this.wakeWatch = undefined;
          resolve();
        };
        const t = this.clock.timeout(done, this.cfg.watchMs ?? 250);
        this.wakeWatch = done;
      });
    }
  }

  /** The process is over: ship its remaining logs, then report the exit. */
  private exited(k: Known, r: RunningReport): void {
    k.phase = 'draining';
    k.report = r;
    this.track(
      (async () => {
        // Found on disk by a restarted agent: its logs and exit go out once the node has an id.
        await this.untilRegistered();
        this.shipper.markFinal(k.taskId, k.attempt);
        // The last metric lines go before the exit report, so the sweep judges the whole run.
        await this.metrics?.finish(k.taskId, k.attempt).catch((e: unknown) => this.log(`${keyOf(k.taskId, k.attempt)}: shipping its last metrics failed (${(e as Error).message})`));
        // The exit waits for the logs (so `run` and `logs -f`, which end with the task, print
        // every byte): the deadline is drainTimeoutMs without progress, not since the exit —
        // 100 MB take longer than any fixed margin to ship.
        const timeoutMs = this.cfg.drainTimeoutMs ?? 5_000;
        let deadline = this.clock.now() + timeoutMs;
        let acked = this.shipper.ackedBytes(k.taskId, k.attempt);
        while (!this.signal.aborted) {
          try {
            await this.shipper.pump();
            if (await this.shipper.drained(k.taskId, k.attempt)) {
              // Nothing more can be written (the supervisor ended the task's group): stop
              // tailing it, so pumps only read attempts that may still grow.
              this.shipper.untrack(k.taskId, k.attempt);
              break;
            }
          } catch {
            // the log loop reports shipping trouble
          }
          const now = this.shipper.ackedBytes(k.taskId, k.attempt);
          if (now > acked) {
            acked = now;
            deadline = this.clock.now() + timeoutMs;
            continue; // shipping moves: at full speed, no pause
          }
          if (this.clock.now() >= deadline) {
            this.log(`${keyOf(k.taskId, k.attempt)}: reporting the exit before its logs are all shipped`);
            break;
          }
          await sleepOn(this.clock, 50, this.signal);
        }
        if (this.signal.aborted) return;
        if (this.cfg.ephemeral === true && r.endReason === 'exit' && r.exitCode !== 0) {
          const until = this.clock.now() + EPHEMERAL_KILL_WAIT_MS;
          while (!this.leaving && !this.signal.aborted && this.clock.now() < until) await sleepOn(this.clock, 50, this.signal);
          if (this.leaving) r = { ...r, endReason: 'preempted' };
          k.report = r;
        }
        k.phase = 'exited';
        const why = r.endReason && r.endReason !== 'exit' ? ` (${r.endReason})` : '';
        this.log(`${keyOf(k.taskId, k.attempt)} ended: exit ${String(r.exitCode)}${r.signal ? ` ${r.signal}` : ''}${why}`);
        this.send([r], () => (k.delivered = true));
      })(),
    );
  }

  /**
   * Reports now, outside the heartbeat; a few quick retries, the next heartbeat covers the rest.
   * `delivered` runs once the server has taken them.
   */
  private send(tasks: RunningReport[], delivered?: () => void): void {
    this.track(
      (async () => {
        await this.untilRegistered();
        const backoff = new Backoff(50, 1_000);
        for (let i = 0; i < 4 && !this.signal.aborted; i++) {
          try {
            // An error text is capped by the protocol: a longer one would be refused for ever.
            const capped = tasks.map((r) => (r.error !== undefined && r.error.length > 4000 ? { ...r, error: `${r.error.slice(0, 4000)}…` } : r));
            await this.cfg.link.report({ nodeId: this.nodeId, tasks: capped }, this.signal);
            delivered?.();
            return;
          } catch (e) {
            if (this.signal.aborted) return;
            if (e instanceof LinkError && e.unknownNode) {
              await this.register();
              return;
            }
            if (!isRetryable(e)) {
              this.log(`report refused: ${(e as Error).message}`);
              return;
            }
            await sleepOn(this.clock, backoff.next(), this.signal);
          }
        }
      })(),
    );
  }

  private track(p: Promise<unknown>): void {
    const q: Promise<unknown> = p
      .catch((e: unknown) => this.log(`internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`))
      .finally(() => this.pending.delete(q));
    this.pending.add(q);
  }

  // ------------------------------------------------------------------ logs

  private async logLoop(): Promise<void> {
    const backoff = new Backoff(200, 5_000);
    let failing = false;
    let metricsFailing = false;
    while (!this.signal.aborted) {
      let wait = this.cfg.logPollMs ?? 100;
      // Metrics ride the log loop; their trouble is said once and never holds the logs back.
      await this.metrics?.pump().then(
        () => (metricsFailing = false),
        (e: unknown) => {
          if (!metricsFailing && !this.signal.aborted) this.log(`metrics shipping failed (${(e as Error).message}); retrying`);
          metricsFailing = true;
        },
      );
      try {
        await this.shipper.pump();
        if (failing) this.log('log shipping works again');
        failing = false;
        backoff.reset();
      } catch (e) {
        if (this.signal.aborted) return;
        if (e instanceof LinkError && e.unknownNode) await this.register();
        if (!failing) this.log(`log shipping failed (${(e as Error).message}); retrying`);
        failing = true;
        wait = backoff.next();
      }
      await sleepOn(this.clock, wait, this.signal);
    }
  }

  // ------------------------------------------------------------------ heartbeats

  private async heartbeatLoop(): Promise<void> {
    while (!this.signal.aborted) {
      await sleepOn(this.clock, this.heartbeatIntervalMs, this.signal);
      if (this.signal.aborted) return;
      try {
        await this.heartbeat();
      } catch (e) {
        if (this.signal.aborted) return;
        if (e instanceof LinkError && e.unknownNode) await this.register();
        else this.log(`heartbeat failed: ${(e as Error).message}`);
      }
    }
  }

  private async samples(): Promise<GpuSample[]> {
    const n = this.cfg.node;
    if (n.simulated) {
      const running = [...this.known.values()].filter((k) => k.phase !== 'exited' && k.placement).map((k) => k.placement!);
      return simulatedSamples(n.gpus, running);
    }
    return this.cfg.sampleGpus ? this.cfg.sampleGpus(this.signal) : [];
  }

  /** One heartbeat: reports and samples out; acks, stop orders and re-register requests in. */
  async heartbeat(): Promise<void> {
    const tasks = [...this.known.values()].map((k) => this.reportOf(k));
    const samples = await this.samples();
    const sentAt = this.clock.now();
    const mps = this.cfg.mpsHealth?.();
    const cache = this.cfg.cacheReport?.();
    const res = await this.cfg.link.heartbeat({ nodeId: this.nodeId, tasks, samples, ...(mps ? { mps } : {}), ...(cache ? { cache } : {}) }, this.signal);
    if (res.reregister) {
      this.log('the server asks this agent to register again');
      await this.register();
      return;
    }
    await this.renewed(sentAt);
    for (const a of res.ack) {
      const k = this.known.get(keyOf(a.taskId, a.attempt));
      if (!k || k.phase !== 'exited') continue;
      if (!(await this.shipper.drained(k.taskId, k.attempt))) continue; // logs first
      await this.cfg.launcher.forget(k.taskId, k.attempt);
      this.shipper.untrack(k.taskId, k.attempt);
      this.metrics?.untrack(k.taskId, k.attempt);
      this.known.delete(keyOf(k.taskId, k.attempt));
    }
    await this.obey(res.stop);
  }
}
