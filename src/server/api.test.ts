// RouteBook: a route reads only the body it declares, and the spec describes what the validators
// enforce (wire.ts) rather than only the request side of each zod schema.
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { buildOpenApi, RouteBook } from './api.js';
import type { Authenticator } from './auth.js';
import { installBodyParsers } from './body.js';
import { makeErrorHandler } from './errors.js';
import { wireAlso, wireAs } from './wire.js';

const noAuth = {} as Authenticator;

async function bookWith(add: (book: RouteBook) => void) {
  const app = Fastify({ logger: false });
  installBodyParsers(app);
  app.setErrorHandler(makeErrorHandler(() => {}));
  const book = new RouteBook(app, noAuth);
  add(book);
  await app.ready();
  return { app, book };
}

describe('RouteBook', () => {
  it('a handler that reads a body its route does not declare answers 500 (a bug), and one that declares it reads it', async () => {
    const { app } = await bookWith((book) => {
      book.add({ method: 'POST', url: '/undeclared', tag: 't', summary: 's', auth: false, handler: async ({ req }) => ({ got: req.body }) });
      book.add({ method: 'POST', url: '/declared', tag: 't', summary: 's', auth: false, bodyDoc: z.object({ a: z.number() }), handler: async ({ req }) => ({ got: req.body }) });
      book.add({ method: 'POST', url: '/none', tag: 't', summary: 's', auth: false, handler: async ({ body }) => ({ got: body ?? null }) });
    });
    const send = (url: string) => app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: '{"a":1}' });
    const bad = await send('/undeclared');
    expect(bad.statusCode).toBe(500);
    expect(bad.json().error.code).toBe('INTERNAL');
    expect((await send('/declared')).json()).toEqual({ got: { a: 1 } });
    // The handler's own `body` is undefined for a route without one: it cannot read what it did not declare.
    expect((await send('/none')).json()).toEqual({ got: null });
    await app.close();
  });
});

describe('buildOpenApi states the validators’ side', () => {
  it('a string piped into a bounded integer is an integer with its bounds; wireAs and wireAlso apply', async () => {
    const int = z.string().regex(/^\d+$/).transform(Number).pipe(z.number().int().min(2).max(9));
    const list = wireAs(z.string().transform((s) => s.split(',')), { type: 'string', pattern: '^[a-z]+(,[a-z]+)*$' });
    const body = wireAlso(z.object({ a: z.string().optional(), b: z.string().optional() }), { anyOf: [{ required: ['a'] }, { required: ['b'] }] });
    const { app, book } = await bookWith((b) => {
      b.add({ method: 'POST', url: '/x', tag: 't', summary: 's', auth: false, query: z.strictObject({ n: int.optional().describe('a number'), l: list.optional() }), body, handler: async () => ({}) });
    });
    const spec = buildOpenApi(book.docs, '0') as { paths: Record<string, Record<string, { parameters: { name: string; schema: unknown; description?: string }[]; requestBody: { content: Record<string, { schema: Record<string, unknown> }> } }>> };
    const op = spec.paths['/x']!.post!;
    expect(op.parameters.find((p) => p.name === 'n')).toMatchObject({ schema: { type: 'integer', minimum: 2, maximum: 9, description: 'a number' } });
    expect(op.parameters.find((p) => p.name === 'l')?.schema).toEqual({ type: 'string', pattern: '^[a-z]+(,[a-z]+)*$' });
    expect(op.requestBody.content['application/json']!.schema.anyOf).toEqual([{ required: ['a'] }, { required: ['b'] }]);
    await app.close();
  });
});
