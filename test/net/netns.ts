// Network namespaces for tests (issue 11): a server namespace wired by veth pairs to the test's
// own namespace and to one namespace per agent, each pair its own /24 under 10.211.0.0/16. Every
// address lives in namespaces made here and removed at the end; nothing leaves this machine.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** `ip …` as root; rejects with its stderr. */
export async function ip(...args: string[]): Promise<string> {
  try {
    return (await run('ip', args, { timeout: 15_000 })).stdout;
  } catch (e) {
    throw new Error(`ip ${args.join(' ')}: ${(e as { stderr?: string }).stderr?.trim() ?? (e as Error).message}`);
  }
}

/** Whether a program is on PATH. */
export async function have(cmd: string): Promise<boolean> {
  return run('sh', ['-c', `command -v ${cmd}`]).then(() => true, () => false);
}

/** Why namespaces cannot be used here, or null when they can (tries one). */
export async function namespacesRefused(): Promise<string | null> {
  if (process.platform !== 'linux') return `network namespaces are Linux-only (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'network namespaces need root (ip netns add)';
  const probe = `fgp${process.pid}`;
  try {
    await ip('netns', 'add', probe);
  } catch (e) {
    return `ip netns add is refused here: ${(e as Error).message}`;
  }
  await ip('netns', 'del', probe).catch(() => {}); // the probe may not exist
  return null;
}

export interface Link {
  /** The agent namespace (or '' for the test's own). */
  ns: string;
  /** The server-side interface: set it down to cut the link. */
  serverIf: string;
  /** The server's address as seen from this side. */
  serverAddr: string;
}

/** A server namespace and agent namespaces, each joined to it by its own veth pair. */
export class Topology {
  readonly id = String(process.pid % 100_000);
  readonly serverNs = `fgs${this.id}`;
  readonly agents: Link[] = [];
  /** The server as the test process reaches it. */
  host!: Link;
  private readonly made: string[] = [];
  private rootIf = '';

  async create(agentCount: number): Promise<void> {
    await ip('netns', 'add', this.serverNs);
    this.made.push(this.serverNs);
    await ip('-n', this.serverNs, 'link', 'set', 'lo', 'up');
    // The test's own side (subnet 0): the only interface made outside a namespace.
    this.rootIf = `fgr${this.id}`;
    await ip('link', 'add', this.rootIf, 'type', 'veth', 'peer', 'name', `fgh${this.id}`, 'netns', this.serverNs);
    await this.address('', this.rootIf, `10.211.0.2/24`);
    await this.address(this.serverNs, `fgh${this.id}`, `10.211.0.1/24`);
    this.host = { ns: '', serverIf: `fgh${this.id}`, serverAddr: '10.211.0.1' };
    for (let i = 1; i <= agentCount; i++) {
      const ns = `fga${this.id}-${i}`;
      await ip('netns', 'add', ns);
      this.made.push(ns);
      await ip('-n', ns, 'link', 'set', 'lo', 'up');
      const serverIf = `fgv${this.id}${i}`;
      await ip('-n', this.serverNs, 'link', 'add', serverIf, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
      await this.address(this.serverNs, serverIf, `10.211.${i}.1/24`);
      await this.address(ns, 'eth0', `10.211.${i}.2/24`);
      this.agents.push({ ns, serverIf, serverAddr: `10.211.${i}.1` });
    }
  }

  private async address(ns: string, dev: string, cidr: string): Promise<void> {
    const n = ns ? ['-n', ns] : [];
    await ip(...n, 'addr', 'add', cidr, 'dev', dev);
    await ip(...n, 'link', 'set', dev, 'up');
  }

  /** `ip route get ADDR` in the server's namespace (rejects when there is no route). */
  async route(addr: string): Promise<string> {
    return ip('-n', this.serverNs, 'route', 'get', addr);
  }

  /** Cuts (down) or heals (up) an agent's link at the server's end. */
  async link(l: Link, state: 'up' | 'down'): Promise<void> {
    await ip('-n', this.serverNs, 'link', 'set', l.serverIf, state);
  }

  /**
   * An agent behind NAT: its namespace reaches the server only through a router namespace that
   * masquerades its traffic (nftables) and lets in nothing new from the server's side, so the
   * agent can only connect out, as in a lab behind a home router.
   */
  async natAgent(): Promise<Link & { agentAddr: string }> {
    const router = `fgn${this.id}r`;
    const ns = `fgn${this.id}a`;
    for (const n of [router, ns]) {
      await ip('netns', 'add', n);
      this.made.push(n);
      await ip('-n', n, 'link', 'set', 'lo', 'up');
    }
    const serverIf = `fgw${this.id}`;
    // server <-> router: 10.211.8.0/24 (the router's "public" side)
    await ip('-n', this.serverNs, 'link', 'add', serverIf, 'type', 'veth', 'peer', 'name', 'wan', 'netns', router);
    await this.address(this.serverNs, serverIf, '10.211.8.1/24');
    await this.address(router, 'wan', '10.211.8.2/24');
    // router <-> agent: 10.211.9.0/24 (the private side); the agent's default route is the router
    await ip('-n', router, 'link', 'add', 'lan', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    await this.address(router, 'lan', '10.211.9.1/24');
    await this.address(ns, 'eth0', '10.211.9.2/24');
    await ip('-n', ns, 'route', 'add', 'default', 'via', '10.211.9.1');
    await run('ip', ['netns', 'exec', router, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    const rules = [
      'table ip fgnat {',
      '  chain postrouting {',
      '    type nat hook postrouting priority 100;',
      '    oifname "wan" masquerade',
      '  }',
      '  chain forwarding {',
      '    type filter hook forward priority 0; policy drop;',
      '    iifname "lan" oifname "wan" accept',
      '    iifname "wan" oifname "lan" ct state established,related accept',
      '  }',
      '}',
    ].join('\n');
    const nft = spawn('ip', ['netns', 'exec', router, 'nft', '-f', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    nft.stderr.on('data', (d: Buffer) => (err += d.toString()));
    nft.stdin.end(rules);
    const code = await new Promise<number | null>((r) => nft.once('exit', r));
    if (code !== 0) throw new Error(`nft in ${router}: ${err.trim()}`);
    return { ns, serverIf, serverAddr: '10.211.8.1', agentAddr: '10.211.9.2' };
  }

  /** Removes every namespace (their interfaces go with them) and the test's own veth end. */
  async destroy(): Promise<void> {
    // Best effort: an interface or namespace already gone is what we want.
    if (this.rootIf) await ip('link', 'del', this.rootIf).catch(() => {});
    for (const ns of this.made.reverse()) await ip('netns', 'del', ns).catch(() => {});
  }
}
