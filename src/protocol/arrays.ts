// The JSON views of task arrays (issue 14): an array's status, its elements' results, and what a
// cancel did. Declared once as zod schemas; the server builds them (server/arrays.ts), the SDK
// reads them.
import { z } from 'zod';
import { TaskListSchema, TaskStateSchema, TaskViewSchema } from './views.js';

export const ArrayUsageSchema = z.object({
  gpuSeconds: z.number().describe('GPU-seconds of every element’s attempts charged so far (a fraction counts its fraction)'),
  listAmount: z.number().describe('price before promotions, in the price book’s currency'),
  discountAmount: z.number().describe('what promotions took off'),
  chargedAmount: z.number().describe('list − discount'),
  chargedMicros: z.string(),
  promotions: z.array(z.string()),
  currency: z.string(),
});

export const ArrayViewSchema = z.object({
  id: z.string(),
  name: z.string(),
  tenant: z.string(),
  size: z.number(),
  max: z.number().nullable().describe('the %N cap: most elements holding resources at once'),
  counts: z.partialRecord(TaskStateSchema, z.number()).describe('elements by state'),
  done: z.boolean().describe('every element has finished'),
  ok: z.boolean().describe('every element finished SUCCEEDED'),
  createdAt: z.string(),
  finishedAt: z.string().nullable(),
  usage: ArrayUsageSchema,
});
export type ArrayView = z.infer<typeof ArrayViewSchema>;

/**
 * What a submit that made an array answers beside its first element: the array in brief, not
 * every element's view (10,000 of those were 6.9 MB). The elements are paged at `links.tasks`.
 */
export const ArraySubmittedSchema = z.object({
  id: z.string().describe('the array id (a_…), for fastgpu array status|tasks|results|cancel and wait'),
  name: z.string(),
  tenant: z.string(),
  size: z.number().describe('elements made'),
  max: z.number().nullable().describe('the %N cap: most elements holding resources at once'),
  range: z.string().describe('the indices, canonical (0-9999%64)'),
  firstTaskId: z.string().describe('the task id of the element with the lowest index'),
  lastTaskId: z.string().describe('the task id of the element with the highest index'),
  counts: z.partialRecord(TaskStateSchema, z.number()).describe('elements by state when the answer was made'),
  links: z.object({
    status: z.string().describe('GET: counts by state and usage'),
    tasks: z.string().describe('GET: the elements by index (?afterIndex=&limit= pages them)'),
    results: z.string().describe('GET: each element’s result by index'),
  }),
});
export type ArraySubmitted = z.infer<typeof ArraySubmittedSchema>;

/**
 * `POST /v1/tasks`'s answer: the tasks made; for an array only its first element in `tasks`,
 * and the array itself in `array`.
 */
export const TaskSubmitAnswerSchema = TaskListSchema.extend({
  array: ArraySubmittedSchema.optional().describe('present when the spec made an array: `tasks` then holds its first element only'),
});

export const ArrayResultSchema = z.object({
  index: z.number(),
  taskId: z.string(),
  state: TaskStateSchema,
  exitCode: z.number().nullable(),
  result: z.unknown().optional().describe('what the element wrote to $FASTGPU_RESULT, when it did'),
  reasonMessage: z.string().nullable(),
});
export const ArrayResultsSchema = z.object({ array: ArrayViewSchema, results: z.array(ArrayResultSchema) });
export type ArrayResults = z.infer<typeof ArrayResultsSchema>;

export const ArrayTasksSchema = z.object({
  array: ArrayViewSchema,
  tasks: z.array(TaskViewSchema),
  next: z.number().optional().describe('more elements follow: ask again with afterIndex=next'),
});
export const ArrayCancelSchema = z.object({ array: ArrayViewSchema, cancelled: z.number().describe('elements this request cancelled or asked to stop') });

/** `GET /v1/usage`'s `groups`: usage summed per task array, map and sweep (server/arrays-usage.ts). */
export const UsageGroupSchema = z.object({
  kind: z.enum(['array', 'map', 'sweep']).describe('a task array, a map (an array with inputs), or a sweep'),
  id: z.string().describe('a_… (array, map) or sw_… (sweep)'),
  name: z.string(),
  tenant: z.string(),
  createdAt: z.string(),
  size: z.number().describe('elements of an array; trials made so far of a sweep'),
  counts: z.record(z.string(), z.number()).describe('elements by task state, or trials by trial state (PRUNED included)'),
  tasks: z.number().describe('its tasks with usage in the period'),
  gpuSeconds: z.number(),
  listAmount: z.number(),
  discountAmount: z.number(),
  chargedAmount: z.number(),
  listMicros: z.string(),
  discountMicros: z.string(),
  chargedMicros: z.string(),
  promotions: z.array(z.string()),
});
export type UsageGroup = z.infer<typeof UsageGroupSchema>;
