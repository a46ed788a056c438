// What the agent keeps about its node in the state dir, beside the attempts:
//   node.credential  the node credential the server issued at registration (0600): a restarted
//                    agent presents it to register as the same node again
//   lease            "DEADLINE_MS GRACE_MS": until when the node lease is safe, and the fence's
//                    grace; every task's supervisor reads it and fences its task once the
//                    deadline passes without a renewal (src/protocol/lease.ts, supervisor.sh)
// Both are written atomically (tmp + rename), so a supervisor never reads half a line.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic-file.js';

export const CREDENTIAL_FILE = 'node.credential';
export const LEASE_FILE = 'lease';

/** The node's credential and lease, as the agent loop sees them (tests use an in-memory one). */
export interface NodeState {
  readCredential(): Promise<string | undefined>;
  writeCredential(credential: string): Promise<void>;
  /** The supervisors fence their tasks after `deadline` (epoch ms), SIGKILL `graceMs` later. */
  writeLease(deadline: number, graceMs: number): Promise<void>;
}

const writeAtomic = (file: string, text: string): Promise<void> => writeFileAtomic(file, text, 0o600);

/** The files in `<stateDir>`. */
export class FileNodeState implements NodeState {
  readonly leaseFile: string;
  private readonly credentialFile: string;

  constructor(private readonly stateDir: string) {
    this.leaseFile = join(stateDir, LEASE_FILE);
    this.credentialFile = join(stateDir, CREDENTIAL_FILE);
  }

  async readCredential(): Promise<string | undefined> {
    try {
      const c = (await readFile(this.credentialFile, 'utf8')).trim();
      return c.length > 0 ? c : undefined;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async writeCredential(credential: string): Promise<void> {
    await mkdir(this.stateDir, { recursive: true, mode: 0o700 });
    await writeAtomic(this.credentialFile, `${credential}\n`);
  }

  async writeLease(deadline: number, graceMs: number): Promise<void> {
    await mkdir(this.stateDir, { recursive: true, mode: 0o700 });
    await writeAtomic(this.leaseFile, `${Math.floor(deadline)} ${Math.max(0, Math.floor(graceMs))}\n`);
  }
}

/** In memory, for agent tests that do not fence. */
export class MemoryNodeState implements NodeState {
  credential: string | undefined;
  lease: { deadline: number; graceMs: number } | undefined;
  async readCredential(): Promise<string | undefined> {
    return this.credential;
  }
  async writeCredential(credential: string): Promise<void> {
    this.credential = credential;
  }
  async writeLease(deadline: number, graceMs: number): Promise<void> {
    this.lease = { deadline, graceMs };
  }
}
