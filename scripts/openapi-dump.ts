// Writes the OpenAPI document a server serves at /v1/openapi.json to a file (or stdout), from an
// in-process server over a throwaway SQLite store: the input of `redocly lint` and of
// openapi-typescript (`npm run lint:api`, `npm run gen:api-types`).
// Usage: node --import tsx scripts/openapi-dump.ts [OUT.json]
import { writeFileSync } from 'node:fs';
import { makeHarness } from '../src/server/testing.js';

const out = process.argv[2];
const h = await makeHarness();
try {
  const r = await h.req('GET', '/v1/openapi.json');
  if (r.status !== 200) throw new Error(`GET /v1/openapi.json answered ${r.status}: ${r.raw.slice(0, 200)}`);
  const text = `${JSON.stringify(r.body, null, 2)}\n`;
  if (out) writeFileSync(out, text);
  else process.stdout.write(text);
} finally {
  await h.close();
}
