// The agent's side of joining (agent/join.ts) against a real server over HTTP: the join token is
// traded once and the credential kept 0600; a restart reuses it without a token; renewal (on the
// injected clock) stores the new one and the old one stops working.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { makeHarness, type Harness } from '../server/testing.js';
import { CredentialRenewer, JOIN_FILE, joinedCredential } from './join.js';

let h: Harness;
let url: string;
let stateDir: string;
beforeEach(async () => {
  h = await makeHarness({ nodeCredentialTtlMs: 3_000_000 });
  url = await h.server.app.listen({ host: '127.0.0.1', port: 0 });
  stateDir = mkdtempSync(join(tmpdir(), 'fastgpu-join-'));
});
afterEach(async () => {
  await h.close();
  rmSync(stateDir, { recursive: true, force: true });
});

const whoAmI = async (credential: string): Promise<number> =>
  (await fetch(`${url}/v1/agent/renew`, { method: 'POST', headers: { authorization: `Bearer ${credential}` } })).status;

it('joins once, keeps the credential 0600, reuses it, and renews it on time', async () => {
  const jt = (await h.req('POST', '/v1/admin/join-tokens', { labels: { rack: 'r9' } })).body.token as string;
  const opts = { serverUrl: url, stateDir, name: 'gpu-a', agentVersion: '0.1.0', clock: h.clock };
  const joined = await joinedCredential({ ...opts, joinToken: jt });
  expect(joined).toMatchObject({ node: 'gpu-a', labels: { rack: 'r9' }, server: url });
  const file = join(stateDir, JOIN_FILE);
  expect(statSync(file).mode & 0o777).toBe(0o600);
  // A restart: no token needed (the one-use token would be refused anyway).
  expect((await joinedCredential(opts)).credential).toBe(joined.credential);
  // Another name, or no stored credential and no token, is an error saying what to do.
  await expect(joinedCredential({ ...opts, name: 'gpu-b' })).rejects.toThrow(/holds the credential of node gpu-a .*--join-token/);

  let renewed = 0;
  let onRenewed!: () => void;
  const renewal = new Promise<void>((res) => (onRenewed = res));
  const r = new CredentialRenewer(joined, {
    stateDir,
    clock: h.clock,
    onRenewed: () => {
      renewed++;
      onRenewed();
    },
  });
  r.start();
  h.clock.advance(2_000_000); // renewAt: two thirds of the 3,000 s lifetime
  await renewal;
  r.stop();
  expect(renewed).toBe(1);
  expect(r.credential).not.toBe(joined.credential);
  expect(JSON.parse(readFileSync(file, 'utf8')).credential).toBe(r.credential);
  expect(await whoAmI(joined.credential)).toBe(401);
});

it('a refused join names the reason and writes nothing', async () => {
  await expect(joinedCredential({ serverUrl: url, stateDir, name: 'gpu-a', agentVersion: '0.1.0', clock: h.clock, joinToken: 'fgj_wrong' })).rejects.toThrow(/401 unknown join token/);
  expect(() => statSync(join(stateDir, JOIN_FILE))).toThrow();
});
