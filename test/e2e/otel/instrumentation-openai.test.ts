// @opentelemetry/instrumentation-openai 0.21.0 (official OTel JS contrib) + openai 6 against the
// fake OpenAI server → collector on each backend. Prompts and completions travel as OTLP log
// records (captureMessageContent), tokens and model as span attributes. The SDK/client side
// runs in drivers/otel-openai.driver.ts (one process per backend; why: drivers/runtime.ts).
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunDetail } from '@loupe/contracts';
import { runIdFromOtel } from '@loupe/collector';
import { startTestServer, testBackends, type TestServer } from '@loupe/collector/testing';
import { startFakeOpenAI, type FakeOpenAI } from '../../support/fake-openai.js';
import {
  loupeApi,
  otelOf,
  startDriver,
  waitForTraceRuns,
  type Driver,
  type LoupeApi,
} from '../../support/otel-helpers.js';
import {
  CHAT_MODEL,
  CHAT_TEXT,
  EMBEDDING_MODEL,
  STREAM_TEXT,
  SYSTEM_TEXT,
  TOOL_RESULT,
  TOOLS_TEXT,
  type CallSeen,
  type ScenarioName,
  type ScenarioResult,
} from './drivers/openai-scenarios.js';

const DRIVER = fileURLToPath(new URL('./drivers/otel-openai.driver.ts', import.meta.url));
const PROJECT = 'otel-contrib';
const SCOPE = '@opentelemetry/instrumentation-openai';

/** Content is complete once the `gen_ai.choice` record (the last one) is on the llm run. */
const contentArrived = (r: RunDetail) =>
  r.run_type !== 'llm' || r.status === 'error' || r.outputs !== null;

function expectUsage(run: RunDetail, call: CallSeen): void {
  const usage = call.usage!;
  expect(run).toMatchObject({
    prompt_tokens: usage.prompt_tokens,
    completion_tokens: usage.completion_tokens,
    total_tokens: usage.total_tokens,
  });
}

describe.each(testBackends())(
  '@opentelemetry/instrumentation-openai → collector (%s)',
  (backend) => {
    let server: TestServer;
    let fake: FakeOpenAI;
    let api: LoupeApi;
    let driver: Driver;

    beforeAll(async () => {
      server = await startTestServer(backend);
      fake = await startFakeOpenAI();
      api = loupeApi(server);
      driver = await startDriver(DRIVER, {
        collectorUrl: server.url,
        apiKey: server.apiKey,
        project: PROJECT,
        serviceName: 'otel-contrib-app',
        openaiUrl: fake.url,
      });
    });

    afterAll(async () => {
      await driver?.close();
      await fake?.close();
      await server?.close();
    });

    const scenario = (name: ScenarioName) => driver.call<ScenarioResult>('scenario', { name });

    /** The scenario's application run (root) and its single instrumented child. */
    async function scenarioRuns(name: ScenarioName, result: ScenarioResult, children: number) {
      const runs = await waitForTraceRuns(
        api,
        result.scenario.traceId,
        children + 1,
        contentArrived,
      );
      const rootId = runIdFromOtel(result.scenario.traceId, result.scenario.spanId);
      const root = runs.byId(rootId);
      expect(root).toMatchObject({
        name: `scenario:${name}`,
        parent_run_id: null,
        run_type: 'chain',
      });
      const rest = runs.all.filter((r) => r.id !== rootId);
      for (const child of rest) {
        expect(child.parent_run_id).toBe(rootId);
        expect(child.trace_id).toBe(root.trace_id);
        expect(child.metadata).toMatchObject({
          otel_scope: SCOPE,
          service_name: 'otel-contrib-app',
        });
        expect(otelOf(child).scope).toMatchObject({ name: SCOPE, version: '0.21.0' });
      }
      return { root, children: rest };
    }

    it('chat (system + user): llm run with model, provider, tokens and messages from log records', async () => {
      const result = await scenario('chat');
      const { root, children } = await scenarioRuns('chat', result, 1);
      expect(root).toMatchObject({ status: 'success', error: null, inputs: null });
      const call = result.calls[0]!;
      const llm = children[0]!;
      expect(llm).toMatchObject({
        name: `chat ${CHAT_MODEL}`,
        run_type: 'llm',
        status: 'success',
        error: null,
        model: call.model,
        provider: 'openai',
      });
      expectUsage(llm, call);
      expect(llm.metadata).toMatchObject({
        ls_model_requested: CHAT_MODEL,
        server_address: '127.0.0.1',
      });
      expect(llm.extra).toMatchObject({ invocation_params: { max_tokens: 50, temperature: 0.2 } });
      expect(llm.inputs).toEqual({
        messages: [
          { role: 'system', content: SYSTEM_TEXT },
          { role: 'user', content: CHAT_TEXT },
        ],
      });
      expect(llm.outputs).toEqual({
        messages: [{ role: 'assistant', content: call.text, finish_reason: 'stop' }],
      });
      expect(otelOf(llm).attributes).toMatchObject({ 'gen_ai.response.id': call.responseId });
      const records = Object.values(otelOf(llm).log_records ?? {});
      expect(records.map((r) => r.event_name).sort()).toEqual([
        'gen_ai.choice',
        'gen_ai.system.message',
        'gen_ai.user.message',
      ]);
      // the project came from the x-loupe-project header
      const inProject = await api.runs({ project: PROJECT, trace_id: llm.trace_id });
      expect(inProject).toHaveLength(2);
    });

    it('streamed chat with include_usage: server-reported tokens and the assembled answer', async () => {
      const result = await scenario('stream');
      const { children } = await scenarioRuns('stream', result, 1);
      const call = result.calls[0]!;
      const llm = children[0]!;
      expect(llm).toMatchObject({
        name: `chat ${CHAT_MODEL}`,
        run_type: 'llm',
        status: 'success',
        model: call.model,
        provider: 'openai',
      });
      expectUsage(llm, call);
      expect(llm.inputs).toEqual({ messages: [{ role: 'user', content: STREAM_TEXT }] });
      expect(llm.outputs).toEqual({
        messages: [{ role: 'assistant', content: call.text, finish_reason: 'stop' }],
      });
    });

    it('tool-call round trip: the tool call out, then the full conversation back in', async () => {
      const result = await scenario('tools');
      const { children } = await scenarioRuns('tools', result, 2);
      const [first, second] = result.calls as [CallSeen, CallSeen];
      const toolCall = first.toolCalls![0]!;
      const byResponse = (call: CallSeen) =>
        children.find((r) => otelOf(r).attributes?.['gen_ai.response.id'] === call.responseId)!;
      const asked = byResponse(first);
      const answered = byResponse(second);
      expect(asked.name).toBe(`chat ${CHAT_MODEL}`);
      expect(answered.name).toBe(`chat ${CHAT_MODEL}`);
      expect(Date.parse(asked.start_time!)).toBeLessThanOrEqual(Date.parse(answered.start_time!));
      for (const [run, call] of [
        [asked, first],
        [answered, second],
      ] as const) {
        expect(run).toMatchObject({ run_type: 'llm', status: 'success', model: call.model });
        expectUsage(run, call);
      }
      const openaiCall = {
        id: toolCall.id,
        type: 'function',
        function: { name: 'get_weather', arguments: toolCall.arguments },
      };
      expect(asked.inputs).toEqual({ messages: [{ role: 'user', content: TOOLS_TEXT }] });
      expect(asked.outputs).toEqual({
        messages: [
          {
            role: 'assistant',
            content: null,
            tool_calls: [openaiCall],
            finish_reason: 'tool_calls',
          },
        ],
      });
      // the conversation in the order it was sent
      expect(answered.inputs).toEqual({
        messages: [
          { role: 'user', content: TOOLS_TEXT },
          { role: 'assistant', content: null, tool_calls: [openaiCall] },
          { role: 'tool', content: TOOL_RESULT, tool_call_id: toolCall.id },
        ],
      });
      expect(answered.outputs).toEqual({
        messages: [{ role: 'assistant', content: second.text, finish_reason: 'stop' }],
      });
    });

    it('embeddings: an embedding run with model and input tokens', async () => {
      const result = await scenario('embeddings');
      const { children } = await scenarioRuns('embeddings', result, 1);
      const call = result.calls[0]!;
      const run = children[0]!;
      expect(run).toMatchObject({
        name: `embeddings ${EMBEDDING_MODEL}`,
        run_type: 'embedding',
        status: 'success',
        model: EMBEDDING_MODEL,
        provider: 'openai',
        prompt_tokens: call.usage!.prompt_tokens,
        total_tokens: call.usage!.total_tokens,
      });
      // instrumentation-openai 0.21 emits no content for embeddings (no log records)
      expect(otelOf(run).log_records).toBeUndefined();
    });

    it('bad-model: the failed call is an errored llm run with the API message', async () => {
      const result = await scenario('bad-model');
      expect(result.error).toBe('404 The model `bad-model` does not exist');
      const { root, children } = await scenarioRuns('bad-model', result, 1);
      const llm = children[0]!;
      expect(llm).toMatchObject({
        name: 'chat bad-model',
        run_type: 'llm',
        status: 'error',
        error: result.error,
        model: 'bad-model',
        provider: 'openai',
        prompt_tokens: null,
      });
      expect(llm.metadata).toMatchObject({ error_type: 'NotFoundError' });
      expect(otelOf(llm).status).toEqual({ code: 'ERROR', message: result.error });
      expect(llm.inputs).toEqual({ messages: [{ role: 'user', content: 'Anyone there?' }] });
      // the application's own span carries the error it caught
      expect(root).toMatchObject({ status: 'error', error: result.error });
    });
  },
);
