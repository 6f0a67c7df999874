// wrapAnthropic against the fake Anthropic server with the real `@anthropic-ai/sdk` client:
// span shapes for plain and streamed messages (tool use, cache and thinking tokens), the
// messages.stream() helper, errors, the SDK's own spans kept out of wrapped calls, and
// the caller-visible behaviour.
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import Anthropic, { NotFoundError } from '@anthropic-ai/sdk';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  THINKING_TEXT,
  startFakeAnthropic,
  type FakeAnthropic,
} from '../../../../test/support/fake-anthropic.js';
import { wrapAnthropic } from '../../src/index.js';
import { resetPayloadOptions, setPayloadOptions } from '../../src/internal/state.js';
import {
  ANTHROPIC_WEATHER_TOOL,
  HIDDEN,
  jsonAttr,
  registerTelemetry,
  unregisterTelemetry,
  type Telemetry,
} from './helpers.js';

const CACHE = { cacheReadTokens: 7, cacheCreationTokens: 5 };
const MODEL = 'claude-haiku-4-5';

let fake: FakeAnthropic;
let tel: Telemetry;
let client: Anthropic;
let port: number;

beforeAll(async () => {
  fake = await startFakeAnthropic(CACHE);
  port = Number(new URL(fake.baseURL).port);
  tel = registerTelemetry();
  client = wrapAnthropic(new Anthropic({ baseURL: fake.baseURL, apiKey: 'test', maxRetries: 0 }));
});

afterEach(() => {
  tel.reset();
  resetPayloadOptions();
});

afterAll(async () => {
  await fake.close();
  unregisterTelemetry();
});

const base = {
  'gen_ai.operation.name': 'chat',
  'gen_ai.provider.name': 'anthropic',
  'gen_ai.request.model': MODEL,
  'loupe.run_type': 'llm',
  'server.address': '127.0.0.1',
};

function readable(attributes: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...attributes };
  for (const key of [
    'gen_ai.input.messages',
    'gen_ai.output.messages',
    'gen_ai.system_instructions',
    'gen_ai.tool.definitions',
  ])
    if (key in out) out[key] = jsonAttr(attributes as never, key);
  return out;
}

/** The conventions count cached tokens as input; Anthropic reports them apart. */
const inputTokens = (u: Anthropic.Usage | Anthropic.MessageDeltaUsage) =>
  (u.input_tokens ?? 0) + (u.cache_read_input_tokens ?? 0) + (u.cache_creation_input_tokens ?? 0);

describe('messages.create', () => {
  it('records a call field by field', async () => {
    // temperature / top_p / top_k are gone from this SDK version's types, but older
    // versions send them and the API accepts them: the wrapper records what is passed
    const params = {
      model: MODEL,
      max_tokens: 200,
      system: 'You are terse.',
      temperature: 0.4,
      top_p: 0.9,
      top_k: 40,
      stop_sequences: ['END'],
      messages: [{ role: 'user', content: 'Capital of France?' }],
    } as Anthropic.MessageCreateParamsNonStreaming;
    const msg = await client.messages.create(params);
    const span = tel.span(`chat ${MODEL}`);
    expect(span.kind).toBe(SpanKind.CLIENT);
    expect(span.instrumentationScope.name).toBe('@loupe/sdk');
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
    expect(readable(span.attributes)).toEqual({
      ...base,
      'server.port': port,
      'gen_ai.request.max_tokens': 200,
      'gen_ai.request.temperature': 0.4,
      'gen_ai.request.top_p': 0.9,
      'gen_ai.request.top_k': 40,
      'gen_ai.request.stop_sequences': ['END'],
      'gen_ai.response.id': msg.id,
      'gen_ai.response.model': MODEL,
      'gen_ai.response.finish_reasons': ['end_turn'],
      'gen_ai.usage.input_tokens': inputTokens(msg.usage),
      'gen_ai.usage.output_tokens': msg.usage.output_tokens,
      'gen_ai.usage.cache_read.input_tokens': 7,
      'gen_ai.usage.cache_creation.input_tokens': 5,
      'gen_ai.system_instructions': [{ type: 'text', content: 'You are terse.' }],
      'gen_ai.input.messages': [
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
    expect(msg.usage.input_tokens).toBeLessThan(inputTokens(msg.usage));
  });

  it('records tool use and maps a tool round trip', async () => {
    const msg = await client.messages.create({
      model: MODEL,
      max_tokens: 200,
      tools: [ANTHROPIC_WEATHER_TOOL],
      messages: [{ role: 'user', content: 'Paris' }],
    });
    const use = msg.content.find((b) => b.type === 'tool_use')!;
    let a = readable(tel.span(`chat ${MODEL}`).attributes);
    expect(a['gen_ai.tool.definitions']).toEqual([ANTHROPIC_WEATHER_TOOL]);
    expect(a['gen_ai.response.finish_reasons']).toEqual(['tool_use']);
    expect(a['gen_ai.output.messages']).toEqual([
      {
        role: 'assistant',
        parts: [
          { type: 'text', content: 'Let me check.' },
          { type: 'tool_call', id: use.id, name: 'get_weather', arguments: { city: 'Paris' } },
        ],
        finish_reason: 'tool_call',
      },
    ]);
    tel.reset();
    await client.messages.create({
      model: MODEL,
      max_tokens: 200,
      tools: [ANTHROPIC_WEATHER_TOOL],
      messages: [
        { role: 'user', content: 'Paris' },
        { role: 'assistant', content: msg.content },
        {
          role: 'user',
          content: [{ type: 'tool_result', tool_use_id: use.id, content: 'sunny, 21C' }],
        },
      ],
    });
    a = readable(tel.span(`chat ${MODEL}`).attributes);
    expect(a['gen_ai.input.messages']).toEqual([
      { role: 'user', parts: [{ type: 'text', content: 'Paris' }] },
      {
        role: 'assistant',
        parts: [
          { type: 'text', content: 'Let me check.' },
          { type: 'tool_call', id: use.id, name: 'get_weather', arguments: { city: 'Paris' } },
        ],
      },
      { role: 'user', parts: [{ type: 'tool_call_response', id: use.id, response: 'sunny, 21C' }] },
    ]);
    expect(a['gen_ai.output.messages']).toEqual([
      {
        role: 'assistant',
        parts: [{ type: 'text', content: 'tool result: sunny, 21C' }],
        finish_reason: 'stop',
      },
    ]);
  });

  it('records a streamed call with tool use: assembled blocks, usage from message_delta', async () => {
    const stream = await client.messages.create({
      model: MODEL,
      max_tokens: 200,
      stream: true,
      tools: [ANTHROPIC_WEATHER_TOOL],
      messages: [{ role: 'user', content: 'Lyon' }],
    });
    const events: Anthropic.RawMessageStreamEvent[] = [];
    for await (const e of stream) {
      events.push(e);
      expect(tel.spans()).toHaveLength(0);
    }
    const start = events.find((e) => e.type === 'message_start')!;
    const delta = events.find((e) => e.type === 'message_delta')!;
    const json = events
      .filter((e) => e.type === 'content_block_delta' && e.delta.type === 'input_json_delta')
      .map((e) => (e as { delta: { partial_json: string } }).delta.partial_json);
    expect(json.length).toBeGreaterThan(1);
    const toolId = (
      events.find(
        (e) => e.type === 'content_block_start' && e.content_block.type === 'tool_use',
      ) as {
        content_block: { id: string };
      }
    ).content_block.id;
    const { 'gen_ai.response.time_to_first_chunk': ttfc, ...a } = readable(
      tel.span(`chat ${MODEL}`).attributes,
    );
    expect(ttfc).toBeGreaterThan(0);
    expect(a).toEqual({
      ...base,
      'server.port': port,
      'gen_ai.request.max_tokens': 200,
      'gen_ai.request.stream': true,
      'gen_ai.response.id': start.message.id,
      'gen_ai.response.model': MODEL,
      'gen_ai.response.finish_reasons': ['tool_use'],
      'gen_ai.usage.input_tokens': inputTokens(delta.usage),
      'gen_ai.usage.output_tokens': delta.usage.output_tokens,
      'gen_ai.usage.cache_read.input_tokens': 7,
      'gen_ai.usage.cache_creation.input_tokens': 5,
      'gen_ai.tool.definitions': [ANTHROPIC_WEATHER_TOOL],
      'gen_ai.input.messages': [{ role: 'user', parts: [{ type: 'text', content: 'Lyon' }] }],
      'gen_ai.output.messages': [
        {
          role: 'assistant',
          parts: [
            { type: 'text', content: 'Let me check.' },
            {
              type: 'tool_call',
              id: toolId,
              name: 'get_weather',
              arguments: JSON.parse(json.join('')) as unknown,
            },
          ],
          finish_reason: 'tool_call',
        },
      ],
    });
    expect(JSON.parse(json.join(''))).toEqual({ city: 'Lyon' });
  });

  it('records thinking as reasoning parts and reasoning tokens', async () => {
    const msg = await client.messages.create({
      model: MODEL,
      max_tokens: 2000,
      thinking: { type: 'enabled', budget_tokens: 1024 },
      messages: [{ role: 'user', content: 'think' }],
    });
    const a = readable(tel.span(`chat ${MODEL}`).attributes);
    expect(a['gen_ai.usage.reasoning.output_tokens']).toBe(32);
    expect(a['gen_ai.usage.output_tokens']).toBe(msg.usage.output_tokens);
    expect(a['gen_ai.output.messages']).toEqual([
      {
        role: 'assistant',
        parts: [
          { type: 'reasoning', content: THINKING_TEXT },
          { type: 'text', content: 'echo: think' },
        ],
        finish_reason: 'stop',
      },
    ]);
  });

  it('traces beta.messages.create the same way', async () => {
    await client.beta.messages.create({
      model: MODEL,
      max_tokens: 50,
      messages: [{ role: 'user', content: 'beta' }],
    });
    expect(jsonAttr(tel.span(`chat ${MODEL}`).attributes, 'gen_ai.output.messages')).toEqual([
      {
        role: 'assistant',
        parts: [{ type: 'text', content: 'echo: beta' }],
        finish_reason: 'stop',
      },
    ]);
  });
});

describe('messages.stream() helper', () => {
  it('is one span with the final message', async () => {
    const helper = client.messages.stream({
      model: MODEL,
      max_tokens: 200,
      messages: [{ role: 'user', content: 'stream helper' }],
    });
    const texts: string[] = [];
    helper.on('text', (t) => texts.push(t));
    const final = await helper.finalMessage();
    expect(texts.join('')).toBe('echo: stream helper');
    const span = tel.span(`chat ${MODEL}`);
    expect(span.attributes['gen_ai.request.stream']).toBe(true);
    expect(span.attributes['gen_ai.response.id']).toBe(final.id);
    expect(span.attributes['gen_ai.usage.output_tokens']).toBe(final.usage.output_tokens);
    expect(jsonAttr(span.attributes, 'gen_ai.output.messages')).toEqual([
      {
        role: 'assistant',
        parts: [{ type: 'text', content: 'echo: stream helper' }],
        finish_reason: 'stop',
      },
    ]);
  });

  it('an aborted helper stream ends the span as cancelled', async () => {
    const slow = await startFakeAnthropic({ chunkDelayMs: 15 });
    try {
      const c = wrapAnthropic(new Anthropic({ baseURL: slow.baseURL, apiKey: 'x', maxRetries: 0 }));
      const helper = c.messages.stream({
        model: MODEL,
        max_tokens: 200,
        messages: [{ role: 'user', content: 'abort me please' }],
      });
      helper.on('text', () => helper.abort());
      await expect(helper.finalMessage()).rejects.toThrow();
      await expect.poll(() => tel.spans().length).toBe(1);
      const span = tel.span(`chat ${MODEL}`);
      expect(span.status.code).toBe(SpanStatusCode.UNSET);
      expect(span.events.map((e) => e.name)).toEqual(['loupe.stream.cancelled']);
    } finally {
      await slow.close();
    }
  });
});

describe('errors', () => {
  it('records a 404 as an ERROR span and rethrows the SDK error', async () => {
    for (const stream of [false, true]) {
      tel.reset();
      const error = await client.messages
        .create({
          model: 'bad-model',
          max_tokens: 10,
          stream,
          messages: [{ role: 'user', content: 'x' }],
        })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(error).toBeInstanceOf(NotFoundError);
      const e = error as NotFoundError;
      const span = tel.span('chat bad-model');
      expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: e.message });
      expect(e.message).toContain('not_found_error');
      expect(span.attributes['error.type']).toBe('NotFoundError');
      expect(span.events.map((ev) => [ev.name, ev.attributes?.['exception.type']])).toEqual([
        ['exception', 'NotFoundError'],
      ]);
    }
  });
});

describe('the SDK’s own spans', () => {
  it('are kept out of wrapped calls (one LLM span per call) but not out of other calls', async () => {
    const plain = new Anthropic({ baseURL: fake.baseURL, apiKey: 'x' });
    await plain.messages.create({
      model: MODEL,
      max_tokens: 10,
      messages: [{ role: 'user', content: 'x' }],
    });
    expect(tel.spans().map((s) => s.instrumentationScope.name)).toEqual([
      'com.anthropic.sdk.typescript',
    ]);
    tel.reset();

    await client.messages.create({
      model: MODEL,
      max_tokens: 10,
      messages: [{ role: 'user', content: 'x' }],
    });
    await client.messages
      .stream({ model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: 'x' }] })
      .done();
    const s = await client.messages.create({
      model: MODEL,
      max_tokens: 10,
      stream: true,
      messages: [{ role: 'user', content: 'x' }],
    });
    for await (const _ of s) void _;
    expect(tel.spans().map((sp) => `${sp.instrumentationScope.name} ${sp.name}`)).toEqual([
      `@loupe/sdk chat ${MODEL}`,
      `@loupe/sdk chat ${MODEL}`,
      `@loupe/sdk chat ${MODEL}`,
    ]);
    tel.reset();
    // an endpoint the wrapper does not record keeps the SDK's span
    await client.messages
      .countTokens({ model: MODEL, messages: [{ role: 'user', content: 'x' }] })
      .catch(() => undefined);
    expect(tel.spans().map((sp) => sp.name)).toEqual(['anthropic.messages.count_tokens']);
  });
});

describe('what the caller sees', () => {
  it('returns exactly what the unwrapped client returns, and sends the same requests', async () => {
    const fakes = [await startFakeAnthropic(CACHE), await startFakeAnthropic(CACHE)];
    try {
      const results = [];
      for (const [i, f] of fakes.entries()) {
        const plain = new Anthropic({ baseURL: f.baseURL, apiKey: 'x', maxRetries: 0 });
        const c = i === 0 ? plain : wrapAnthropic(plain);
        const params = {
          model: MODEL,
          max_tokens: 100,
          system: 'sys',
          tools: [ANTHROPIC_WEATHER_TOOL],
          messages: [{ role: 'user' as const, content: 'Paris' }],
        };
        const msg = await c.messages.create(params);
        const events = [];
        for await (const e of await c.messages.create({ ...params, stream: true })) events.push(e);
        const helper = c.messages.stream({ ...params, tools: [] });
        const final = await helper.finalMessage();
        const { data, response } = await c.messages.create(params).withResponse();
        results.push({
          msg,
          events,
          final,
          data,
          status: response.status,
          requestId: msg._request_id,
        });
      }
      expect(results[1]).toEqual(results[0]);
      expect(fakes[1]!.requests.map((r) => r.body)).toEqual(fakes[0]!.requests.map((r) => r.body));
    } finally {
      await Promise.all(fakes.map((f) => f.close()));
    }
  });

  it('hides content with hideInputs / hideOutputs', async () => {
    setPayloadOptions({ hideInputs: true, hideOutputs: true });
    await client.messages.create({
      model: MODEL,
      max_tokens: 10,
      system: 'secret',
      messages: [{ role: 'user', content: 'x' }],
    });
    const a = tel.span(`chat ${MODEL}`).attributes;
    expect(jsonAttr(a, 'loupe.inputs')).toEqual(HIDDEN);
    expect(jsonAttr(a, 'loupe.outputs')).toEqual(HIDDEN);
    expect(a['gen_ai.system_instructions']).toBeUndefined();
    expect(a['gen_ai.input.messages']).toBeUndefined();
    expect(a['gen_ai.output.messages']).toBeUndefined();
  });

  it('patches only this instance, once; withOptions copies are wrapped too', async () => {
    const raw = new Anthropic({ baseURL: fake.baseURL, apiKey: 'x' });
    expect(wrapAnthropic(wrapAnthropic(raw))).toBe(raw);
    await raw.withOptions({ timeout: 5000 }).messages.create({
      model: MODEL,
      max_tokens: 10,
      messages: [{ role: 'user', content: 'x' }],
    });
    expect(tel.spans().map((s) => s.instrumentationScope.name)).toEqual(['@loupe/sdk']);
    expect(
      Object.prototype.hasOwnProperty.call(new Anthropic({ apiKey: 'x' }).messages, 'create'),
    ).toBe(false);
  });
});
