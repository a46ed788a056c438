import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AGENT_LIMITS } from '../protocol/agent.js';
import { prepareResultFile, readResult } from './result.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'fastgpu-result-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('$FASTGPU_RESULT', () => {
  it('starts empty (no result) and reads back the JSON a task wrote', () => {
    const path = prepareResultFile(dir);
    expect(readResult(dir)).toEqual({});
    writeFileSync(path, '{"loss": 0.125, "tags": ["a"]}\n');
    expect(readResult(dir)).toEqual({ result: '{"loss": 0.125, "tags": ["a"]}\n' });
  });

  it("is the task's own (0600) when it runs as another user", () => {
    const root = process.getuid?.() === 0;
    const owner = root ? { uid: 61999, gid: 61999 } : { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
    const path = prepareResultFile(dir, owner);
    const st = statSync(path);
    expect([st.mode & 0o777, st.uid, st.gid]).toEqual([0o600, owner.uid, owner.gid]);
  });

  it('names what it does not take: not JSON, or too large', () => {
    const path = prepareResultFile(dir);
    writeFileSync(path, 'loss=0.1');
    expect(readResult(dir).resultError).toMatch(/^not JSON/);
    writeFileSync(path, JSON.stringify('x'.repeat(AGENT_LIMITS.result)));
    expect(readResult(dir).resultError).toContain(`more than the ${AGENT_LIMITS.result} allowed`);
    rmSync(path);
    expect(readResult(dir)).toEqual({});
  });
});
