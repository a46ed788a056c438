import { describe, expect, it } from 'vitest';
import { readSse, type SseEvent } from './sse.js';

async function collect(parts: string[]): Promise<SseEvent[]> {
  const enc = new TextEncoder();
  async function* gen(): AsyncGenerator<Uint8Array> {
    for (const p of parts) yield enc.encode(p);
  }
  const out: SseEvent[] = [];
  for await (const e of readSse(gen())) out.push(e);
  return out;
}

describe('readSse', () => {
  it('reads events split across chunks, with comments, ids and multi-line data', async () => {
    const events = await collect([': hello\n\nevent: lo', 'g\nid: 3\ndata: {"a":', '1}\n\nevent: end\ndata: x\r\ndata: y\r\n\r\n']);
    expect(events).toEqual([
      { event: 'log', id: '3', data: '{"a":1}' },
      { event: 'end', id: '3', data: 'x\ny' },
    ]);
  });

  it('drops an unfinished trailing event', async () => {
    expect(await collect(['data: a\n\ndata: b'])).toEqual([{ event: 'message', data: 'a' }]);
  });
});
