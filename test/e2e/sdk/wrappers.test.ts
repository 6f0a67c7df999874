// @loupe/sdk wrapOpenAI / wrapAnthropic → OTLP/protobuf → the real collector, on each
// backend: real `openai` and `@anthropic-ai/sdk` clients against the fake servers, spans
// exported by the standard OTel exporter, runs checked field by field through the
// native query API (run type, model, provider, tokens and their cache/reasoning
// details, messages, tool calls, streaming, errors).
import { context, propagation, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runIdFromOtel } from '@loupe/collector';
import { startTestServer, testBackends, type TestServer } from '@loupe/collector/testing';
import type { RunDetail } from '@loupe/contracts';
import { wrapAnthropic, wrapOpenAI } from '@loupe/sdk';
import {
  THINKING_TEXT,
  startFakeAnthropic,
  type FakeAnthropic,
} from '../../support/fake-anthropic.js';
import { startFakeOpenAI, type FakeOpenAI } from '../../support/fake-openai.js';
import { loupeApi, otelOf, waitForTraceRuns, type LoupeApi } from '../../support/otel-helpers.js';

const PROJECT = 'sdk-wrappers';
const CACHED = 4;
const CACHE_READ = 7;
const CACHE_WRITE = 5;
const CLAUDE = 'claude-haiku-4-5';

const WEATHER = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};
const CLAUDE_WEATHER = {
  name: 'get_weather',
  description: 'Weather for a city',
  input_schema: {
    type: 'object' as const,
    properties: { city: { type: 'string' } },
    required: ['city'],
  },
};

interface Scenario<T> {
  value: T | undefined;
  error: unknown;
  root: RunDetail;
  /** the LLM runs below the root, in start order */
  llm: RunDetail[];
}

describe.each(testBackends())('LLM wrappers → collector (%s)', (backend) => {
  let server: TestServer;
  let fakeOpenAI: FakeOpenAI;
  let fakeAnthropic: FakeAnthropic;
  let api: LoupeApi;
  let provider: NodeTracerProvider;
  let openai: OpenAI;
  let anthropic: Anthropic;

  beforeAll(async () => {
    server = await startTestServer(backend);
    fakeOpenAI = await startFakeOpenAI({ cachedTokens: CACHED });
    fakeAnthropic = await startFakeAnthropic({
      cacheReadTokens: CACHE_READ,
      cacheCreationTokens: CACHE_WRITE,
    });
    api = loupeApi(server);
    provider = new NodeTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'wrappers-e2e' }),
      spanProcessors: [
        new BatchSpanProcessor(
          new OTLPTraceExporter({
            url: `${server.url}/v1/traces`,
            headers: { 'x-api-key': server.apiKey, 'x-loupe-project': PROJECT },
          }),
        ),
      ],
    });
    // one backend after the other in this process: replace the previous globals
    trace.disable();
    context.disable();
    propagation.disable();
    provider.register();
    openai = wrapOpenAI(new OpenAI({ baseURL: fakeOpenAI.url, apiKey: 'test', maxRetries: 0 }));
    anthropic = wrapAnthropic(
      new Anthropic({ baseURL: fakeAnthropic.baseURL, apiKey: 'test', maxRetries: 0 }),
    );
  });

  afterAll(async () => {
    await provider?.shutdown();
    trace.disable();
    context.disable();
    await fakeOpenAI?.close();
    await fakeAnthropic?.close();
    await server?.close();
  });

  /** Runs `fn` under an application span, exports, and waits for root + `calls` LLM runs. */
  async function scenario<T>(
    name: string,
    calls: number,
    fn: () => Promise<T>,
  ): Promise<Scenario<T>> {
    const tracer = trace.getTracer('wrappers-e2e-app');
    const ran = await tracer.startActiveSpan(`scenario:${name}`, async (span) => {
      let value: T | undefined;
      let error: unknown;
      try {
        value = await fn();
      } catch (e) {
        error = e;
      }
      span.end();
      const { traceId, spanId } = span.spanContext();
      return { value, error, traceId, spanId };
    });
    await provider.forceFlush();
    const runs = await waitForTraceRuns(api, ran.traceId, calls + 1);
    const root = runs.byId(runIdFromOtel(ran.traceId, ran.spanId));
    expect(root).toMatchObject({ name: `scenario:${name}`, parent_run_id: null });
    const llm = runs.all.filter((r) => r.id !== root.id);
    for (const run of llm) {
      expect(run.parent_run_id).toBe(root.id);
      expect(run.metadata).toMatchObject({
        otel_scope: '@loupe/sdk',
        service_name: 'wrappers-e2e',
        server_address: '127.0.0.1',
      });
    }
    return { value: ran.value, error: ran.error, root, llm };
  }

  describe('wrapOpenAI', () => {
    it('chat: an llm run with model, provider, params, tokens and messages', async () => {
      const s = await scenario('openai-chat', 1, () =>
        openai.chat.completions.create({
          model: 'gpt-4o-mini',
          temperature: 0.2,
          max_tokens: 50,
          messages: [
            { role: 'system', content: 'You are terse.' },
            { role: 'user', content: 'Capital of France?' },
          ],
        }),
      );
      const res = s.value!;
      const run = s.llm[0]!;
      expect(run).toMatchObject({
        name: 'chat gpt-4o-mini',
        run_type: 'llm',
        status: 'success',
        error: null,
        model: 'gpt-4o-mini-2024-07-18',
        provider: 'openai',
        prompt_tokens: res.usage!.prompt_tokens,
        completion_tokens: res.usage!.completion_tokens,
        total_tokens: res.usage!.total_tokens,
        token_details: { cache_read: CACHED, reasoning: 0 },
        first_token_time: null,
      });
      expect(run.metadata).toMatchObject({ ls_model_requested: 'gpt-4o-mini' });
      expect(run.extra).toEqual({ invocation_params: { temperature: 0.2, max_tokens: 50 } });
      expect(run.inputs).toEqual({
        messages: [
          { role: 'system', content: 'You are terse.' },
          { role: 'user', content: 'Capital of France?' },
        ],
      });
      expect(run.outputs).toEqual({
        messages: [
          { role: 'assistant', content: 'echo: Capital of France?', finish_reason: 'stop' },
        ],
      });
      expect(otelOf(run).kind).toBe('CLIENT');
      expect(otelOf(run).attributes).toMatchObject({
        'gen_ai.operation.name': 'chat',
        'gen_ai.response.id': res.id,
        'gen_ai.response.finish_reasons': ['stop'],
      });
      // the project came from the exporter's x-loupe-project header
      const listed = await api.runs({ project: PROJECT, trace_id: run.trace_id });
      expect(listed.map((r) => r.id).sort()).toEqual([s.root.id, run.id].sort());
    });

    it('streamed chat with include_usage: server-reported tokens, assembled answer, first token time', async () => {
      const s = await scenario('openai-stream', 1, async () => {
        const stream = await openai.chat.completions.create({
          model: 'gpt-4o-mini',
          stream: true,
          stream_options: { include_usage: true },
          messages: [{ role: 'user', content: 'Tell me about Lyon' }],
        });
        const chunks: OpenAI.ChatCompletionChunk[] = [];
        for await (const c of stream) chunks.push(c);
        return chunks;
      });
      const usage = s.value!.at(-1)!.usage!;
      const run = s.llm[0]!;
      expect(run).toMatchObject({
        run_type: 'llm',
        status: 'success',
        model: 'gpt-4o-mini-2024-07-18',
        provider: 'openai',
        prompt_tokens: usage.prompt_tokens,
        completion_tokens: usage.completion_tokens,
        total_tokens: usage.total_tokens,
        token_details: { cache_read: CACHED, reasoning: 0 },
      });
      expect(run.extra).toEqual({ invocation_params: { stream: true } });
      const first = Date.parse(run.first_token_time!);
      expect(first).toBeGreaterThanOrEqual(Date.parse(run.start_time!));
      expect(first).toBeLessThanOrEqual(Date.parse(run.end_time!));
      expect(run.outputs).toEqual({
        messages: [
          { role: 'assistant', content: 'echo: Tell me about Lyon', finish_reason: 'stop' },
        ],
      });
    });

    it('tool-call round trip: the call out, the conversation back in, tool definitions as params', async () => {
      const s = await scenario('openai-tools', 2, async () => {
        const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Paris' }];
        const first = await openai.chat.completions.create({
          model: 'gpt-4o-mini',
          messages,
          tools: [WEATHER],
        });
        const call = first.choices[0]!.message
          .tool_calls![0]! as OpenAI.ChatCompletionMessageFunctionToolCall;
        messages.push(first.choices[0]!.message, {
          role: 'tool',
          tool_call_id: call.id,
          content: 'sunny, 21C',
        });
        await openai.chat.completions.create({ model: 'gpt-4o-mini', messages, tools: [WEATHER] });
        return call;
      });
      const call = s.value!;
      const [asked, answered] = s.llm as [RunDetail, RunDetail];
      const toolCall = {
        id: call.id,
        type: 'function',
        function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
      };
      expect(asked.outputs).toEqual({
        messages: [
          { role: 'assistant', content: null, tool_calls: [toolCall], finish_reason: 'tool_call' },
        ],
      });
      expect(asked.extra).toEqual({ invocation_params: { tools: [WEATHER] } });
      expect(otelOf(asked).attributes).toMatchObject({
        'gen_ai.response.finish_reasons': ['tool_calls'],
      });
      expect(answered.inputs).toEqual({
        messages: [
          { role: 'user', content: 'Paris' },
          { role: 'assistant', content: null, tool_calls: [toolCall] },
          { role: 'tool', content: 'sunny, 21C', tool_call_id: call.id },
        ],
      });
      expect(answered.outputs).toEqual({
        messages: [
          { role: 'assistant', content: 'tool result: sunny, 21C', finish_reason: 'stop' },
        ],
      });
    });

    it('Responses API with a reasoning model: instructions as the system message, reasoning tokens', async () => {
      const s = await scenario('openai-responses', 1, () =>
        openai.responses.create({
          model: 'o3-mini',
          instructions: 'Be brief.',
          input: 'Why is the sky blue?',
        }),
      );
      const res = s.value!;
      expect(s.llm[0]).toMatchObject({
        name: 'chat o3-mini',
        run_type: 'llm',
        status: 'success',
        model: 'o3-mini-2025-01-31',
        provider: 'openai',
        prompt_tokens: res.usage!.input_tokens,
        completion_tokens: res.usage!.output_tokens,
        token_details: { cache_read: CACHED, reasoning: 64 },
        inputs: {
          messages: [
            { role: 'system', content: 'Be brief.' },
            { role: 'user', content: 'Why is the sky blue?' },
          ],
        },
        outputs: {
          messages: [{ role: 'assistant', content: res.output_text, finish_reason: 'stop' }],
        },
      });
    });

    it('embeddings: an embedding run with texts in and counts out', async () => {
      const s = await scenario('openai-embeddings', 1, () =>
        openai.embeddings.create({ model: 'text-embedding-3-small', input: ['alpha', 'beta'] }),
      );
      expect(s.llm[0]).toMatchObject({
        name: 'embeddings text-embedding-3-small',
        run_type: 'embedding',
        status: 'success',
        model: 'text-embedding-3-small',
        provider: 'openai',
        prompt_tokens: s.value!.usage.prompt_tokens,
        inputs: { input: ['alpha', 'beta'] },
        outputs: { embeddings: 2, dimensions: 8 },
      });
    });

    it('a failed call (404 model not found) is an errored llm run with the API message', async () => {
      const s = await scenario('openai-error', 1, () =>
        openai.chat.completions.create({
          model: 'bad-model',
          messages: [{ role: 'user', content: 'hi' }],
        }),
      );
      const message = (s.error as Error).message;
      expect(message).toBe('404 The model `bad-model` does not exist');
      const run = s.llm[0]!;
      expect(run).toMatchObject({
        name: 'chat bad-model',
        run_type: 'llm',
        status: 'error',
        error: message,
        model: 'bad-model',
        provider: 'openai',
        prompt_tokens: null,
        outputs: null,
        inputs: { messages: [{ role: 'user', content: 'hi' }] },
      });
      expect(run.metadata).toMatchObject({ error_type: 'NotFoundError' });
      expect(run.metadata.error_stacktrace).toBe((s.error as Error).stack);
      expect(otelOf(run).status).toEqual({ code: 'ERROR', message });
      expect((run.events as Array<{ name: string }>).map((e) => e.name)).toEqual(['exception']);
    });
  });

  describe('wrapAnthropic', () => {
    const cachedInput = (u: Anthropic.Usage) =>
      u.input_tokens + (u.cache_read_input_tokens ?? 0) + (u.cache_creation_input_tokens ?? 0);

    it('messages.create: system prompt, cache read/write tokens counted in the prompt', async () => {
      const s = await scenario('anthropic-chat', 1, () =>
        anthropic.messages.create({
          model: CLAUDE,
          max_tokens: 100,
          system: 'You are terse.',
          messages: [{ role: 'user', content: 'Capital of Italy?' }],
        }),
      );
      const msg = s.value!;
      const run = s.llm[0]!;
      expect(run).toMatchObject({
        name: `chat ${CLAUDE}`,
        run_type: 'llm',
        status: 'success',
        model: CLAUDE,
        provider: 'anthropic',
        prompt_tokens: cachedInput(msg.usage),
        completion_tokens: msg.usage.output_tokens,
        total_tokens: cachedInput(msg.usage) + msg.usage.output_tokens,
        token_details: { cache_read: CACHE_READ, cache_write: CACHE_WRITE },
      });
      expect(run.extra).toEqual({ invocation_params: { max_tokens: 100 } });
      expect(run.inputs).toEqual({
        messages: [
          { role: 'system', content: 'You are terse.' },
          { role: 'user', content: 'Capital of Italy?' },
        ],
      });
      expect(run.outputs).toEqual({
        messages: [
          { role: 'assistant', content: 'echo: Capital of Italy?', finish_reason: 'stop' },
        ],
      });
      expect(otelOf(run).attributes).toMatchObject({
        'gen_ai.response.id': msg.id,
        'gen_ai.response.finish_reasons': ['end_turn'],
      });
    });

    it('streamed tool use, then the tool result: one llm run per call, nothing from the SDK’s own tracing', async () => {
      const s = await scenario('anthropic-tools', 2, async () => {
        const stream = await anthropic.messages.create({
          model: CLAUDE,
          max_tokens: 100,
          stream: true,
          tools: [CLAUDE_WEATHER],
          messages: [{ role: 'user', content: 'Rome' }],
        });
        const events: Anthropic.RawMessageStreamEvent[] = [];
        for await (const e of stream) events.push(e);
        const start = events.find(
          (e) => e.type === 'content_block_start' && e.content_block.type === 'tool_use',
        );
        const id = (start as { content_block: { id: string } }).content_block.id;
        await anthropic.messages.create({
          model: CLAUDE,
          max_tokens: 100,
          tools: [CLAUDE_WEATHER],
          messages: [
            { role: 'user', content: 'Rome' },
            {
              role: 'assistant',
              content: [
                { type: 'text', text: 'Let me check.' },
                { type: 'tool_use', id, name: 'get_weather', input: { city: 'Rome' } },
              ],
            },
            {
              role: 'user',
              content: [{ type: 'tool_result', tool_use_id: id, content: 'cloudy' }],
            },
          ],
        });
        return { id, delta: events.find((e) => e.type === 'message_delta')! };
      });
      const { id, delta } = s.value!;
      const [streamed, answered] = s.llm as [RunDetail, RunDetail];
      const toolCall = {
        id,
        type: 'function',
        function: { name: 'get_weather', arguments: '{"city":"Rome"}' },
      };
      expect(streamed).toMatchObject({
        status: 'success',
        provider: 'anthropic',
        model: CLAUDE,
        completion_tokens: delta.usage.output_tokens,
        token_details: { cache_read: CACHE_READ, cache_write: CACHE_WRITE },
        outputs: {
          messages: [
            {
              role: 'assistant',
              content: 'Let me check.',
              tool_calls: [toolCall],
              finish_reason: 'tool_call',
            },
          ],
        },
      });
      expect(streamed.first_token_time).not.toBeNull();
      expect(streamed.extra).toEqual({
        invocation_params: { max_tokens: 100, stream: true, tools: [CLAUDE_WEATHER] },
      });
      expect(answered.inputs).toEqual({
        messages: [
          { role: 'user', content: 'Rome' },
          { role: 'assistant', content: 'Let me check.', tool_calls: [toolCall] },
          { role: 'tool', content: 'cloudy', tool_call_id: id },
        ],
      });
      expect(answered.outputs).toEqual({
        messages: [{ role: 'assistant', content: 'tool result: cloudy', finish_reason: 'stop' }],
      });
    });

    it('messages.stream() with thinking: reasoning tokens and the final message', async () => {
      const s = await scenario('anthropic-stream-helper', 1, () =>
        anthropic.messages
          .stream({
            model: CLAUDE,
            max_tokens: 2000,
            thinking: { type: 'enabled', budget_tokens: 1024 },
            messages: [{ role: 'user', content: 'Think first' }],
          })
          .finalMessage(),
      );
      const msg = s.value!;
      expect(s.llm[0]).toMatchObject({
        status: 'success',
        completion_tokens: msg.usage.output_tokens,
        prompt_tokens: cachedInput(msg.usage),
        token_details: { cache_read: CACHE_READ, cache_write: CACHE_WRITE, reasoning: 32 },
        outputs: {
          messages: [
            {
              role: 'assistant',
              content: [
                { type: 'reasoning', content: THINKING_TEXT },
                { type: 'text', text: 'echo: Think first' },
              ],
              finish_reason: 'stop',
            },
          ],
        },
      });
    });

    it('a failed call is an errored llm run with the SDK’s message', async () => {
      const s = await scenario('anthropic-error', 1, () =>
        anthropic.messages.create({
          model: 'bad-model',
          max_tokens: 10,
          messages: [{ role: 'user', content: 'x' }],
        }),
      );
      const message = (s.error as Error).message;
      expect(message).toContain('not_found_error');
      expect(s.llm[0]).toMatchObject({
        name: 'chat bad-model',
        run_type: 'llm',
        status: 'error',
        error: message,
        provider: 'anthropic',
      });
      expect(s.llm[0]!.metadata).toMatchObject({ error_type: 'NotFoundError' });
    });
  });
});
