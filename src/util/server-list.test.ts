import { describe, expect, it } from 'vitest';
import { ServerList, splitServerUrls } from './server-list.js';

describe('ServerList', () => {
  it('splits a comma-separated list and refuses empty items', () => {
    expect(splitServerUrls('http://a:1, http://b:2')).toEqual(['http://a:1', 'http://b:2']);
    expect(() => splitServerUrls('http://a:1,,http://b:2')).toThrow('has an empty server address');
  });

  it('moves to the next server when one fails, and starts with the one that worked next time', async () => {
    const list = new ServerList(['a', 'b', 'c']);
    const tried: string[] = [];
    const down = new Set(['a', 'b']);
    const call = (base: string): Promise<string> => {
      tried.push(base);
      return down.has(base) ? Promise.reject(new Error(`${base} down`)) : Promise.resolve(`answer from ${base}`);
    };
    expect(await list.run(call, (o) => !o.ok)).toBe('answer from c');
    expect(tried).toEqual(['a', 'b', 'c']);
    expect(list.current).toBe('c');
    tried.length = 0;
    expect(await list.run(call, (o) => !o.ok)).toBe('answer from c');
    expect(tried).toEqual(['c']);
  });

  it('returns an answer it need not fail over from at once, and the last outcome when all fail', async () => {
    const list = new ServerList(['a', 'b']);
    // A 4xx is the caller's problem, not the server's: no failover.
    expect(await list.run(async (b) => ({ status: 400, b }), (o) => o.ok && o.value.status === 503)).toEqual({ status: 400, b: 'a' });
    expect(await list.run(async (b) => ({ status: 503, b }), (o) => o.ok && o.value.status === 503)).toEqual({ status: 503, b: 'b' });
    await expect(list.run((b) => Promise.reject(new Error(`${b} down`)), () => true)).rejects.toThrow(/down/);
  });
});
