// @arizeai/openinference-instrumentation-openai 4.2.7 + openai 6 against the fake OpenAI server
// → collector on each backend. Content travels as OpenInference span attributes
// (`llm.input_messages.*`, `input.value`, `llm.token_count.*`); session / user / metadata / tags
// come from the @arizeai/openinference-core context helpers. The SDK/client side runs in
// drivers/openinference.driver.ts (one process per backend; why: drivers/runtime.ts).
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
  EMBEDDING_INPUT,
  EMBEDDING_MODEL,
  STREAM_TEXT,
  SYSTEM_TEXT,
  TOOL_RESULT,
  TOOLS_TEXT,
  WEATHER_TOOL,
  type CallSeen,
  type ScenarioName,
  type ScenarioResult,
} from './drivers/openai-scenarios.js';

const DRIVER = fileURLToPath(new URL('./drivers/openinference.driver.ts', import.meta.url));
const PROJECT = 'openinference';
const SCOPE = '@arizeai/openinference-instrumentation-openai';
const CACHED_TOKENS = 4;
/** what the driver puts in context with openinference-core's setSession/setUser/setMetadata/setTags */
const CONTEXT = {
  sessionId: 'session-123',
  userId: 'user-42',
  metadata: { tenant: 'acme', experiment: 'e2e' },
  tags: ['e2e', 'openinference'],
};

describe.each(testBackends())(
  'OpenInference OpenAI instrumentation → collector (%s)',
  (backend) => {
    let server: TestServer;
    let fake: FakeOpenAI;
    let api: LoupeApi;
    let driver: Driver;

    beforeAll(async () => {
      server = await startTestServer(backend);
      fake = await startFakeOpenAI({ cachedTokens: CACHED_TOKENS });
      api = loupeApi(server);
      driver = await startDriver(DRIVER, {
        collectorUrl: server.url,
        apiKey: server.apiKey,
        project: PROJECT,
        serviceName: 'openinference-app',
        openaiUrl: fake.url,
      });
    });

    afterAll(async () => {
      await driver?.close();
      await fake?.close();
      await server?.close();
    });

    const scenario = (name: ScenarioName, withContext = true) =>
      driver.call<ScenarioResult>('scenario', { name, withContext });

    async function scenarioRuns(name: ScenarioName, result: ScenarioResult, children: number) {
      const runs = await waitForTraceRuns(api, result.scenario.traceId, children + 1);
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
        expect(child.metadata).toMatchObject({ otel_scope: SCOPE, otel_scope_version: '4.2.7' });
      }
      return { root, children: rest };
    }

    /** session / user / metadata / tags from the context helpers, on an instrumented run */
    function expectContext(run: RunDetail): void {
      expect(run.session_id).toBe(CONTEXT.sessionId);
      expect(run.user_id).toBe(CONTEXT.userId);
      expect(run.metadata).toMatchObject(CONTEXT.metadata);
      expect(run.tags).toEqual(CONTEXT.tags);
    }

    function expectUsage(run: RunDetail, call: CallSeen): void {
      const usage = call.usage!;
      expect(run).toMatchObject({
        prompt_tokens: usage.prompt_tokens,
        completion_tokens: usage.completion_tokens,
        total_tokens: usage.total_tokens,
      });
      // llm.token_count.prompt_details.* / completion_details.*, as the API reported them
      expect(run.token_details).toMatchObject({ cache_read: CACHED_TOKENS, reasoning: 0 });
    }

    it('chat (system + user): messages, raw request/response, tokens with details, context ids', async () => {
      const result = await scenario('chat');
      const { root, children } = await scenarioRuns('chat', result, 1);
      const call = result.calls[0]!;
      const llm = children[0]!;
      expect(llm).toMatchObject({
        name: 'OpenAI Chat Completions',
        run_type: 'llm',
        status: 'success',
        error: null,
        model: call.model,
        provider: 'openai',
      });
      expectUsage(llm, call);
      expectContext(llm);
      expect(llm.inputs).toMatchObject({
        messages: [
          { role: 'system', content: SYSTEM_TEXT },
          { role: 'user', content: CHAT_TEXT },
        ],
        // input.value (application/json) kept as the raw request
        raw: {
          model: CHAT_MODEL,
          temperature: 0.2,
          max_tokens: 50,
          messages: [
            { role: 'system', content: SYSTEM_TEXT },
            { role: 'user', content: CHAT_TEXT },
          ],
        },
      });
      expect((llm.inputs as { messages: unknown[] }).messages).toHaveLength(2);
      expect(llm.outputs).toMatchObject({
        messages: [{ role: 'assistant', content: call.text }],
        raw: { id: call.responseId, object: 'chat.completion', model: call.model },
      });
      expect(llm.extra).toMatchObject({
        invocation_params: { model: CHAT_MODEL, temperature: 0.2, max_tokens: 50 },
      });
      expect(otelOf(llm)).toMatchObject({ kind: 'INTERNAL', status: { code: 'OK' } });
      // the application span is not an OpenInference span: the context attributes are not on it
      expect(root.session_id).toBeNull();
      const inProject = await api.runs({ project: PROJECT, trace_id: llm.trace_id });
      expect(inProject).toHaveLength(2);
      // and the context ids are queryable
      const bySession = await api.runs({ project: PROJECT, session_id: CONTEXT.sessionId });
      expect(bySession.map((r) => r.id)).toContain(llm.id);
      const byUser = await api.runs({ project: PROJECT, user_id: CONTEXT.userId });
      expect(byUser.map((r) => r.id)).toContain(llm.id);
      const byTag = await api.runs({ project: PROJECT, tag: 'openinference' });
      expect(byTag.map((r) => r.id)).toContain(llm.id);
    });

    it('chat without context: no session, user, tags or context metadata', async () => {
      const result = await scenario('chat', false);
      const { children } = await scenarioRuns('chat', result, 1);
      const llm = children[0]!;
      expect(llm).toMatchObject({ run_type: 'llm', session_id: null, user_id: null, tags: [] });
      expect(llm.metadata).not.toHaveProperty('tenant');
    });

    it('streamed chat: messages and the streamed answer (OpenInference reports no stream tokens)', async () => {
      const result = await scenario('stream');
      const { children } = await scenarioRuns('stream', result, 1);
      const call = result.calls[0]!;
      const llm = children[0]!;
      expect(llm).toMatchObject({
        name: 'OpenAI Chat Completions',
        run_type: 'llm',
        status: 'success',
        // on streams llm.model_name is the requested model
        model: CHAT_MODEL,
        provider: 'openai',
      });
      expectContext(llm);
      expect(llm.inputs).toMatchObject({
        messages: [{ role: 'user', content: STREAM_TEXT }],
        raw: { stream: true, stream_options: { include_usage: true } },
      });
      expect(llm.outputs).toMatchObject({ messages: [{ role: 'assistant', content: call.text }] });
      // OpenInference 4.2.7 sets no llm.token_count.* on streamed calls, even with include_usage
      expect(llm.prompt_tokens).toBeNull();
      expect(llm.completion_tokens).toBeNull();
    });

    it('tool-call round trip: tool calls out, the conversation back in, tool definitions', async () => {
      const result = await scenario('tools');
      const { children } = await scenarioRuns('tools', result, 2);
      const [first, second] = result.calls as [CallSeen, CallSeen];
      const byResponse = (call: CallSeen) =>
        children.find(
          (r) => (r.outputs as { raw?: { id?: string } } | null)?.raw?.id === call.responseId,
        )!;
      const asked = byResponse(first);
      const answered = byResponse(second);
      expect(asked).toBeDefined();
      expect(answered).toBeDefined();
      const toolCall = first.toolCalls![0]!;
      const openaiCall = {
        id: toolCall.id,
        type: 'function',
        function: { name: 'get_weather', arguments: toolCall.arguments },
      };
      for (const [run, call] of [
        [asked, first],
        [answered, second],
      ] as const) {
        expect(run).toMatchObject({
          name: 'OpenAI Chat Completions',
          run_type: 'llm',
          status: 'success',
        });
        expectUsage(run, call);
        expectContext(run);
        expect(run.extra).toMatchObject({ invocation_params: { tools: [WEATHER_TOOL] } });
      }
      expect(asked.inputs).toMatchObject({ messages: [{ role: 'user', content: TOOLS_TEXT }] });
      expect(asked.outputs).toMatchObject({
        messages: [{ role: 'assistant', content: null, tool_calls: [openaiCall] }],
      });
      expect(answered.inputs).toMatchObject({
        messages: [
          { role: 'user', content: TOOLS_TEXT },
          { role: 'assistant', content: null, tool_calls: [openaiCall] },
          { role: 'tool', content: TOOL_RESULT, tool_call_id: toolCall.id },
        ],
      });
      expect((answered.inputs as { messages: unknown[] }).messages).toHaveLength(3);
      expect(answered.outputs).toMatchObject({
        messages: [{ role: 'assistant', content: second.text }],
      });
    });

    it('embeddings: an embedding run with model and the embedded texts', async () => {
      const result = await scenario('embeddings');
      const { children } = await scenarioRuns('embeddings', result, 1);
      const run = children[0]!;
      expect(run).toMatchObject({
        name: 'OpenAI Embeddings',
        run_type: 'embedding',
        status: 'success',
        model: EMBEDDING_MODEL,
        provider: 'openai',
        inputs: { input: EMBEDDING_INPUT },
        // OpenInference 4.2.7 sets no token counts on embedding spans
        prompt_tokens: null,
      });
      expectContext(run);
      // the vectors are not content: they stay with the raw attributes
      expect(otelOf(run).attributes).toHaveProperty('embedding.embeddings.0.embedding.vector');
    });

    it('bad-model: OpenInference emits no span for the failed call; the application span has the error', async () => {
      const result = await scenario('bad-model');
      expect(result.error).toBe('404 The model `bad-model` does not exist');
      // OpenInference 4.2.7 never ends the span of a call whose promise rejects, so nothing is
      // exported for it (see the reference, §2.2): after the driver's flush, only the app span.
      const { root, children } = await scenarioRuns('bad-model', result, 0);
      expect(children).toHaveLength(0);
      expect(root).toMatchObject({ status: 'error', error: result.error });
      expect(root.metadata).toMatchObject({ error_type: 'NotFoundError' });
    });
  },
);
