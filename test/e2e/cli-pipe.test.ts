// bin/fastgpu as a real process where a pipe and a bare command matter (issue 22, item 8).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, requireBuild } from './harness.js';

let home: string;
beforeAll(() => {
  requireBuild();
  home = mkdtempSync(join(tmpdir(), 'fastgpu-pipe-'));
});
afterAll(() => rmSync(home, { recursive: true, force: true }));

/** Runs bin/fastgpu; with `closeStdout`, its reader goes away at once, as `| head` does after a line. */
function fastgpu(args: string[], closeStdout: boolean): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: home, env: { PATH: process.env.PATH, FASTGPU_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    if (closeStdout) child.stdout.destroy();
    else child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('bin/fastgpu', () => {
  it('exits quietly when the reader of its output goes away (| head)', async () => {
    const r = await fastgpu(['--help'], true);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('a bare fastgpu prints the help on stdout and exits 0', async () => {
    const r = await fastgpu([], false);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: fastgpu \[options\] \[command\]/);
    expect(r.stderr).toBe('');
  });
});
