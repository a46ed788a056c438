// Node identity: a credential the server issues to a node at its first registration. The agent
// keeps it (0600) in its state dir and presents it on every call; only its sha256 is stored (as
// store meta `node.credential.<nodeId>`, so every store adapter has it without a new table; with
// several servers it becomes a token row of role `node` bound to the node id). A second agent
// that registers under the same name without it is refused, and no agent can speak for a node
// whose credential it does not hold.
import { timingSafeEqual } from 'node:crypto';
import type { Store } from '../store/port.js';
import { hashToken } from './auth.js';
import { newSecret } from './ids.js';

const metaKey = (nodeId: string): string => `node.credential.${nodeId}`;

export class NodeIdentities {
  /** nodeId → credential hash ('' = none issued yet: a node from before credentials existed). */
  private readonly hashes = new Map<string, string>();

  constructor(private readonly store: Store) {}

  private async hashOf(nodeId: string): Promise<string> {
    let h = this.hashes.get(nodeId);
    if (h === undefined) {
      h = (await this.store.getMeta(metaKey(nodeId))) ?? '';
      this.hashes.set(nodeId, h);
    }
    return h;
  }

  /** Whether the node has a credential at all. */
  async issued(nodeId: string): Promise<boolean> {
    return (await this.hashOf(nodeId)) !== '';
  }

  /** True when `credential` is the node's (constant-time compare). */
  async matches(nodeId: string, credential: string | undefined): Promise<boolean> {
    const h = await this.hashOf(nodeId);
    if (!h || !credential) return false;
    const a = Buffer.from(hashToken(credential));
    const b = Buffer.from(h);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  /** A new credential for the node (replacing any old one): stored as its hash, returned once. */
  async issue(nodeId: string): Promise<string> {
    const secret = newSecret();
    const h = hashToken(secret);
    await this.store.setMeta(metaKey(nodeId), h);
    this.hashes.set(nodeId, h);
    return secret;
  }
}
