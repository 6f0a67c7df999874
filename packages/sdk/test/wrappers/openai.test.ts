// wrapOpenAI against the fake OpenAI server with the real `openai` client: span shapes
// field by field for chat (plain, streamed, tool calls), Responses and embeddings, errors,
// and the caller-visible behaviour (same values, same promise/stream API, same requests).
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import OpenAI, { APIConnectionError, APIPromise, NotFoundError } from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAI, type FakeOpenAI } from '../../../../test/support/fake-openai.js';
import { wrapOpenAI } from '../../src/index.js';
import { resetPayloadOptions, setPayloadOptions } from '../../src/internal/state.js';
import {
  HIDDEN,
  WEATHER_TOOL,
  jsonAttr,
  registerTelemetry,
  settle,
  unregisterTelemetry,
  type Telemetry,
} from './helpers.js';

let fake: FakeOpenAI;
let tel: Telemetry;
let client: OpenAI;
let port: number;

const user = (content: string) => ({ role: 'user' as const, content });

beforeAll(async () => {
  fake = await startFakeOpenAI({ cachedTokens: 4 });
  port = Number(new URL(fake.url).port);
  tel = registerTelemetry();
  client = wrapOpenAI(new OpenAI({ baseURL: fake.url, apiKey: 'test', maxRetries: 0 }));
});

afterEach(() => {
  tel.reset();
  resetPayloadOptions();
});

afterAll(async () => {
  await fake.close();
  unregisterTelemetry();
});

/** Attributes every OpenAI span of the fake server starts with. */
const base = (model: string, operation = 'chat', runType = 'llm') => ({
  'gen_ai.operation.name': operation,
  'gen_ai.provider.name': 'openai',
  'gen_ai.request.model': model,
  'loupe.run_type': runType,
  'server.address': '127.0.0.1',
  'server.port': port,
});

/** The attributes with the JSON-text ones parsed, for whole-object comparison. */
function readable(attributes: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...attributes };
  for (const key of [
    'gen_ai.input.messages',
    'gen_ai.output.messages',
    'gen_ai.system_instructions',
    'gen_ai.tool.definitions',
    'loupe.inputs',
    'loupe.outputs',
  ])
    if (key in out) out[key] = jsonAttr(attributes as never, key);
  return out;
}

describe('chat.completions.create', () => {
  it('records a chat call field by field', async () => {
    const res = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'system', content: 'You are terse.' }, user('Capital of France?')],
      temperature: 0.2,
      max_tokens: 50,
      top_p: 0.9,
      stop: ['\n\n'],
      seed: 7,
      frequency_penalty: 0.1,
      presence_penalty: 0.2,
      response_format: { type: 'text' },
    });
    const span = tel.span('chat gpt-4o-mini');
    expect(span.kind).toBe(SpanKind.CLIENT);
    expect(span.instrumentationScope.name).toBe('@loupe/sdk');
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
    expect(span.events).toEqual([]);
    expect(readable(span.attributes)).toEqual({
      ...base('gpt-4o-mini'),
      'gen_ai.request.temperature': 0.2,
      'gen_ai.request.max_tokens': 50,
      'gen_ai.request.top_p': 0.9,
      'gen_ai.request.stop_sequences': ['\n\n'],
      'gen_ai.request.seed': 7,
      'gen_ai.request.frequency_penalty': 0.1,
      'gen_ai.request.presence_penalty': 0.2,
      'gen_ai.output.type': 'text',
      'gen_ai.response.id': res.id,
      'gen_ai.response.model': 'gpt-4o-mini-2024-07-18',
      'gen_ai.response.finish_reasons': ['stop'],
      'gen_ai.usage.input_tokens': res.usage!.prompt_tokens,
      'gen_ai.usage.output_tokens': res.usage!.completion_tokens,
      'gen_ai.usage.cache_read.input_tokens': 4,
      'gen_ai.usage.reasoning.output_tokens': 0,
      'openai.response.system_fingerprint': res.system_fingerprint,
      'openai.response.service_tier': 'default',
      'gen_ai.input.messages': [
        { role: 'system', parts: [{ type: 'text', content: 'You are terse.' }] },
        { role: 'user', parts: [{ type: 'text', content: 'Capital of France?' }] },
      ],
      'gen_ai.output.messages': [
        {
          role: 'assistant',
          parts: [{ type: 'text', content: 'echo: Capital of France?' }],
          finish_reason: 'stop',
        },
      ],
    });
  });

  it('records a streamed call once fully read: usage from the final chunk, assembled text', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [user('Tell me a story about a cat')],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) {
      chunks.push(chunk);
      // still open while the caller reads
      expect(tel.spans()).toHaveLength(0);
    }
    const usage = chunks.at(-1)!.usage!;
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    const span = tel.span('chat gpt-4o-mini');
    const { 'gen_ai.response.time_to_first_chunk': ttfc, ...rest } = readable(span.attributes);
    expect(ttfc).toBeGreaterThan(0);
    expect(ttfc).toBeLessThan((Number(span.duration[0]) * 1e9 + span.duration[1]) / 1e9);
    expect(rest).toEqual({
      ...base('gpt-4o-mini'),
      'gen_ai.request.stream': true,
      'gen_ai.response.id': chunks[0]!.id,
      'gen_ai.response.model': 'gpt-4o-mini-2024-07-18',
      'gen_ai.response.finish_reasons': ['stop'],
      'gen_ai.usage.input_tokens': usage.prompt_tokens,
      'gen_ai.usage.output_tokens': usage.completion_tokens,
      'gen_ai.usage.cache_read.input_tokens': 4,
      'gen_ai.usage.reasoning.output_tokens': 0,
      'openai.response.system_fingerprint': chunks[0]!.system_fingerprint,
      'openai.response.service_tier': 'default',
      'gen_ai.input.messages': [
        { role: 'user', parts: [{ type: 'text', content: 'Tell me a story about a cat' }] },
      ],
      'gen_ai.output.messages': [
        { role: 'assistant', parts: [{ type: 'text', content: text }], finish_reason: 'stop' },
      ],
    });
    expect(text).toBe('echo: Tell me a story about a cat');
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('records tool definitions and a tool call (plain and streamed alike)', async () => {
    const params = { model: 'gpt-4o-mini', messages: [user('Paris')], tools: [WEATHER_TOOL] };
    const res = await client.chat.completions.create(params);
    const plain = readable(tel.span('chat gpt-4o-mini').attributes);
    tel.reset();
    const stream = await client.chat.completions.create({ ...params, stream: true });
    for await (const _ of stream) void _;
    const streamed = readable(tel.span('chat gpt-4o-mini').attributes);

    const call = res.choices[0]!.message
      .tool_calls![0]! as OpenAI.ChatCompletionMessageFunctionToolCall;
    expect(plain['gen_ai.tool.definitions']).toEqual([WEATHER_TOOL]);
    expect(plain['gen_ai.response.finish_reasons']).toEqual(['tool_calls']);
    expect(plain['gen_ai.output.messages']).toEqual([
      {
        role: 'assistant',
        parts: [
          {
            type: 'tool_call',
            id: call.id,
            name: 'get_weather',
            arguments: JSON.parse(call.function.arguments) as unknown,
          },
        ],
        finish_reason: 'tool_call',
      },
    ]);
    expect(call.function.arguments).toBe('{"city":"Paris"}');
    // the streamed call id differs (one per request); everything else is the same
    const streamedOut = streamed['gen_ai.output.messages'] as Array<{
      parts: Array<{ id: string }>;
    }>;
    const streamedId = streamedOut[0]!.parts[0]!.id;
    expect(streamedId).toMatch(/^call_/);
    expect(streamed['gen_ai.output.messages']).toEqual(
      JSON.parse(JSON.stringify(plain['gen_ai.output.messages']).replace(call.id, streamedId)),
    );
    expect(streamed['gen_ai.tool.definitions']).toEqual([WEATHER_TOOL]);
    expect(streamed['gen_ai.response.finish_reasons']).toEqual(['tool_calls']);
  });

  it('maps a tool round trip into input messages', async () => {
    await client.chat.completions.create({
      model: 'gpt-4o-mini',
      tools: [WEATHER_TOOL],
      messages: [
        user('Weather in Paris?'),
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'call_1',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: '{"temp_c":21}' },
      ],
    });
    const a = readable(tel.span('chat gpt-4o-mini').attributes);
    expect(a['gen_ai.input.messages']).toEqual([
      { role: 'user', parts: [{ type: 'text', content: 'Weather in Paris?' }] },
      {
        role: 'assistant',
        parts: [
          { type: 'tool_call', id: 'call_1', name: 'get_weather', arguments: { city: 'Paris' } },
        ],
      },
      {
        role: 'tool',
        parts: [{ type: 'tool_call_response', id: 'call_1', response: '{"temp_c":21}' }],
      },
    ]);
    expect(a['gen_ai.output.messages']).toEqual([
      {
        role: 'assistant',
        parts: [{ type: 'text', content: 'tool result: {"temp_c":21}' }],
        finish_reason: 'stop',
      },
    ]);
  });

  it('maps multimodal content parts and several choices', async () => {
    await client.chat.completions.create({
      model: 'gpt-4o-mini',
      n: 2,
      messages: [
        {
          role: 'user',
          name: 'ada',
          content: [
            { type: 'text', text: 'What is this?' },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0K' } },
            { type: 'input_audio', input_audio: { data: 'UklGR', format: 'wav' } },
          ],
        },
      ],
    });
    const a = readable(tel.span('chat gpt-4o-mini').attributes);
    expect(a['gen_ai.request.choice.count']).toBe(2);
    expect(a['gen_ai.input.messages']).toEqual([
      {
        role: 'user',
        name: 'ada',
        parts: [
          { type: 'text', content: 'What is this?' },
          { type: 'uri', modality: 'image', uri: 'https://example.com/cat.png' },
          { type: 'blob', modality: 'image', mime_type: 'image/png', content: 'iVBORw0K' },
          { type: 'blob', modality: 'audio', mime_type: 'audio/wav', content: 'UklGR' },
        ],
      },
    ]);
    const answer = {
      role: 'assistant',
      parts: [{ type: 'text', content: 'echo: What is this?' }],
      finish_reason: 'stop',
    };
    expect(a['gen_ai.output.messages']).toEqual([answer, answer]);
    expect(a['gen_ai.response.finish_reasons']).toEqual(['stop', 'stop']);
  });

  it('records reasoning tokens', async () => {
    await client.chat.completions.create({ model: 'o3-mini', messages: [user('think')] });
    expect(tel.span('chat o3-mini').attributes['gen_ai.usage.reasoning.output_tokens']).toBe(64);
  });
});

describe('responses.create', () => {
  it('records a Responses call: instructions, input, output, usage', async () => {
    const res = await client.responses.create({
      model: 'gpt-4o-mini',
      instructions: 'Answer in one word.',
      input: 'Capital of France?',
      temperature: 0.3,
      max_output_tokens: 40,
      top_p: 0.8,
    });
    const a = readable(tel.span('chat gpt-4o-mini').attributes);
    expect(a).toEqual({
      ...base('gpt-4o-mini'),
      'gen_ai.request.temperature': 0.3,
      'gen_ai.request.max_tokens': 40,
      'gen_ai.request.top_p': 0.8,
      'gen_ai.response.id': res.id,
      'gen_ai.response.model': res.model,
      'gen_ai.response.finish_reasons': ['completed'],
      'gen_ai.usage.input_tokens': res.usage!.input_tokens,
      'gen_ai.usage.output_tokens': res.usage!.output_tokens,
      'gen_ai.usage.cache_read.input_tokens': 4,
      'gen_ai.usage.reasoning.output_tokens': 0,
      'openai.response.service_tier': 'default',
      'gen_ai.system_instructions': [{ type: 'text', content: 'Answer in one word.' }],
      'gen_ai.input.messages': [
        { role: 'user', parts: [{ type: 'text', content: 'Capital of France?' }] },
      ],
      'gen_ai.output.messages': [
        {
          role: 'assistant',
          parts: [{ type: 'text', content: res.output_text }],
          finish_reason: 'stop',
        },
      ],
    });
  });

  it('records a function call and maps a tool round trip', async () => {
    const tool = {
      type: 'function' as const,
      name: 'get_weather',
      parameters: { type: 'object', properties: { city: { type: 'string' } } },
      strict: false,
    };
    const first = await client.responses.create({
      model: 'gpt-4o-mini',
      input: 'Paris',
      tools: [tool],
    });
    const call = first.output.find((o) => o.type === 'function_call')!;
    const a = readable(tel.span('chat gpt-4o-mini').attributes);
    expect(a['gen_ai.tool.definitions']).toEqual([tool]);
    expect(a['gen_ai.output.messages']).toEqual([
      {
        role: 'assistant',
        parts: [
          {
            type: 'tool_call',
            id: call.call_id,
            name: 'get_weather',
            arguments: { city: 'Paris' },
          },
        ],
        finish_reason: 'tool_call',
      },
    ]);
    tel.reset();
    await client.responses.create({
      model: 'gpt-4o-mini',
      tools: [tool],
      input: [
        { role: 'user', content: 'Paris' },
        {
          type: 'function_call',
          call_id: call.call_id,
          name: 'get_weather',
          arguments: call.arguments,
        },
        { type: 'function_call_output', call_id: call.call_id, output: 'sunny' },
      ],
    });
    expect(readable(tel.span('chat gpt-4o-mini').attributes)['gen_ai.input.messages']).toEqual([
      { role: 'user', parts: [{ type: 'text', content: 'Paris' }] },
      {
        role: 'assistant',
        parts: [
          {
            type: 'tool_call',
            id: call.call_id,
            name: 'get_weather',
            arguments: { city: 'Paris' },
          },
        ],
      },
      {
        role: 'tool',
        parts: [{ type: 'tool_call_response', id: call.call_id, response: 'sunny' }],
      },
    ]);
  });

  it('records a streamed Responses call from its completed event', async () => {
    const stream = await client.responses.create({
      model: 'o3-mini',
      input: 'hello',
      stream: true,
    });
    const events: OpenAI.Responses.ResponseStreamEvent[] = [];
    for await (const e of stream) events.push(e);
    const done = events.at(-1) as OpenAI.Responses.ResponseCompletedEvent;
    expect(done.type).toBe('response.completed');
    const { 'gen_ai.response.time_to_first_chunk': ttfc, ...a } = readable(
      tel.span('chat o3-mini').attributes,
    );
    expect(ttfc).toBeGreaterThan(0);
    expect(a).toEqual({
      ...base('o3-mini'),
      'gen_ai.request.stream': true,
      'gen_ai.response.id': done.response.id,
      'gen_ai.response.model': 'o3-mini-2025-01-31',
      'gen_ai.response.finish_reasons': ['completed'],
      'gen_ai.usage.input_tokens': done.response.usage!.input_tokens,
      'gen_ai.usage.output_tokens': done.response.usage!.output_tokens,
      'gen_ai.usage.cache_read.input_tokens': 4,
      'gen_ai.usage.reasoning.output_tokens': 64,
      'openai.response.service_tier': 'default',
      'gen_ai.input.messages': [{ role: 'user', parts: [{ type: 'text', content: 'hello' }] }],
      'gen_ai.output.messages': [
        {
          role: 'assistant',
          parts: [{ type: 'text', content: 'echo: hello' }],
          finish_reason: 'stop',
        },
      ],
    });
  });
});

describe('embeddings.create', () => {
  it('records an embeddings call: texts in, counts out, no vectors', async () => {
    const res = await client.embeddings.create({
      model: 'text-embedding-3-small',
      input: ['first text', 'second text'],
      dimensions: 16,
    });
    const span = tel.span('embeddings text-embedding-3-small');
    expect(span.kind).toBe(SpanKind.CLIENT);
    expect(readable(span.attributes)).toEqual({
      ...base('text-embedding-3-small', 'embeddings', 'embedding'),
      'gen_ai.embeddings.dimension.count': 16,
      'gen_ai.response.model': 'text-embedding-3-small',
      'gen_ai.usage.input_tokens': res.usage.prompt_tokens,
      'loupe.inputs': { input: ['first text', 'second text'] },
      'loupe.outputs': { embeddings: 2, dimensions: 16 },
    });
    expect(res.data[0]!.embedding).toHaveLength(16);
  });

  it('counts dimensions of base64 vectors', async () => {
    await client.embeddings.create({
      model: 'text-embedding-3-small',
      input: 'x',
      encoding_format: 'base64',
    });
    const a = readable(tel.span('embeddings text-embedding-3-small').attributes);
    expect(a['gen_ai.request.encoding_formats']).toEqual(['base64']);
    expect(a['gen_ai.embeddings.dimension.count']).toBe(8);
    expect(a['loupe.outputs']).toEqual({ embeddings: 1, dimensions: 8 });
  });
});

describe('errors', () => {
  it('records a 404 (model not found) as an ERROR span and rethrows the SDK error', async () => {
    const error = await client.chat.completions
      .create({ model: 'bad-model', messages: [user('hi')] })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(NotFoundError);
    const e = error as NotFoundError;
    expect(e.status).toBe(404);
    expect(e.message).toBe('404 The model `bad-model` does not exist');
    const span = tel.span('chat bad-model');
    expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: e.message });
    expect(span.attributes['error.type']).toBe('NotFoundError');
    expect(span.attributes['gen_ai.input.messages']).toBeDefined();
    expect(span.attributes['gen_ai.output.messages']).toBeUndefined();
    expect(span.events.map((ev) => [ev.name, ev.attributes])).toEqual([
      [
        'exception',
        {
          'exception.type': 'NotFoundError',
          'exception.message': e.message,
          'exception.stacktrace': e.stack,
        },
      ],
    ]);
  });

  it('records a failed streamed request and a failed embeddings call', async () => {
    await expect(
      client.chat.completions.create({ model: 'bad-model', messages: [user('hi')], stream: true }),
    ).rejects.toBeInstanceOf(NotFoundError);
    await expect(
      client.embeddings.create({ model: 'bad-model', input: 'x' }),
    ).rejects.toBeInstanceOf(NotFoundError);
    expect(tel.span('chat bad-model').status.code).toBe(SpanStatusCode.ERROR);
    expect(tel.span('embeddings bad-model').attributes['error.type']).toBe('NotFoundError');
  });

  it('records a network error', async () => {
    const offline = wrapOpenAI(
      new OpenAI({ baseURL: 'http://127.0.0.1:9/v1', apiKey: 'x', maxRetries: 0 }),
    );
    const error = await offline.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [user('hi')] })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(APIConnectionError);
    const span = tel.span('chat gpt-4o-mini');
    expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: (error as Error).message });
    expect(span.attributes['error.type']).toBe('APIConnectionError');
    expect(span.attributes['server.port']).toBe(9);
  });

  it('records the failure even when the caller never awaits', async () => {
    void client.chat.completions
      .create({ model: 'bad-model', messages: [user('hi')] })
      .asResponse()
      .catch(() => undefined);
    await expect.poll(() => tel.spans().length).toBe(1);
    expect(tel.span('chat bad-model').status.code).toBe(SpanStatusCode.ERROR);
  });

  it('rethrows a synchronous throw of the SDK method as the same object', () => {
    const raw = new OpenAI({ baseURL: fake.url, apiKey: 'x' });
    const boom = new TypeError('bad params');
    Object.defineProperty(raw.chat.completions, 'create', {
      value: () => {
        throw boom;
      },
      configurable: true,
      writable: true,
    });
    const wrapped = wrapOpenAI(raw);
    expect(() => wrapped.chat.completions.create({ model: 'm', messages: [] })).toThrow(boom);
    const span = tel.span('chat m');
    expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: 'bad params' });
    expect(span.attributes['error.type']).toBe('TypeError');
  });
});

describe('what the caller sees', () => {
  it('returns exactly what the unwrapped client returns, and sends the same requests', async () => {
    const fakes = [
      await startFakeOpenAI({ cachedTokens: 4 }),
      await startFakeOpenAI({ cachedTokens: 4 }),
    ];
    try {
      const results = [];
      for (const [i, f] of fakes.entries()) {
        const plain = new OpenAI({ baseURL: f.url, apiKey: 'x', maxRetries: 0 });
        const c = i === 0 ? plain : wrapOpenAI(plain);
        const chat = await c.chat.completions.create({
          model: 'gpt-4o-mini',
          messages: [user('hi')],
          tools: [WEATHER_TOOL],
        });
        const chunks = [];
        const stream = await c.chat.completions.create({
          model: 'gpt-4o-mini',
          messages: [user('stream me')],
          stream: true,
          stream_options: { include_usage: true },
        });
        for await (const chunk of stream) chunks.push(chunk);
        const response = await c.responses.create({
          model: 'gpt-4o-mini',
          input: 'hi',
          instructions: 'be brief',
        });
        const events = [];
        for await (const e of await c.responses.create({
          model: 'gpt-4o-mini',
          input: 'hi',
          stream: true,
        }))
          events.push(e);
        const embeddings = await c.embeddings.create({
          model: 'text-embedding-3-small',
          input: ['a', 'b'],
        });
        const { data, response: raw } = await c.chat.completions
          .create({ model: 'gpt-4o-mini', messages: [user('with response')] })
          .withResponse();
        results.push({
          chat,
          chunks,
          response,
          outputText: response.output_text,
          events,
          embeddings,
          data,
          requestId: (chat as { _request_id?: unknown })._request_id,
          status: raw.status,
          streamClass: stream.constructor.name,
        });
      }
      expect(results[1]).toEqual(results[0]);
      expect(fakes[1]!.requests.map((r) => [r.path, r.body])).toEqual(
        fakes[0]!.requests.map((r) => [r.path, r.body]),
      );
      expect(tel.spans()).toHaveLength(6);
    } finally {
      await Promise.all(fakes.map((f) => f.close()));
    }
  });

  it('keeps the APIPromise and Stream API', async () => {
    const p = client.chat.completions.create({ model: 'gpt-4o-mini', messages: [user('hi')] });
    expect(p).toBeInstanceOf(APIPromise);
    const unwrapped = new OpenAI({ baseURL: fake.url, apiKey: 'x' }).chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [user('hi')],
    });
    // what the wrapper adds to the promise is hidden from enumeration
    expect(Object.keys(p)).toEqual(Object.keys(unwrapped));
    await unwrapped;
    const { data, response, request_id } = await p.withResponse();
    expect(data.choices[0]!.message.content).toBe('echo: hi');
    expect(response.status).toBe(200);
    expect(request_id).toMatch(/^req_/);
    expect(
      jsonAttr(tel.span('chat gpt-4o-mini').attributes, 'gen_ai.output.messages'),
    ).toHaveLength(1);

    tel.reset();
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [user('hi')],
      stream: true,
    });
    expect(typeof stream.tee).toBe('function');
    expect(typeof stream.toReadableStream).toBe('function');
    expect(stream.controller).toBeInstanceOf(AbortController);
    for await (const _ of stream) void _;
    expect(tel.spans()).toHaveLength(1);
  });

  it('leaves a raw asResponse() body to the caller and ends the span without outputs', async () => {
    const response = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [user('raw')] })
      .asResponse();
    const body = (await response.json()) as OpenAI.ChatCompletion;
    expect(body.choices[0]!.message.content).toBe('echo: raw');
    await settle();
    const span = tel.span('chat gpt-4o-mini');
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
    expect(span.attributes['gen_ai.output.messages']).toBeUndefined();
  });

  it('traces the SDK helpers built on create (parse, stream, runTools, responses.stream)', async () => {
    const parsed = await client.chat.completions.parse({
      model: 'gpt-4o-mini',
      messages: [user('parse me')],
    });
    expect(parsed.choices[0]!.message.content).toBe('echo: parse me');
    expect(jsonAttr(tel.span('chat gpt-4o-mini').attributes, 'gen_ai.output.messages')).toEqual([
      {
        role: 'assistant',
        parts: [{ type: 'text', content: 'echo: parse me' }],
        finish_reason: 'stop',
      },
    ]);
    tel.reset();

    const final = await client.chat.completions
      .stream({ model: 'gpt-4o-mini', messages: [user('helper stream')] })
      .finalChatCompletion();
    expect(final.choices[0]!.message.content).toBe('echo: helper stream');
    expect(jsonAttr(tel.span('chat gpt-4o-mini').attributes, 'gen_ai.output.messages')).toEqual([
      {
        role: 'assistant',
        parts: [{ type: 'text', content: 'echo: helper stream' }],
        finish_reason: 'stop',
      },
    ]);
    tel.reset();

    const runner = client.chat.completions.runTools({
      model: 'gpt-4o-mini',
      messages: [user('Paris')],
      tools: [
        {
          type: 'function',
          function: {
            name: 'get_weather',
            description: 'Weather for a city',
            parameters: WEATHER_TOOL.function.parameters,
            function: (args: { city: string }) => `sunny in ${args.city}`,
            parse: (s: string) => JSON.parse(s) as { city: string },
          },
        },
      ],
    });
    expect(await runner.finalContent()).toBe('tool result: sunny in Paris');
    expect(tel.spans().map((s) => s.name)).toEqual(['chat gpt-4o-mini', 'chat gpt-4o-mini']);
    tel.reset();

    const rs = client.responses.stream({ model: 'gpt-4o-mini', input: 'stream helper' });
    expect((await rs.finalResponse()).output_text).toBe('echo: stream helper');
    expect(tel.span('chat gpt-4o-mini').attributes['gen_ai.request.stream']).toBe(true);
  });

  it('nests under the active span and runs the HTTP call inside the LLM span', async () => {
    const seen: Array<string | undefined> = [];
    const c = wrapOpenAI(
      new OpenAI({
        baseURL: fake.url,
        apiKey: 'x',
        fetch: (url, init) => {
          seen.push(trace.getActiveSpan()?.spanContext().spanId);
          return fetch(url, init);
        },
      }),
    );
    await trace.getTracer('app').startActiveSpan('app', async (app) => {
      await c.chat.completions.create({ model: 'gpt-4o-mini', messages: [user('hi')] });
      app.end();
    });
    const llm = tel.span('chat gpt-4o-mini');
    expect(llm.parentSpanContext?.spanId).toBe(tel.span('app').spanContext().spanId);
    expect(llm.spanContext().traceId).toBe(tel.span('app').spanContext().traceId);
    expect(seen).toEqual([llm.spanContext().spanId]);
  });
});

describe('wrapping', () => {
  it('patches only this instance, once; withOptions copies are wrapped too', async () => {
    const raw = new OpenAI({ baseURL: fake.url, apiKey: 'x' });
    const other = new OpenAI({ baseURL: fake.url, apiKey: 'x' });
    expect(wrapOpenAI(wrapOpenAI(raw))).toBe(raw);
    expect(Object.prototype.hasOwnProperty.call(raw.chat.completions, 'create')).toBe(true);
    expect(Object.prototype.hasOwnProperty.call(other.chat.completions, 'create')).toBe(false);
    expect(Object.keys(raw.chat.completions)).toEqual(Object.keys(other.chat.completions));
    await raw.chat.completions.create({ model: 'gpt-4o-mini', messages: [user('once')] });
    await other.chat.completions.create({ model: 'gpt-4o-mini', messages: [user('untraced')] });
    expect(tel.spans()).toHaveLength(1);
    tel.reset();
    await raw
      .withOptions({ timeout: 5000 })
      .embeddings.create({ model: 'text-embedding-3-small', input: 'x' });
    expect(tel.spans()).toHaveLength(1);
  });

  it('tolerates things that are not clients', () => {
    expect(() => wrapOpenAI(null as unknown as OpenAI)).not.toThrow();
    const notAClient = { chat: 'nope' } as unknown as OpenAI;
    expect(wrapOpenAI(notAClient)).toBe(notAClient);
  });

  it('does nothing per call while no tracer provider is registered', async () => {
    unregisterTelemetry();
    try {
      const p = client.chat.completions.create({ model: 'gpt-4o-mini', messages: [user('hi')] });
      // not observed: no own asResponse override on the SDK's promise
      expect(Object.prototype.hasOwnProperty.call(p, 'asResponse')).toBe(false);
      expect((await p).choices[0]!.message.content).toBe('echo: hi');
      const stream = await client.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [user('s')],
        stream: true,
      });
      for await (const _ of stream) void _;
    } finally {
      tel = registerTelemetry();
    }
    expect(tel.spans()).toHaveLength(0);
  });
});

describe('hide and redact', () => {
  const call = () =>
    client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'system', content: 'secret system' }, user('my email is a@b.c')],
    });

  it('hideInputs / hideOutputs replace content with the hidden marker', async () => {
    setPayloadOptions({ hideInputs: true });
    await call();
    let a = tel.span('chat gpt-4o-mini').attributes;
    expect(jsonAttr(a, 'loupe.inputs')).toEqual(HIDDEN);
    expect(a['gen_ai.input.messages']).toBeUndefined();
    expect(a['gen_ai.output.messages']).toBeDefined();
    tel.reset();
    setPayloadOptions({ hideInputs: false, hideOutputs: (_v, info) => info.runType === 'llm' });
    await call();
    a = tel.span('chat gpt-4o-mini').attributes;
    expect(jsonAttr(a, 'loupe.outputs')).toEqual(HIDDEN);
    expect(a['gen_ai.output.messages']).toBeUndefined();
    expect(a['gen_ai.input.messages']).toBeDefined();
    // tokens and model stay: they are not content
    expect(a['gen_ai.usage.output_tokens']).toBeGreaterThan(0);
  });

  it('redact sees the semconv messages and its result is recorded', async () => {
    const infos: unknown[] = [];
    setPayloadOptions({
      redact: (value, info) => {
        infos.push(info);
        return JSON.parse(JSON.stringify(value).replaceAll('a@b.c', '[email]')) as unknown;
      },
    });
    await call();
    const a = tel.span('chat gpt-4o-mini').attributes;
    expect(jsonAttr(a, 'gen_ai.input.messages')).toEqual([
      { role: 'system', parts: [{ type: 'text', content: 'secret system' }] },
      { role: 'user', parts: [{ type: 'text', content: 'my email is [email]' }] },
    ]);
    expect(jsonAttr(a, 'gen_ai.output.messages')).toEqual([
      {
        role: 'assistant',
        parts: [{ type: 'text', content: 'echo: my email is [email]' }],
        finish_reason: 'stop',
      },
    ]);
    expect(infos).toEqual([
      { kind: 'inputs', runType: 'llm', name: 'chat gpt-4o-mini' },
      { kind: 'outputs', runType: 'llm', name: 'chat gpt-4o-mini' },
    ]);
  });

  it('a throwing or async redact hides the payload and never reaches the caller', async () => {
    setPayloadOptions({
      redact: () => {
        throw new Error('redactor bug');
      },
    });
    const res = await call();
    expect(res.choices[0]!.message.content).toBe('echo: my email is a@b.c');
    let a = tel.span('chat gpt-4o-mini').attributes;
    expect(jsonAttr(a, 'loupe.inputs')).toEqual(HIDDEN);
    expect(jsonAttr(a, 'loupe.outputs')).toEqual(HIDDEN);
    tel.reset();
    setPayloadOptions({ redact: async (v) => v });
    await call();
    a = tel.span('chat gpt-4o-mini').attributes;
    expect(jsonAttr(a, 'loupe.inputs')).toEqual(HIDDEN);
    expect(a['gen_ai.input.messages']).toBeUndefined();
  });

  it('a redact returning another shape is recorded as loupe.inputs, not dropped or leaked', async () => {
    setPayloadOptions({ redact: (_v, info) => (info.kind === 'inputs' ? 'redacted' : _v) });
    await call();
    const a = tel.span('chat gpt-4o-mini').attributes;
    expect(jsonAttr(a, 'loupe.inputs')).toBe('redacted');
    expect(a['gen_ai.input.messages']).toBeUndefined();
  });

  it('embedding texts go through the same rules', async () => {
    setPayloadOptions({ hideInputs: true });
    await client.embeddings.create({ model: 'text-embedding-3-small', input: 'private' });
    expect(
      jsonAttr(tel.span('embeddings text-embedding-3-small').attributes, 'loupe.inputs'),
    ).toEqual(HIDDEN);
  });
});
