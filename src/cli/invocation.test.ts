import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliCommand } from './invocation.js';

describe('cliCommand', () => {
  it('is fastgpu on PATH, npx fastgpu in a project that installed it, bin/fastgpu in a clone', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fastgpu-inv-'));
    try {
      const onPath = join(dir, 'bin');
      mkdirSync(onPath);
      writeFileSync(join(onPath, 'fastgpu'), '#!/bin/sh\n');
      chmodSync(join(onPath, 'fastgpu'), 0o755);
      expect(cliCommand({ PATH: onPath }, '/anywhere', '/clone')).toBe('fastgpu');
      expect(cliCommand({ PATH: '' }, '/proj', '/proj/node_modules/fastgpu')).toBe('npx fastgpu');
      // Under npx, PATH holds the project's node_modules/.bin; the user's shell does not.
      const npxBin = join(dir, 'proj', 'node_modules', '.bin');
      mkdirSync(npxBin, { recursive: true });
      writeFileSync(join(npxBin, 'fastgpu'), '#!/bin/sh\n');
      chmodSync(join(npxBin, 'fastgpu'), 0o755);
      expect(cliCommand({ PATH: npxBin }, join(dir, 'proj'), join(dir, 'proj', 'node_modules', 'fastgpu'))).toBe('npx fastgpu');
      expect(cliCommand({ PATH: '' }, '/proj/sub', '/proj/node_modules/fastgpu')).toBe('npx fastgpu');
      expect(cliCommand({ PATH: '' }, '/elsewhere', '/proj/node_modules/fastgpu')).toBe('/proj/node_modules/fastgpu/bin/fastgpu');
      expect(cliCommand({ PATH: '' }, '/clone', '/clone')).toBe('bin/fastgpu');
      expect(cliCommand({ PATH: '' }, '/home', '/home/clone')).toBe('clone/bin/fastgpu');
      expect(cliCommand({ PATH: '' }, '/tmp/x', '/home/clone')).toBe('/home/clone/bin/fastgpu');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
