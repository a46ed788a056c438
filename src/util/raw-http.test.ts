// rawRequest against real loopback servers: bodies both ways, a refused connection, and TLS with
// the trust of a fetchTrusting fetch (a private CA made by openssl), refused without it.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttp, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { rawRequest } from './raw-http.js';
import { fetchTrusting } from './tls.js';

const dir = mkdtempSync(join(tmpdir(), 'fastgpu-raw-http-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Answers with the sha256 of the body it got, and its length, in headers; the body echoed. */
function echo(req: IncomingMessage, res: ServerResponse): void {
  const parts: Buffer[] = [];
  req.on('data', (b: Buffer) => parts.push(b));
  req.on('end', () => {
    const body = Buffer.concat(parts);
    const status = req.url === '/missing' ? 404 : 200;
    res.writeHead(status, { 'x-got-sha256': createHash('sha256').update(body).digest('hex'), 'x-got-auth': req.headers.authorization ?? '' }).end(body);
  });
}

async function listen(server: ReturnType<typeof createHttp>): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

describe('rawRequest', () => {
  it('sends a Buffer body whole and gives the answer back with status and headers', async () => {
    const server = createHttp(echo);
    const port = await listen(server);
    try {
      const body = Buffer.alloc(5 * 1024 * 1024, 7);
      const r = await rawRequest(`http://127.0.0.1:${port}/x`, { method: 'POST', headers: { authorization: 'Bearer t' }, body });
      expect(r).toMatchObject({ status: 200, ok: true });
      expect(r.header('X-Got-Sha256')).toBe(createHash('sha256').update(body).digest('hex'));
      expect(r.header('x-got-auth')).toBe('Bearer t');
      expect(r.header('x-absent')).toBeNull();
      expect(r.body.equals(body)).toBe(true);
      const missing = await rawRequest(`http://127.0.0.1:${port}/missing`, { method: 'GET', headers: {} });
      expect(missing).toMatchObject({ status: 404, ok: false });
    } finally {
      server.close();
    }
  });

  it('rejects as fetch does when nothing listens: a TypeError with the cause', async () => {
    const server = createHttp(echo);
    const port = await listen(server);
    server.close();
    await once(server, 'close');
    const err = await rawRequest(`http://127.0.0.1:${port}/`, { method: 'GET', headers: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect((err as { cause?: { code?: string } }).cause?.code).toBe('ECONNREFUSED');
  });

  it("trusts a private certificate through a fetchTrusting fetch's dispatcher, and refuses it without", async () => {
    await promisify(execFile)('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=fastgpu-test',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ]);
    const cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
    const server = createHttps({ cert, key: readFileSync(join(dir, 'key.pem')) }, echo);
    const port = await listen(server as unknown as ReturnType<typeof createHttp>);
    try {
      const url = `https://127.0.0.1:${port}/x`;
      const r = await rawRequest(url, { method: 'POST', headers: {}, body: Buffer.from('hello') }, fetchTrusting(cert));
      expect(r.body.toString()).toBe('hello');
      const err = await rawRequest(url, { method: 'GET', headers: {} }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TypeError);
      expect(String((err as { cause?: { code?: string } }).cause?.code)).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY|DEPTH_ZERO/);
    } finally {
      server.close();
    }
  });
});
