// Node identity: a credential the server issues to a node at its first registration, or the one
// the agent proposed (a secret it drew and saved before asking: a register whose answer was lost
// can then be sent again and still match). The agent
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
/** What a proposed credential must look like to be taken: long and random-looking enough. */
const STRONG = /^[A-Za-z0-9_-]{32,256}$/;

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

  /**
   * Takes the agent's own proposed credential for the node (replacing any old one), when it is
   * strong enough to be a secret: at least 32 characters of A-Z a-z 0-9 _ -. Answers whether it did.
   */
  async adopt(nodeId: string, proposed: string): Promise<boolean> {
    if (!STRONG.test(proposed)) return false;
    const h = hashToken(proposed);
    await this.store.setMeta(metaKey(nodeId), h);
    this.hashes.set(nodeId, h);
    return true;
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
