import { describe, it, expect, afterAll, beforeEach } from 'vitest';
import OpenAI from 'openai';
import type {
  ChatCompletionChunk,
  ChatCompletionMessageParam,
  ChatCompletionTool,
} from 'openai/resources/chat/completions';
import { startFakeOpenAI } from '../support/fake-openai.js';

const fake = await startFakeOpenAI();
const client = new OpenAI({ baseURL: fake.url, apiKey: 'test' });

afterAll(async () => {
  await fake.close();
});

beforeEach(() => {
  fake.requests.length = 0;
  fake.setScript([]);
});

const weatherTool: ChatCompletionTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: {
      type: 'object',
      properties: {
        city: { type: 'string' },
        unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
      },
      required: ['city', 'unit'],
    },
  },
};

describe('fake OpenAI server', () => {
  it('serves a non-streamed chat completion and records the request', async () => {
    const res = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'hello there' },
      ],
    });
    expect(fake.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    expect(res.object).toBe('chat.completion');
    expect(res.id).toMatch(/^chatcmpl-/);
    expect(res.model).toBe('gpt-4o-mini-2024-07-18');
    expect(res.system_fingerprint).toMatch(/^fp_[0-9a-f]{10}$/);
    expect(res.choices[0]?.message).toMatchObject({
      role: 'assistant',
      content: 'echo: hello there',
    });
    expect(res.choices[0]?.finish_reason).toBe('stop');
    const usage = res.usage!;
    expect(usage.total_tokens).toBe(usage.prompt_tokens + usage.completion_tokens);
    expect(usage.prompt_tokens_details?.cached_tokens).toBe(0);
    expect(usage.completion_tokens_details?.reasoning_tokens).toBe(0);

    expect(fake.requests).toHaveLength(1);
    const req = fake.requests[0]!;
    expect(req).toMatchObject({ method: 'POST', path: '/v1/chat/completions' });
    expect(req.headers.authorization).toBe('Bearer test');
    expect(req.body).toMatchObject({
      model: 'gpt-4o-mini',
      messages: [{ role: 'system' }, { role: 'user' }],
    });
  });

  it('is deterministic across identical requests (content and usage)', async () => {
    const params = {
      model: 'gpt-4o',
      messages: [{ role: 'user' as const, content: 'same input' }],
    };
    const a = await client.chat.completions.create(params);
    const b = await client.chat.completions.create(params);
    expect(a.choices[0]?.message.content).toBe(b.choices[0]?.message.content);
    expect(a.usage).toEqual(b.usage);
    expect(a.model).toBe('gpt-4o-2024-08-06');
  });

  it('streams chat chunks with a final usage chunk when include_usage is set', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'stream me some words' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);

    expect(chunks[0]?.choices[0]?.delta.role).toBe('assistant');
    const contentChunks = chunks.filter((c) => (c.choices[0]?.delta.content ?? '') !== '');
    expect(contentChunks.length).toBeGreaterThanOrEqual(3);
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(text).toBe('echo: stream me some words');
    expect(chunks.find((c) => c.choices[0]?.finish_reason)?.choices[0]?.finish_reason).toBe('stop');

    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage?.completion_tokens).toBeGreaterThan(0);
    expect(last.usage?.prompt_tokens_details?.cached_tokens).toBe(0);
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);

    const plain = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'stream me some words' }],
    });
    expect(plain.usage).toEqual(last.usage);
  });

  it('omits the usage chunk without include_usage', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'no usage please' }],
      stream: true,
    });
    const chunks: ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.every((c) => c.choices.length === 1 && c.usage === undefined)).toBe(true);
  });

  it('round-trips a tool call: tools → tool_calls → tool message → answer', async () => {
    const messages: ChatCompletionMessageParam[] = [{ role: 'user', content: 'Weather in Paris?' }];
    const first = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages,
      tools: [weatherTool],
    });
    const choice = first.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBeNull();
    const call = choice.message.tool_calls?.[0];
    expect(call?.type).toBe('function');
    if (call?.type !== 'function') throw new Error('expected a function tool call');
    expect(call.id).toMatch(/^call_/);
    expect(call.function.name).toBe('get_weather');
    expect(JSON.parse(call.function.arguments)).toEqual({
      city: 'Weather in Paris?',
      unit: 'celsius',
    });

    messages.push(choice.message, {
      role: 'tool',
      tool_call_id: call.id,
      content: '{"temp_c":21}',
    });
    const second = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages,
      tools: [weatherTool],
    });
    expect(second.choices[0]?.finish_reason).toBe('stop');
    expect(second.choices[0]?.message.content).toContain('{"temp_c":21}');
  });

  it('streams tool call deltas that reassemble into the same call', async () => {
    const messages: ChatCompletionMessageParam[] = [{ role: 'user', content: 'Weather in Oslo?' }];
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages,
      tools: [weatherTool],
      stream: true,
    });
    let id = '';
    let name = '';
    let args = '';
    let finish: string | null = null;
    let argChunks = 0;
    for await (const chunk of stream) {
      const c = chunk.choices[0];
      for (const tc of c?.delta.tool_calls ?? []) {
        expect(tc.index).toBe(0);
        id += tc.id ?? '';
        name += tc.function?.name ?? '';
        if (tc.function?.arguments) argChunks++;
        args += tc.function?.arguments ?? '';
      }
      finish = c?.finish_reason ?? finish;
    }
    expect(finish).toBe('tool_calls');
    expect(name).toBe('get_weather');
    expect(id).toMatch(/^call_/);
    expect(argChunks).toBeGreaterThan(1);
    expect(JSON.parse(args)).toEqual({ city: 'Weather in Oslo?', unit: 'celsius' });
  });

  it('creates deterministic, normalised embeddings (default base64 and float agree)', async () => {
    const viaBase64 = await client.embeddings.create({
      model: 'text-embedding-3-small',
      input: ['alpha', 'beta'],
    });
    expect(viaBase64.object).toBe('list');
    expect(viaBase64.data).toHaveLength(2);
    expect(viaBase64.usage.prompt_tokens).toBeGreaterThan(0);
    const [a, b] = viaBase64.data.map((d) => d.embedding);
    expect(a).toHaveLength(8);
    expect(a).not.toEqual(b);
    expect(Math.hypot(...a!)).toBeCloseTo(1, 5);
    expect(fake.requests[0]?.body).toMatchObject({ encoding_format: 'base64' });

    const viaFloat = await client.embeddings.create({
      model: 'text-embedding-3-small',
      input: 'alpha',
      encoding_format: 'float',
    });
    expect(viaFloat.data[0]?.embedding).toEqual(a);
    const sized = await client.embeddings.create({
      model: 'text-embedding-3-small',
      input: 'alpha',
      dimensions: 4,
    });
    expect(sized.data[0]?.embedding).toHaveLength(4);
  });

  it('serves the Responses API (string input and message array)', async () => {
    const res = await client.responses.create({
      model: 'gpt-4o-mini',
      instructions: 'Be brief.',
      input: 'hi responses',
    });
    expect(res.object).toBe('response');
    expect(res.id).toMatch(/^resp_/);
    expect(res.status).toBe('completed');
    expect(res.model).toBe('gpt-4o-mini-2024-07-18');
    expect(res.instructions).toBe('Be brief.');
    expect(res.output_text).toBe('echo: hi responses');
    const msg = res.output[0];
    expect(msg?.type).toBe('message');
    if (msg?.type !== 'message') throw new Error('expected a message item');
    expect(msg.content[0]).toMatchObject({ type: 'output_text', text: 'echo: hi responses' });
    const usage = res.usage!;
    expect(usage.total_tokens).toBe(usage.input_tokens + usage.output_tokens);
    expect(usage.input_tokens_details.cached_tokens).toBe(0);
    expect(usage.output_tokens_details.reasoning_tokens).toBe(0);

    const arr = await client.responses.create({
      model: 'o3-mini',
      input: [
        { role: 'user', content: 'first' },
        { role: 'assistant', content: 'echo: first' },
        { role: 'user', content: [{ type: 'input_text', text: 'second' }] },
      ],
    });
    expect(arr.output_text).toBe('echo: second');
    expect(arr.output.map((o) => o.type)).toEqual(['reasoning', 'message']);
    expect(arr.usage?.output_tokens_details.reasoning_tokens).toBe(64);
  });

  it('streams the Responses API with response.* events', async () => {
    const stream = await client.responses.create({
      model: 'gpt-4o-mini',
      input: 'stream responses',
      stream: true,
    });
    const types: string[] = [];
    let text = '';
    let completed: OpenAI.Responses.Response | undefined;
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === 'response.output_text.delta') text += event.delta;
      if (event.type === 'response.completed') completed = event.response;
    }
    expect(types[0]).toBe('response.created');
    expect(types).toContain('response.output_item.added');
    expect(types.at(-1)).toBe('response.completed');
    expect(text).toBe('echo: stream responses');
    expect(completed?.usage?.output_tokens).toBeGreaterThan(0);
  });

  it('rejects bad-model with OpenAI.NotFoundError on every endpoint', async () => {
    const chat = client.chat.completions.create({
      model: 'bad-model',
      messages: [{ role: 'user', content: 'x' }],
    });
    await expect(chat).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    const err = await chat.catch((e: unknown) => e);
    expect(err).toMatchObject({
      status: 404,
      code: 'model_not_found',
      type: 'invalid_request_error',
      param: null,
      error: { message: 'The model `bad-model` does not exist' },
    });
    await expect(
      client.embeddings.create({ model: 'bad-model', input: 'x' }),
    ).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(
      client.responses.create({ model: 'bad-model', input: 'x' }),
    ).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('answers unknown routes with a 404 error JSON', async () => {
    const res = await fetch(`${fake.url}/nope`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      error: {
        message: 'Invalid URL (POST /v1/nope)',
        type: 'invalid_request_error',
        param: null,
        code: null,
      },
    });
  });

  it('replays scripted 429/500 failures so the client retries', async () => {
    fake.setScript([{ status: 429, path: '/chat/completions' }, { status: 500 }]);
    const res = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'retry' }],
    });
    expect(res.choices[0]?.message.content).toBe('echo: retry');
    expect(fake.requests).toHaveLength(3);
    expect(fake.requests[1]?.headers['x-stainless-retry-count']).toBe('1');

    fake.setScript([{ status: 429 }]);
    const noRetry = client.chat.completions.create(
      { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] },
      { maxRetries: 0 },
    );
    await expect(noRetry).rejects.toBeInstanceOf(OpenAI.RateLimitError);
  });

  it('returns scripted content', async () => {
    fake.setScript([{ content: 'canned answer' }]);
    const res = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'x' }],
    });
    expect(res.choices[0]?.message.content).toBe('canned answer');
  });
});
