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
    const path = prepareResultFile(dir, false);
    expect(readResult(dir)).toEqual({});
    writeFileSync(path, '{"loss": 0.125, "tags": ["a"]}\n');
    expect(readResult(dir)).toEqual({ result: '{"loss": 0.125, "tags": ["a"]}\n' });
  });

  it('is writable by another user when the task runs as one', () => {
    const path = prepareResultFile(dir, true);
    expect(statSync(path).mode & 0o777).toBe(0o666);
  });

  it('names what it does not take: not JSON, or too large', () => {
    const path = prepareResultFile(dir, false);
    writeFileSync(path, 'loss=0.1');
    expect(readResult(dir).resultError).toMatch(/^not JSON/);
    writeFileSync(path, JSON.stringify('x'.repeat(AGENT_LIMITS.result)));
    expect(readResult(dir).resultError).toContain(`more than the ${AGENT_LIMITS.result} allowed`);
    rmSync(path);
    expect(readResult(dir)).toEqual({});
  });
});
