// WAL checkpoints off the event loop. In WAL mode a commit only appends to the WAL; a checkpoint
// copies the WAL back into the database file and fsyncs it, which on a busy disk takes tens of
// milliseconds. Run by the writing connection (SQLite's autocheckpoint), that stall lands on the
// request that happened to write last, and, better-sqlite3 being synchronous, on every request
// behind it. Here a worker thread with a connection of its own runs PASSIVE checkpoints (they
// neither wait for nor block the main connection) every `everyMs`; the main connection keeps its
// autocheckpoint as a safety net should the worker fall behind or die.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** The worker, as plain CommonJS (an eval'd worker: no file to find in src/ or dist/). */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.lib);
const db = new Database(workerData.path, { fileMustExist: true });
const checkpoint = () => {
  const [r] = db.pragma('wal_checkpoint(PASSIVE)');
  return { busy: r.busy, log: r.log, checkpointed: r.checkpointed };
};
const timer = setInterval(() => {
  try {
    checkpoint();
  } catch (e) {
    parentPort.postMessage({ kind: 'error', message: String((e && e.message) || e) });
  }
}, workerData.everyMs);
parentPort.on('message', (m) => {
  if (m === 'now') {
    try {
      parentPort.postMessage({ kind: 'done', result: checkpoint() });
    } catch (e) {
      parentPort.postMessage({ kind: 'error', message: String((e && e.message) || e) });
    }
  } else if (m === 'stop') {
    clearInterval(timer);
    db.close();
    parentPort.postMessage({ kind: 'stopped' });
  }
});
parentPort.postMessage({ kind: 'ready' });
`;

/** What one PASSIVE checkpoint did: WAL frames in the log, and how many are now in the database. */
export interface CheckpointResult {
  busy: number;
  log: number;
  checkpointed: number;
}

type WorkerMessage = { kind: 'ready' } | { kind: 'stopped' } | { kind: 'error'; message: string } | { kind: 'done'; result: CheckpointResult };

export class BackgroundCheckpointer {
  private constructor(
    private readonly worker: Worker,
    private readonly log: (line: string) => void,
  ) {
    worker.on('message', (m: WorkerMessage) => {
      if (m.kind === 'error') this.log(`warn: background WAL checkpoint failed (the store's own autocheckpoint still runs): ${m.message}`);
    });
    // A dead worker leaves the autocheckpoint in charge: say so, never crash the server.
    worker.on('error', (e) => this.log(`warn: the WAL checkpoint worker stopped: ${e.message}`));
    worker.unref();
  }

  /** Starts the worker on `path` (which must exist) and resolves once its connection is open. */
  static async start(path: string, everyMs: number, log: (line: string) => void): Promise<BackgroundCheckpointer> {
    const lib = createRequire(import.meta.url).resolve('better-sqlite3');
    // execArgv []: plain CommonJS, whatever the parent runs with (--input-type=module, --import tsx).
    const worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [], workerData: { lib, path, everyMs } });
    await new Promise<void>((resolve, reject) => {
      const onMessage = (m: WorkerMessage): void => {
        if (m.kind !== 'ready') return;
        worker.off('error', reject);
        worker.off('message', onMessage);
        resolve();
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
    });
    return new BackgroundCheckpointer(worker, log);
  }

  /** One checkpoint now, in the worker (tests, and before a planned stop). */
  checkpointNow(): Promise<CheckpointResult> {
    return this.request('now', 'done').then((m) => (m as Extract<WorkerMessage, { kind: 'done' }>).result);
  }

  /** Closes the worker's connection and ends the thread. */
  async stop(): Promise<void> {
    try {
      await this.request('stop', 'stopped');
    } finally {
      await this.worker.terminate();
    }
  }

  private request(message: 'now' | 'stop', answer: WorkerMessage['kind']): Promise<WorkerMessage> {
    // Held while an answer is awaited: an unref'd worker would let the process exit (with the
    // awaited promise unsettled) when nothing else is left to run, as at the end of a shutdown.
    this.worker.ref();
    return new Promise<WorkerMessage>((resolve, reject) => {
      const onMessage = (m: WorkerMessage): void => {
        if (m.kind !== answer && m.kind !== 'error') return;
        this.worker.off('message', onMessage);
        this.worker.off('exit', onExit);
        if (m.kind === 'error') reject(new Error(m.message));
        else resolve(m);
      };
      const onExit = (): void => {
        this.worker.off('message', onMessage);
        reject(new Error('the WAL checkpoint worker exited'));
      };
      this.worker.on('message', onMessage);
      this.worker.once('exit', onExit);
      this.worker.postMessage(message);
    }).finally(() => this.worker.unref());
  }
}
