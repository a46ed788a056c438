// Request bodies: JSON, or YAML for task specs. The raw bytes are checked for valid UTF-8 with
// a fatal decoder first (an invalid byte is a 400, never a silently replaced character), then
// parsed, after a non-recursive scan has checked its nesting (at most MAX_NESTING levels) and,
// for YAML, its aliases (util/nesting.ts). Every failure is a 400 naming `body` (or `content-type`).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import YAML from 'yaml';
import { FastGpuError, invalid } from '../core/errors.js';
import { jsonNestingError, MAX_YAML_ALIASES, valueNestingError, yamlNestingError } from '../util/nesting.js';

/** Largest body accepted on the public API (agents get more for log batches). */
export const BODY_LIMIT = 1024 * 1024;
export const AGENT_BODY_LIMIT = 16 * 1024 * 1024;

const JSON_TYPES = ['application/json'];
const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml'];

function decodeUtf8(buf: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(buf);
  } catch {
    throw invalid('body', 'is not valid UTF-8');
  }
}

export function parseJsonText(text: string): unknown {
  if (text.trim() === '') return undefined;
  // Measured before parsing: a parser must never see unbounded nesting (util/nesting.ts).
  const deep = jsonNestingError(text);
  if (deep) throw invalid('body', `JSON ${deep}`);
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw invalid('body', `malformed JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
}

export function parseYamlText(text: string): unknown {
  if (text.trim() === '') return undefined;
  const deep = yamlNestingError(text);
  if (deep) throw invalid('body', `YAML ${deep}`);
  const doc = YAML.parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw invalid('body', `malformed YAML: ${e.message.split('\n')[0] ?? e.code}`);
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_YAML_ALIASES }) as unknown;
  } catch (e) {
    throw invalid('body', `malformed YAML: ${e instanceof Error ? e.message : String(e)}`);
  }
  // Aliases can nest a value deeper than its text.
  const deepValue = valueNestingError(value);
  if (deepValue) throw invalid('body', `YAML ${deepValue}`);
  return value;
}

/** Replace Fastify's body parsers with ours: JSON everywhere, YAML where a route allows it. */
export function installBodyParsers(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(JSON_TYPES, { parseAs: 'buffer' }, (_req: FastifyRequest, body: Buffer, done) => {
    try {
      done(null, parseJsonText(decodeUtf8(body)));
    } catch (e) {
      done(e as Error, undefined);
    }
  });
  app.addContentTypeParser(YAML_TYPES, { parseAs: 'buffer' }, (_req: FastifyRequest, body: Buffer, done) => {
    try {
      done(null, parseYamlText(decodeUtf8(body)));
    } catch (e) {
      done(e as Error, undefined);
    }
  });
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (req: FastifyRequest, _body: Buffer, done) => {
    done(
      new FastGpuError(
        'INVALID_ARGUMENT',
        `content-type: ${JSON.stringify(req.headers['content-type'] ?? '')} is not supported: send application/json (or application/yaml for task specs)`,
        'content-type',
      ),
      undefined,
    );
  });
}
