// A command that execve would refuse (E2BIG) is refused at submit over HTTP, naming the limit,
// and nothing is stored.
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_ARG_STRLEN } from '../core/argv-limits.js';
import { makeHarness, type Harness } from './testing.js';

let h: Harness;
beforeAll(async () => {
  h = await makeHarness();
});
afterAll(async () => {
  await h.close();
});

describe('submit refuses commands Linux could never start', () => {
  it('a single argument over 128 KiB is a 400 naming MAX_ARG_STRLEN; one at the limit is accepted', async () => {
    const over = await h.req('POST', '/v1/tasks', { command: ['python', '-c', 'a'.repeat(131_072)] });
    expect(over.status).toBe(400);
    expect(over.body.error.field).toBe('command.2');
    expect(over.body.error.message).toMatch(/MAX_ARG_STRLEN = 131072 bytes \(128 KiB\), so it could never start/);
    expect(over.raw.length).toBeLessThan(1000);
    expect((await h.req('GET', '/v1/tasks')).body.tasks).toHaveLength(0);
    const at = await h.req('POST', '/v1/tasks', { command: ['python', '-c', 'a'.repeat(131_071)] });
    expect(at.status).toBe(201);
  });

  it('argv over 1 MiB in all, within the 1 MiB body limit, is a 400 naming the bound', async () => {
    const body = JSON.stringify({ command: ['echo', ...Array.from({ length: 4095 }, () => 'e'.repeat(250))] });
    expect(body.length).toBeLessThan(1024 * 1024);
    const r = await h.req('POST', '/v1/tasks?dryRun=1', body);
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/arguments and environment take .* together; at most 1024 KiB/);
  });
});

it('the bound is the kernel’s: execve on this host takes an argument of MAX_ARG_STRLEN - 1 bytes and refuses one more', () => {
  expect(spawnSync('/bin/true', ['a'.repeat(MAX_ARG_STRLEN - 1)]).status).toBe(0);
  expect((spawnSync('/bin/true', ['a'.repeat(MAX_ARG_STRLEN)]).error as NodeJS.ErrnoException | undefined)?.code).toBe('E2BIG');
});
