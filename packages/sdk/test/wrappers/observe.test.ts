// How a streamed call's span ends: read to the end, broken off (break, return(), a
// cancelled ReadableStream, controller.abort()), or failed mid-stream — with the same
// Stream object and chunks the caller would get without the wrapper.
import { SpanStatusCode } from '@opentelemetry/api';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAI, type FakeOpenAI } from '../../../../test/support/fake-openai.js';
import { wrapOpenAI } from '../../src/index.js';
import {
  jsonAttr,
  registerTelemetry,
  settle,
  unregisterTelemetry,
  type Telemetry,
} from './helpers.js';

let slow: FakeOpenAI;
let tel: Telemetry;
let client: OpenAI;

const LONG = 'one two three four five six seven eight nine ten';

beforeAll(async () => {
  // slow enough that a stream is still open when the caller stops reading
  slow = await startFakeOpenAI({ chunkDelayMs: 15 });
  tel = registerTelemetry();
  client = wrapOpenAI(new OpenAI({ baseURL: slow.url, apiKey: 'x', maxRetries: 0 }));
});

afterEach(() => tel.reset());

afterAll(async () => {
  await slow.close();
  unregisterTelemetry();
});

const open = () =>
  client.chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: LONG }],
    stream: true,
    stream_options: { include_usage: true },
  });

const outputText = (): string => {
  const out = jsonAttr(tel.span('chat gpt-4o-mini').attributes, 'gen_ai.output.messages') as Array<{
    parts: Array<{ content: string }>;
    finish_reason?: string;
  }>;
  return out[0]!.parts.map((p) => p.content).join('');
};

describe('a stream broken off', () => {
  it('by break: the span ends at once, UNSET, with the partial output and a cancelled event', async () => {
    const stream = await open();
    let read = '';
    let n = 0;
    for await (const chunk of stream) {
      read += chunk.choices[0]?.delta.content ?? '';
      if (++n === 3) break;
    }
    const span = tel.span('chat gpt-4o-mini');
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
    expect(span.events.map((e) => [e.name, e.attributes])).toEqual([
      ['loupe.stream.cancelled', { 'loupe.stream.chunks': 3 }],
    ]);
    expect(outputText()).toBe(read);
    const [message] = jsonAttr(span.attributes, 'gen_ai.output.messages') as Array<
      Record<string, unknown>
    >;
    expect(message).not.toHaveProperty('finish_reason');
    expect(span.attributes['gen_ai.response.finish_reasons']).toBeUndefined();
    expect(span.attributes['gen_ai.usage.input_tokens']).toBeUndefined();
  });

  it('by controller.abort() while reading', async () => {
    const stream = await open();
    let n = 0;
    for await (const _ of stream) if (++n === 2) stream.controller.abort();
    const span = tel.span('chat gpt-4o-mini');
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
    expect(span.events.map((e) => e.name)).toEqual(['loupe.stream.cancelled']);
  });

  it('by controller.abort() before reading anything', async () => {
    const stream = await open();
    stream.controller.abort();
    await settle();
    const span = tel.span('chat gpt-4o-mini');
    expect(span.events.map((e) => [e.name, e.attributes])).toEqual([
      ['loupe.stream.cancelled', { 'loupe.stream.chunks': 0 }],
    ]);
    expect(span.attributes['gen_ai.output.messages']).toBeUndefined();
  });

  it('by cancelling its ReadableStream', async () => {
    const stream = await open();
    const reader = stream.toReadableStream().getReader();
    await reader.read();
    await reader.cancel();
    expect(tel.span('chat gpt-4o-mini').events.map((e) => e.name)).toEqual([
      'loupe.stream.cancelled',
    ]);
  });
});

describe('a stream read to the end in other ways', () => {
  it('through toReadableStream(): same bytes, span complete', async () => {
    const stream = await open();
    const text = await new Response(stream.toReadableStream()).text();
    const chunks = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as OpenAI.ChatCompletionChunk);
    expect(chunks.at(-1)!.usage).toBeDefined();
    const span = tel.span('chat gpt-4o-mini');
    expect(span.events).toEqual([]);
    expect(span.attributes['gen_ai.usage.output_tokens']).toBe(
      chunks.at(-1)!.usage!.completion_tokens,
    );
    expect(outputText()).toBe(`echo: ${LONG}`);
  });

  it('through tee(): both branches get every chunk, one span', async () => {
    const [left, right] = (await open()).tee();
    const read = async (s: typeof left) => {
      const out: OpenAI.ChatCompletionChunk[] = [];
      for await (const c of s) out.push(c);
      return out;
    };
    const [a, b] = await Promise.all([read(left), read(right)]);
    expect(a).toEqual(b);
    expect(a.length).toBeGreaterThan(3);
    expect(tel.spans()).toHaveLength(1);
    expect(outputText()).toBe(`echo: ${LONG}`);
  });

  it('a second iteration fails exactly as without the wrapper', async () => {
    const plain = new OpenAI({ baseURL: slow.url, apiKey: 'x' });
    const messages = [{ role: 'user' as const, content: 'x' }];
    const errors = [];
    for (const c of [plain, client]) {
      const s = await c.chat.completions.create({ model: 'gpt-4o-mini', messages, stream: true });
      for await (const _ of s) void _;
      errors.push(
        await (async () => {
          for await (const _ of s) void _;
        })().then(
          () => undefined,
          (e: unknown) => [(e as Error).constructor.name, (e as Error).message],
        ),
      );
    }
    expect(errors[1]).toEqual(errors[0]);
    expect(errors[0]).toBeDefined();
    expect(tel.spans()).toHaveLength(1);
  });
});

describe('a stream that fails mid-way', () => {
  it('ends the span with ERROR and the partial output; the error reaches the caller unchanged', async () => {
    const chunk = {
      id: 'chatcmpl-x',
      object: 'chat.completion.chunk',
      created: 1,
      model: 'gpt-4o-mini',
      choices: [
        { index: 0, delta: { role: 'assistant', content: 'partial' }, finish_reason: null },
      ],
    };
    const reset = new Error('connection reset');
    const failing = wrapOpenAI(
      new OpenAI({
        baseURL: 'http://fake.invalid/v1',
        apiKey: 'x',
        maxRetries: 0,
        fetch: () =>
          Promise.resolve(
            new Response(
              new ReadableStream<Uint8Array>({
                start(c) {
                  c.enqueue(new TextEncoder().encode(`data: ${JSON.stringify(chunk)}\n\n`));
                },
                pull(c) {
                  c.error(reset);
                },
              }),
              { headers: { 'content-type': 'text/event-stream' } },
            ),
          ),
      }),
    );
    const stream = await failing.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    const seen: string[] = [];
    const error = await (async () => {
      for await (const c of stream) seen.push(c.choices[0]?.delta.content ?? '');
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBe(reset);
    expect(seen).toEqual(['partial']);
    await settle();
    const span = tel.span('chat gpt-4o-mini');
    expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: 'connection reset' });
    expect(span.attributes['error.type']).toBe('Error');
    expect(span.events.map((e) => e.name)).toEqual(['exception']);
    expect(outputText()).toBe('partial');
  });
});
