// What a zod schema looks like on the wire, for /v1/openapi.json. The spec is built from the
// request side of each schema (what a client sends), but a query value is always a string that
// the validator turns into a number, and rules such as "give at least one of" live in refinements
// that JSON Schema cannot read. `wireOverride` puts the validator's own limits back: a pipe from a
// string into a number is described by the number's side (its type, minimum and maximum), and a
// schema marked with `wireAs` / `wireAlso` carries the JSON Schema its rule is written as, next
// to the code that enforces it.
import { z } from 'zod';

type Json = Record<string, unknown>;

const replaced = new WeakMap<z.ZodType, Json>();
const extended = new WeakMap<z.ZodType, Json>();

/** Describe `schema` on the wire as exactly `json` (e.g. a comma-separated list as a pattern). */
export function wireAs<S extends z.ZodType>(schema: S, json: Json): S {
  replaced.set(schema, json);
  return schema;
}

/** Add `json` to what `schema` describes (e.g. `anyOf` of required fields for a refinement). */
export function wireAlso<S extends z.ZodType>(schema: S, json: Json): S {
  extended.set(schema, json);
  return schema;
}

function outputJson(schema: z.ZodType): Json {
  const j = z.toJSONSchema(schema, { io: 'output', unrepresentable: 'any', target: 'draft-2020-12' }) as Json;
  delete j.$schema;
  return j;
}

function replaceWith(target: Json, json: Json): void {
  // Keep what the wrapper said about the field; the shape is the replacement's.
  const description = target.description;
  for (const k of Object.keys(target)) delete target[k];
  Object.assign(target, json);
  if (description !== undefined && json.description === undefined) target.description = description;
}

/** The `override` hook for z.toJSONSchema that applies the rules above. */
export function wireOverride(ctx: { zodSchema: unknown; jsonSchema: Json }): void {
  const schema = ctx.zodSchema as z.ZodType;
  const as = replaced.get(schema);
  if (as) {
    replaceWith(ctx.jsonSchema, as);
    return;
  }
  const also = extended.get(schema);
  if (also) Object.assign(ctx.jsonSchema, also);
  const def = (schema as unknown as { _zod: { def: { type: string; out?: z.ZodType } } })._zod.def;
  if (def.type === 'pipe' && def.out && ctx.jsonSchema.type === 'string') {
    const out = outputJson(def.out);
    if (out.type === 'integer' || out.type === 'number' || out.type === 'boolean') replaceWith(ctx.jsonSchema, out);
  }
}
