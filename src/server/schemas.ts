// Zod schemas of the public API: the queries and params every route validates at the edge,
// and the shapes of the answers (used to build /v1/openapi.json). Task specs and vGPU bodies
// are validated by core (parseTaskSpec / parseVgpuRequest) with the schemas the spec shows.
import { z } from 'zod';
import { gpuObjectSchema, resourcesSchema, specSchema, vgpuSchema } from '../core/spec.js';
import { TaskStateSchema } from '../protocol/views.js';
import { wireAlso, wireAs } from './wire.js';

export { TaskStateSchema };

export const queryBool = z
  .enum(['true', 'false', '1', '0', ''])
  .transform((s) => s === 'true' || s === '1' || s === '')
  .describe('true or false');

export const queryInt = (min: number, max: number) =>
  z
    .string()
    .regex(/^-?\d{1,16}$/, 'must be an integer')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

/**
 * A time in a query, read by core's parseInstant: its pattern (ISO 8601, a date required, an
 * optional time and offset). Whether the date exists (and is after 1970) it checks beyond that.
 */
export const isoTimeQuery = wireAs(z.string().max(64), {
  type: 'string',
  maxLength: 64,
  pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]{1,3})?)?)?\\s*([Zz]|[+-][0-9]{2}:?[0-9]{2})?$',
});

export const IdParamsSchema = z.strictObject({ id: z.string().min(1).max(128) });

const tenantQuery = z.string().min(1).max(64).optional().describe('admins: act for this tenant (default: the token’s)');
export const SubmitQuerySchema = z.strictObject({ dryRun: queryBool.optional(), tenant: tenantQuery });

export const TaskListQuerySchema = z.strictObject({
  state: wireAs(
    z
      .string()
      .max(200)
      .transform((s) => s.split(',').map((x) => x.trim().toUpperCase()).filter((x) => x !== ''))
      .pipe(z.array(TaskStateSchema)),
    // On the wire: states joined by commas (the server also takes lower case and spaces).
    { type: 'string', maxLength: 200, pattern: `^(${TaskStateSchema.options.join('|')})(,(${TaskStateSchema.options.join('|')}))*$` },
  )
    .optional()
    .describe('comma-separated states, e.g. PENDING,RUNNING'),
  name: z.string().max(256).optional().describe('substring of the name'),
  node: z.string().max(256).optional().describe('node name or id'),
  vgpu: z.string().max(128).optional(),
  gang: z.string().max(128).optional(),
  tenant: tenantQuery,
  limit: queryInt(1, 100_000).optional(),
  before: z.string().max(128).optional().describe('task id: only tasks created before it (paging, newest first)'),
  all: queryBool.optional().describe('include every finished task, not only the last 100'),
});

export const LogsQuerySchema = z.strictObject({
  after: queryInt(-1, Number.MAX_SAFE_INTEGER).optional().describe('position from a previous page (`next`)'),
  limit: queryInt(1, 10_000).optional(),
  attempt: queryInt(1, 1_000_000).optional(),
  stream: z.enum(['stdout', 'stderr']).optional(),
  follow: queryBool.optional().describe('stream as server-sent events until the task is finished'),
});

export const WaitQuerySchema = z.strictObject({
  timeoutMs: queryInt(0, 600_000).optional().describe('default 30000'),
});

// A task's history is usually a handful of events; a page of 1000 holds even a long one.
export const TASK_EVENTS_DEFAULT_LIMIT = 100;
export const TASK_EVENTS_MAX_LIMIT = 1000;

export const TaskEventsQuerySchema = z.strictObject({
  after: queryInt(0, Number.MAX_SAFE_INTEGER).optional().describe('only events after this seq (a previous page’s `next`)'),
  limit: queryInt(1, TASK_EVENTS_MAX_LIMIT).optional().describe(`default ${TASK_EVENTS_DEFAULT_LIMIT}`),
});

export const EventsQuerySchema = z.strictObject({
  after: queryInt(0, Number.MAX_SAFE_INTEGER).optional().describe('resume after this seq (or send Last-Event-ID)'),
});

export const AssignmentsQuerySchema = z.strictObject({
  nodeId: z.string().min(1).max(128),
  waitMs: queryInt(0, 120_000).optional().describe('long-poll up to this long; default 25000'),
});

// ---- bodies parsed by core: the validators' own schemas (core/spec.ts), so that the spec states
// what the server accepts. What core checks in code beyond them (quantities such as "4GiB", a
// model's name, a vGPU's amount) is put back here as the JSON Schema it can be written as.

const jsonOf = (schema: z.ZodType): Record<string, unknown> => {
  const j = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' }) as Record<string, unknown>;
  delete j.$schema;
  return j;
};

// `resources.gpu` is read by parseGpuRequest: a number, a string, or a GPU object; null (or 0) is no GPU.
wireAs(resourcesSchema.shape.gpu, {
  ...jsonOf(z.union([z.number(), z.string(), gpuObjectSchema]).nullable()),
  description: '1 | 0.5 | "A100:0.5" | "2xH100" | {count, model} | {memory: "20GiB"} | {tflops: 20}; null or 0: no GPU',
});

// `inputs` is read by parseInputs (core/data/io-spec.ts): datasets staged before the task starts.
wireAs(specSchema.shape.inputs, {
  type: 'array',
  items: {
    type: 'object',
    additionalProperties: false,
    required: ['dataset'],
    properties: {
      dataset: { type: 'string', description: 'NAME or NAME@VERSION' },
      path: { type: 'string', description: 'relative to the working directory; default the name' },
      name: { type: 'string', description: 'FASTGPU_INPUT_<NAME>; default the dataset name' },
    },
  },
  description: 'datasets staged read-only before the task starts',
});

// `outputs` is read by parseOutputs (core/data/outputs-spec.ts): uploaded after a successful exit.
wireAs(specSchema.shape.outputs, {
  type: 'array',
  items: {
    type: 'object',
    additionalProperties: false,
    required: ['path', 'dataset'],
    properties: {
      path: { type: 'string', description: 'a folder or file, relative to the working directory' },
      dataset: { type: 'string', description: 'the dataset it becomes a new version of' },
    },
  },
  description: 'folders or files uploaded as new dataset versions after the task exits 0',
});

/** The task spec (the JSON form of the YAML), as parseTaskSpec validates it: POST /v1/quote. */
export const TaskSpecInputSchema = specSchema.describe('A task spec (the JSON form of the YAML)');

/**
 * POST /v1/tasks: the spec, and beside it what arrays-submit.ts reads off the body before the
 * spec is parsed (arrays, dependencies, map inputs, a reduce step).
 */
export const TaskSubmitBodySchema = specSchema
  .extend({
    array: z.union([z.number(), z.string()]).nullish().describe('an array of N elements: 100, "0-99", "0-99:2%8" (at most 8 at once)'),
    after: z
      .union([z.string(), z.strictObject({ id: z.string(), on: z.string().optional() }), z.array(z.union([z.string(), z.strictObject({ id: z.string(), on: z.string().optional() })]))])
      .nullish()
      .describe('dependencies: "t_abc", "a_xyz:any", or {id, on: ok|any|failed}, or a list of them'),
    inputs: z.array(z.unknown()).nullish().describe('map: element i of the array gets inputs[i] (as JSON) in FASTGPU_INPUT'),
    reduce: z.string().nullish().describe('the id of an array (a_…) whose results this one task receives'),
  })
  .describe('A task spec (the JSON form of the YAML), with array, after, inputs or reduce');

/** The body of POST /v1/vgpus, as parseVgpuRequest validates it; it needs one of these four. */
export const VgpuCreateSchema = wireAlso(vgpuSchema, { anyOf: [{ required: ['gpu'] }, { required: ['memory'] }, { required: ['tflops'] }, { required: ['model'] }] });

// ---- answers: the views are declared once, in protocol/views.ts

export {
  AttemptViewSchema,
  GpuListSchema,
  GpuViewSchema,
  LogChunkViewSchema,
  LogPageSchema,
  NodeListSchema,
  NodeViewSchema,
  TaskDetailViewSchema,
  TaskListSchema,
  TaskPageSchema,
  TaskViewSchema,
  VgpuListSchema,
  VgpuViewSchema,
} from '../protocol/views.js';

/** A PoolEvent as stored and streamed: `at` in epoch milliseconds, `seq` increasing. */
export const PoolEventSchema = z.object({
  seq: z.number(),
  at: z.number(),
  type: z.string(),
  taskId: z.string().optional(),
  nodeId: z.string().optional(),
  vgpuId: z.string().optional(),
  data: z.record(z.string(), z.unknown()),
});

export const TaskEventPageSchema = z.object({
  events: z.array(PoolEventSchema),
  next: z.number().optional().describe('present when more events follow: pass as `after` for the next page'),
});

export const ErrorSchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), field: z.string().optional() }),
});

export const OkSchema = z.object({ ok: z.literal(true) });
