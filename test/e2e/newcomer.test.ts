// What a newcomer meets on a fresh clone (issue 22, "Seen" 1): `npm install` must not warn that a
// dependency wants a newer Node than `engines` promises (cookie@2.0.2 wanted Node 22 while the
// package said >=20.19).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const json = (file: string): any => JSON.parse(readFileSync(join(ROOT, file), 'utf8'));

describe('a fresh clone', () => {
  it('every locked dependency runs on the oldest Node that package.json engines admits, and on this one', () => {
    const ours = json('package.json').engines.node as string;
    const floor = semver.minVersion(ours)!.version;
    expect(floor).toBe('20.19.0');
    const lock = json('package-lock.json') as { packages: Record<string, { engines?: { node?: string }; optional?: boolean }> };
    const refused: string[] = [];
    for (const [path, p] of Object.entries(lock.packages)) {
      const wants = p.engines?.node;
      if (!path || !wants || p.optional) continue;
      for (const node of [floor, process.versions.node]) if (!semver.satisfies(node, wants)) refused.push(`${path} wants node ${wants}; Node ${node} is not`);
    }
    expect(refused).toEqual([]);
  });
});
