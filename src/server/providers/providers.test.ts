// The command and local providers, with real child processes.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommandProvider } from './command.js';
import { LocalProvider } from './local.js';
import { ProviderError } from './types.js';

const shape = { shape: 'small', gpuModel: 'L4', gpuCount: 1, gpuMemoryMiB: 24576, gpuTflops: 121, cpuMilli: 4000, memoryMiB: 16384, hourlyMicros: 800_000n };

describe('command provider', () => {
  let dir: string;
  let provider: CommandProvider;
  const script = (name: string, body: string): string => {
    const p = join(dir, name);
    writeFileSync(p, `#!/bin/sh\nset -e\n${body}\n`);
    chmodSync(p, 0o755);
    return p;
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'fastgpu-cmd-'));
    // A toy "cloud": create appends the request to a file and prints an id; list prints them all.
    const create = script('create', `cat > "${dir}/req-$$"; echo "{\\"id\\": \\"vm-$$\\", \\"detail\\": \\"booting\\"}"`);
    const del = script('delete', `id=$(sed 's/.*"id":"\\([^"]*\\)".*/\\1/'); echo "$id" >> "${dir}/deleted"`);
    const list = script('list', `printf '[{"id":"vm-1","shape":"small","nodeName":"n1","state":"running"}]'`);
    provider = new CommandProvider({ name: 'toy-cloud', create: [create], delete: [del], list: [list], offers: [shape] });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('offers the configured shapes under its name', async () => {
    expect(await provider.offers()).toEqual([{ ...shape, provider: 'toy-cloud' }]);
  });

  it('passes the launch (secrets included) on stdin, never in argv, and reads the id', async () => {
    const n = await provider.request('small', { nodeName: 'n1', args: ['agent', '--name', 'n1'], env: { FASTGPU_JOIN_TOKEN: 'fgj_secret' } });
    expect(n).toEqual({ id: expect.stringMatching(/^vm-\d+$/), provider: 'toy-cloud', shape: 'small', nodeName: 'n1', state: 'pending', detail: 'booting' });
    const pid = n.id.slice(3);
    expect(JSON.parse(readFileSync(join(dir, `req-${pid}`), 'utf8'))).toEqual({ shape: 'small', nodeName: 'n1', args: ['agent', '--name', 'n1'], env: { FASTGPU_JOIN_TOKEN: 'fgj_secret' } });
  });

  it('lists and releases', async () => {
    expect(await provider.list()).toEqual([{ id: 'vm-1', provider: 'toy-cloud', shape: 'small', nodeName: 'n1', state: 'running', detail: 'running' }]);
    await provider.release('vm-1');
    expect(readFileSync(join(dir, 'deleted'), 'utf8')).toBe('vm-1\n');
  });

  it('names the command and the problem when one misbehaves', async () => {
    const bad = new CommandProvider({
      create: [script('c2', 'echo not json')],
      delete: [script('d2', 'echo quota exceeded >&2; exit 3')],
      list: [script('l2', `echo '[{"id":"x","shape":"s","nodeName":"n","state":"booting"}]'`)],
      offers: [shape],
    });
    await expect(bad.request('small', { nodeName: 'n', args: [], env: {} })).rejects.toThrow(/command: the create command printed no JSON: not json/);
    await expect(bad.release('x')).rejects.toThrow(/d2  failed: quota exceeded|d2 failed: quota exceeded/);
    await expect(bad.list()).rejects.toThrow(/the list command printed unexpected JSON at 0\.state/);
    await expect(bad.request('huge', { nodeName: 'n', args: [], env: {} })).rejects.toThrow(/unknown shape "huge" \(configured: small\)/);
    expect(() => new CommandProvider({ create: [], delete: ['x'], list: ['y'], offers: [] })).toThrow(ProviderError);
  });
});

describe('local provider', () => {
  const provider = new LocalProvider({
    fastgpu: ['/bin/sh', '-c', 'echo "node $0 $FASTGPU_JOIN_TOKEN ${FASTGPU_TOKEN:-no-shared-token} $*"; exec sleep 300'],
    shapes: [{ ...shape, agentFlags: ['--gpus', '1xL4'] }],
    stopGraceMs: 5_000,
    onOutput: (node, line) => {
      lines.push(`${node}: ${line}`);
      printed?.();
    },
  });
  const lines: string[] = [];
  let printed: (() => void) | undefined;
  afterAll(() => provider.close());

  it('starts a node as a process with the shape’s flags and its join token (not the server’s environment), lists it, and stops it on release', async () => {
    const firstLine = new Promise<void>((resolve) => (printed = resolve));
    process.env.FASTGPU_TOKEN = 'the-servers-own';
    const n = await provider.request('small', { nodeName: 'l1', args: ['agent'], env: { FASTGPU_JOIN_TOKEN: 'fgj_x' } }).finally(() => delete process.env.FASTGPU_TOKEN);
    await firstLine;
    expect(n).toEqual(expect.objectContaining({ provider: 'local', shape: 'small', nodeName: 'l1', state: 'running' }));
    expect((await provider.list()).map((x) => x.state)).toEqual(['running']);
    await provider.release(n.id);
    const [after] = await provider.list();
    expect(after).toEqual(expect.objectContaining({ id: n.id, state: 'ended', detail: 'killed by SIGTERM' }));
    expect(lines).toContain('l1: node agent fgj_x no-shared-token --gpus 1xL4');
    await provider.release(n.id); // idempotent
  });

  it('refuses an unknown shape and a program that cannot start', async () => {
    await expect(provider.request('big', { nodeName: 'x', args: [], env: {} })).rejects.toThrow(/unknown shape "big"/);
    const broken = new LocalProvider({ fastgpu: ['/nonexistent/fastgpu'], shapes: [{ ...shape, agentFlags: [] }] });
    await expect(broken.request('small', { nodeName: 'x', args: [], env: {} })).rejects.toThrow(/could not start \/nonexistent\/fastgpu: spawn \/nonexistent\/fastgpu ENOENT/);
  });
});
