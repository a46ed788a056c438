// The request schemas /v1/openapi.json serves for task specs and vGPUs are the validators' own
// (issue 21): judged by an independent JSON Schema validator (Ajv, draft 2020-12), every body the
// server accepts is valid against the served schema (the spec is never stricter than the server),
// and every body the served schema refuses the server refuses too (its shape, its fields, their
// types and limits are the validator's). Bodies the schema lets through that core still refuses
// (a quantity it cannot read, a reserved variable) are the rules JSON Schema cannot state.
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeHarness, type Harness } from './testing.js';

let h: Harness;
let spec: any;
beforeAll(async () => {
  h = await makeHarness();
  spec = (await h.req('GET', '/v1/openapi.json')).body;
});
afterAll(async () => {
  await h.close();
});

const ajv = new Ajv2020({ strict: false, allErrors: true });
const requestSchema = (path: string): ((body: unknown) => boolean) => {
  const schema = spec.paths[path].post.requestBody.content['application/json'].schema as object;
  const validate = ajv.compile(schema);
  return (body) => validate(body) as boolean;
};

const cmd = { command: 'true' };
const gpu = (g: unknown) => ({ ...cmd, resources: { gpu: g } });

// Bodies the server takes: every GPU request form, every field, nulls for "not given".
const acceptedSpecs: unknown[] = [
  cmd,
  { command: ['python', 'train.py'] },
  { ...cmd, name: 'n', env: { A: '1' }, workdir: '/tmp', priority: 100, retries: 100, gang: 2, preemptible: true, timeLimit: '2h', vgpu: null },
  { ...cmd, priority: 0, retries: 0, gang: 1, timeLimit: 90 },
  { ...cmd, name: null, env: null, resources: null, priority: null, retries: null, timeLimit: null, preemptible: null, gang: null, workdir: null },
  gpu(1),
  gpu(0.5),
  gpu('A100:0.5'),
  gpu('2xH100'),
  gpu({ count: 2, model: 'H100' }),
  gpu({ memory: '20GiB' }),
  gpu({ tflops: 20 }),
  gpu({ fraction: 0.5, memory: '10GiB' }),
  gpu(null),
  gpu(0),
  { ...cmd, resources: { cpu: '500m', memory: '4GiB' } },
  { ...cmd, resources: { cpu: 0.5, memory: 2048 } },
];
// Bodies whose shape the schema refuses: the server must refuse them as well.
const refusedShapes: unknown[] = [
  {},
  [],
  'true',
  { command: 5 },
  { command: [1] },
  { ...cmd, priority: 101 },
  { ...cmd, priority: -1 },
  { ...cmd, priority: 1.5 },
  { ...cmd, retries: 101 },
  { ...cmd, gang: 0 },
  { ...cmd, gang: 1025 },
  { ...cmd, preemptible: 'yes' },
  { ...cmd, colour: 'red' },
  { ...cmd, env: { A: 1 } },
  { ...cmd, env: 'A=1' },
  { ...cmd, timeLimit: true },
  { ...cmd, resources: { gpu: 1, disk: '1GiB' } },
  { ...cmd, resources: 'big' },
  gpu(true),
  gpu([1]),
  gpu({ count: 1, colour: 1 }),
  gpu({ tflops: '20' }),
  gpu({ memory: true }),
];

describe('POST /v1/tasks and POST /v1/quote: the served schema is the validator’s', () => {
  /** The server's verdict on a body: a dry run creates nothing. */
  const serverTakes = async (body: unknown): Promise<boolean> => {
    const r = await h.req('POST', '/v1/tasks?dryRun=true', body);
    expect([200, 400], `${JSON.stringify(body)}: ${r.raw}`).toContain(r.status);
    return r.status === 200;
  };

  it('states every field core reads, with the validator’s limits', () => {
    const props = spec.paths['/v1/tasks'].post.requestBody.content['application/json'].schema.properties;
    expect(Object.keys(props)).toEqual(expect.arrayContaining(['name', 'command', 'env', 'workdir', 'resources', 'priority', 'timeLimit', 'retries', 'preemptible', 'gang', 'vgpu', 'array', 'after', 'inputs', 'reduce']));
    // retries' 100 lives in core; the old hand-written description had no maximum.
    expect(props.retries.anyOf[0]).toEqual({ type: 'integer', minimum: 0, maximum: 100 });
  });

  it('every body the server accepts is valid against the served schema', async () => {
    const valid = requestSchema('/v1/tasks');
    const extras = [{ ...cmd, array: 4 }, { ...cmd, array: '0-3%2' }, { ...cmd, inputs: [1, 'two', { three: 3 }] }, { ...cmd, array: null, after: null, inputs: null, reduce: null }];
    for (const body of [...acceptedSpecs, ...extras]) {
      expect(await serverTakes(body), JSON.stringify(body)).toBe(true);
      expect(valid(body), JSON.stringify(body)).toBe(true);
    }
  });

  it('every body the served schema refuses, the server refuses', async () => {
    const valid = requestSchema('/v1/tasks');
    const extras = [{ ...cmd, array: true }, { ...cmd, inputs: 'x' }, { ...cmd, reduce: 5 }, { ...cmd, after: 5 }, { ...cmd, after: [{ id: 't_1', when: 'ok' }] }];
    for (const body of [...refusedShapes, ...extras]) {
      expect(valid(body), JSON.stringify(body)).toBe(false);
      expect(await serverTakes(body), JSON.stringify(body)).toBe(false);
    }
  });

  it('POST /v1/quote takes the spec alone: the same schema without the array fields', async () => {
    const valid = requestSchema('/v1/quote');
    for (const body of acceptedSpecs) {
      expect((await h.req('POST', '/v1/quote', body)).status, JSON.stringify(body)).toBe(200);
      expect(valid(body), JSON.stringify(body)).toBe(true);
    }
    for (const body of [...refusedShapes, { ...cmd, array: 4 }]) {
      expect(valid(body), JSON.stringify(body)).toBe(false);
      expect((await h.req('POST', '/v1/quote', body)).status, JSON.stringify(body)).toBe(400);
    }
  });
});

describe('POST /v1/vgpus: the served schema is the validator’s', () => {
  it('accepts what the server accepts and refuses what it must refuse', async () => {
    const valid = requestSchema('/v1/vgpus');
    const accepted = [{ gpu: 0.5 }, { gpu: 'A100:0.5' }, { memory: '20GiB' }, { memory: 20480, name: 'mine' }, { tflops: 20 }, { tflops: 20, memory: '10GiB' }, { model: 'H100' }, { gpu: 1, name: null }];
    for (const body of accepted) {
      const r = await h.req('POST', '/v1/vgpus', body);
      expect(r.status, `${JSON.stringify(body)}: ${r.raw}`).toBe(201);
      expect(valid(body), JSON.stringify(body)).toBe(true);
    }
    const refused = [{}, { name: 'only-a-name' }, { gpu: true }, { tflops: '20' }, { memory: [1] }, { gpu: 0.5, colour: 'red' }, [], 'gpu'];
    for (const body of refused) {
      expect(valid(body), JSON.stringify(body)).toBe(false);
      expect((await h.req('POST', '/v1/vgpus', body)).status, JSON.stringify(body)).toBe(400);
    }
  });
});
