// Traceloop / OpenLLMetry (@traceloop/node-server-sdk 0.27.0, unmodified) + openai 6 against
// the fake OpenAI server → collector on each backend.
//
// One SDK per process: `initialize` builds a global NodeSDK once and ignores later calls, and
// its exporter URL is fixed at that moment. The SDK therefore lives in a driver process
// (drivers/traceloop.driver.ts), started once per backend in beforeAll and shut down in
// afterAll — both backends run from this one file. The driver also records every span the
// SDK ended, so runs are compared with exactly what Traceloop emitted.
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunDetail } from '@loupe/contracts';
import { runIdFromOtel, traceIdFromOtel } from '@loupe/collector';
import { startTestServer, testBackends, type TestServer } from '@loupe/collector/testing';
import { startFakeOpenAI, type FakeOpenAI } from '../../support/fake-openai.js';
import {
  loupeApi,
  otelOf,
  startDriver,
  startRecordingProxy,
  waitForTraceRuns,
  type Driver,
  type LoupeApi,
  type RecordingProxy,
  type TraceRuns,
} from '../../support/otel-helpers.js';
import {
  CHAT_MODEL,
  CHAT_TEXT,
  EMBEDDING_MODEL,
  STREAM_TEXT,
  SYSTEM_TEXT,
  TOOL_RESULT,
  TOOLS_TEXT,
  WEATHER_TOOL,
  type CallSeen,
} from './drivers/openai-scenarios.js';
import type { EmittedSpan, FlowResult } from './drivers/traceloop.driver.js';

const DRIVER = fileURLToPath(new URL('./drivers/traceloop.driver.ts', import.meta.url));
/** no project header: Traceloop sends only `Authorization`, so the project is service.name */
const SERVICE = 'traceloop-app';
const ASSOCIATION = { session_id: 'tl-session-1', user_id: 'tl-user-7', tenant: 'acme' };

function emitted(result: FlowResult, name: string): EmittedSpan[] {
  return result.spans.filter((s) => s.name === name);
}

/** The run of an emitted span. */
function runOf(runs: TraceRuns, span: EmittedSpan): RunDetail {
  return runs.byId(runIdFromOtel(span.traceId, span.spanId));
}

describe.each(testBackends())('Traceloop SDK → collector (%s)', (backend) => {
  let server: TestServer;
  let proxy: RecordingProxy;
  let fake: FakeOpenAI;
  let api: LoupeApi;
  let driver: Driver;

  beforeAll(async () => {
    server = await startTestServer(backend);
    proxy = await startRecordingProxy(server.url);
    fake = await startFakeOpenAI();
    api = loupeApi(server);
    driver = await startDriver(
      DRIVER,
      {
        collectorUrl: proxy.url,
        apiKey: server.apiKey,
        serviceName: SERVICE,
        openaiUrl: fake.url,
        association: ASSOCIATION,
      },
      // the NodeSDK would otherwise also set up an OTLP log exporter to localhost:4318
      { env: { OTEL_LOGS_EXPORTER: 'none', OTEL_METRICS_EXPORTER: 'none' } },
    );
  });

  afterAll(async () => {
    await driver?.close();
    await fake?.close();
    await proxy?.close();
    await server?.close();
  });

  /** Every run carries the association properties as session / user / metadata. */
  function expectAssociation(run: RunDetail): void {
    expect(run.session_id).toBe(ASSOCIATION.session_id);
    expect(run.user_id).toBe(ASSOCIATION.user_id);
    expect(run.metadata).toMatchObject({ tenant: 'acme' });
  }

  /** An llm run compared with the span Traceloop emitted and with what the client saw. */
  function expectLlm(run: RunDetail, span: EmittedSpan, call: CallSeen): void {
    const a = span.attributes;
    expect(run).toMatchObject({
      name: `chat ${CHAT_MODEL}`,
      run_type: 'llm',
      status: 'success',
      error: null,
      model: call.model,
      provider: 'openai',
      prompt_tokens: a['gen_ai.usage.input_tokens'],
      completion_tokens: a['gen_ai.usage.output_tokens'],
      total_tokens: a['gen_ai.usage.total_tokens'],
    });
    expect(run.metadata).toMatchObject({
      ls_model_requested: CHAT_MODEL,
      otel_scope: '@traceloop/instrumentation-openai',
      workflow_name: expect.any(String),
    });
    expectAssociation(run);
  }

  it('workflow → tasks → chat, tool round trip and tool span: run types, content, ids', async () => {
    proxy.requests.length = 0;
    const result = await driver.call<FlowResult>('answer-question');
    expect(result.thrown).toBeUndefined();
    const [chat, asked, answered] = result.calls as [CallSeen, CallSeen, CallSeen];

    // what went over the wire: OTLP/protobuf with the SDK's bearer token
    const posts = proxy.requests.filter((r) => r.path === '/v1/traces');
    expect(posts.length).toBeGreaterThan(0);
    for (const r of posts) {
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toBe('application/x-protobuf');
      expect(r.headers.authorization).toBe(`Bearer ${server.apiKey}`);
      expect(r.headers['x-api-key']).toBeUndefined();
    }

    // workflow, 2 tasks, 3 llm calls, 1 tool
    expect(result.spans).toHaveLength(7);
    const runs = await waitForTraceRuns(api, result.workflow.traceId, 7);
    const [workflowSpan] = emitted(result, 'answer_question.workflow');
    const [askTask] = emitted(result, 'ask_llm.task');
    const [roundTripTask] = emitted(result, 'weather_round_trip.task');
    const [toolSpan] = emitted(result, 'get_weather.tool');
    const llmSpans = emitted(result, `chat ${CHAT_MODEL}`);
    expect(llmSpans).toHaveLength(3);
    const spanOfResponse = (call: CallSeen) =>
      llmSpans.find((s) => s.attributes['gen_ai.response.id'] === call.responseId)!;

    // ids and the tree are the SDK's
    for (const span of result.spans) {
      const run = runOf(runs, span);
      expect(run.trace_id).toBe(traceIdFromOtel(span.traceId));
      expect(run.parent_run_id).toBe(
        span.parentSpanId === null ? null : runIdFromOtel(span.traceId, span.parentSpanId),
      );
      expect(run.otel_span_id).toBe(span.spanId);
      expect(run.metadata).toMatchObject({
        service_name: SERVICE,
        workflow_name: 'answer_question',
      });
      expectAssociation(run);
    }
    const inProject = await api.runs({
      project: SERVICE,
      trace_id: traceIdFromOtel(result.workflow.traceId),
    });
    expect(inProject).toHaveLength(7);
    const bySession = await api.runs({ session_id: ASSOCIATION.session_id, root: true });
    expect(bySession.map((r) => r.id)).toContain(
      runIdFromOtel(result.workflow.traceId, result.workflow.spanId),
    );

    // workflow → chain, named by traceloop.entity.name, entity input/output as inputs/outputs
    const workflow = runOf(runs, workflowSpan!);
    expect(workflow.id).toBe(runIdFromOtel(result.workflow.traceId, result.workflow.spanId));
    expect(workflow).toMatchObject({
      name: 'answer_question',
      run_type: 'chain',
      parent_run_id: null,
      status: 'success',
      inputs: { args: [], kwargs: {} },
      outputs: { output: [chat.text, null, answered.text] },
    });
    expect(workflow.metadata).toMatchObject({ original_run_type: 'workflow' });

    // tasks → chain
    const ask = runOf(runs, askTask!);
    expect(ask).toMatchObject({
      name: 'ask_llm',
      run_type: 'chain',
      parent_run_id: workflow.id,
      inputs: { args: [], kwargs: {} },
      outputs: { responseId: chat.responseId, text: chat.text },
    });
    expect(ask.metadata).toMatchObject({ original_run_type: 'task' });
    const roundTrip = runOf(runs, roundTripTask!);
    expect(roundTrip).toMatchObject({
      name: 'weather_round_trip',
      run_type: 'chain',
      parent_run_id: workflow.id,
    });

    // tool → tool, its arguments and result
    const tool = runOf(runs, toolSpan!);
    const toolCall = asked.toolCalls![0]!;
    expect(tool).toMatchObject({
      name: 'get_weather',
      run_type: 'tool',
      parent_run_id: roundTrip.id,
      inputs: { args: [JSON.parse(toolCall.arguments).city], kwargs: {} },
      outputs: { output: TOOL_RESULT },
    });

    // llm: the plain chat (system + user)
    const chatRun = runOf(runs, spanOfResponse(chat));
    expect(chatRun.parent_run_id).toBe(ask.id);
    expectLlm(chatRun, spanOfResponse(chat), chat);
    expect(chatRun).toMatchObject({
      prompt_tokens: chat.usage!.prompt_tokens,
      completion_tokens: chat.usage!.completion_tokens,
    });
    expect(chatRun.inputs).toEqual({
      messages: [
        { role: 'system', content: SYSTEM_TEXT },
        { role: 'user', content: CHAT_TEXT },
      ],
    });
    expect(chatRun.outputs).toEqual({
      messages: [{ role: 'assistant', content: chat.text, finish_reason: 'stop' }],
    });
    expect(chatRun.extra).toMatchObject({
      invocation_params: { max_tokens: 50, temperature: 0.2 },
    });

    // llm: the tool call out (Traceloop normalises finish_reason tool_calls → tool_call)
    const openaiCall = {
      id: toolCall.id,
      type: 'function',
      function: { name: 'get_weather', arguments: toolCall.arguments },
    };
    const askedRun = runOf(runs, spanOfResponse(asked));
    expect(askedRun.parent_run_id).toBe(roundTrip.id);
    expectLlm(askedRun, spanOfResponse(asked), asked);
    expect(askedRun.inputs).toEqual({ messages: [{ role: 'user', content: TOOLS_TEXT }] });
    expect(askedRun.outputs).toEqual({
      messages: [
        { role: 'assistant', content: null, tool_calls: [openaiCall], finish_reason: 'tool_call' },
      ],
    });
    expect(askedRun.extra).toMatchObject({ invocation_params: { tools: [WEATHER_TOOL] } });

    // llm: the conversation back in, in order
    const answeredRun = runOf(runs, spanOfResponse(answered));
    expectLlm(answeredRun, spanOfResponse(answered), answered);
    expect(answeredRun.inputs).toEqual({
      messages: [
        { role: 'user', content: TOOLS_TEXT },
        { role: 'assistant', content: null, tool_calls: [openaiCall] },
        { role: 'tool', content: TOOL_RESULT, tool_call_id: toolCall.id },
      ],
    });
    expect(answeredRun.outputs).toEqual({
      messages: [{ role: 'assistant', content: answered.text, finish_reason: 'stop' }],
    });
    // the raw content attributes were consumed, not left in otel.attributes
    expect(otelOf(answeredRun).attributes).not.toHaveProperty('gen_ai.input.messages');
  });

  it('streamed chat: the answer, and the token counts Traceloop put on the span', async () => {
    const result = await driver.call<FlowResult>('stream');
    const call = result.calls[0]!;
    const runs = await waitForTraceRuns(api, result.workflow.traceId, 2);
    const [span] = emitted(result, `chat ${CHAT_MODEL}`);
    const llm = runOf(runs, span!);
    expect(llm.parent_run_id).toBe(runIdFromOtel(result.workflow.traceId, result.workflow.spanId));
    // Traceloop 0.27 estimates streamed tokens locally (tiktoken) instead of the usage chunk:
    // the collector must store what the span says
    expectLlm(llm, span!, call);
    expect(llm.inputs).toEqual({ messages: [{ role: 'user', content: STREAM_TEXT }] });
    expect(llm.outputs).toEqual({
      messages: [{ role: 'assistant', content: call.text, finish_reason: 'stop' }],
    });
    expect(runOf(runs, emitted(result, 'stream_flow.workflow')[0]!)).toMatchObject({
      name: 'stream_flow',
      run_type: 'chain',
      outputs: { output: [call.text] },
    });
  });

  it('embeddings: Traceloop 0.27 emits no span for the call; the workflow run is there', async () => {
    const result = await driver.call<FlowResult>('embeddings');
    expect(result.calls[0]!.model).toBe(EMBEDDING_MODEL);
    expect(result.spans.map((s) => s.name)).toEqual(['embed_flow.workflow']);
    const runs = await waitForTraceRuns(api, result.workflow.traceId, 1);
    expect(runs.all[0]).toMatchObject({ name: 'embed_flow', run_type: 'chain', status: 'success' });
    expectAssociation(runs.all[0]!);
  });

  it('bad-model: no span for the failed call; a handled failure leaves the workflow run', async () => {
    const result = await driver.call<FlowResult>('bad-model');
    expect(result.error).toBe('404 The model `bad-model` does not exist');
    // Traceloop 0.27 ends no span for a rejected call
    expect(result.spans.map((s) => s.name)).toEqual(['failing_flow.workflow']);
    const runs = await waitForTraceRuns(api, result.workflow.traceId, 1);
    expect(runs.all[0]).toMatchObject({
      name: 'failing_flow',
      run_type: 'chain',
      status: 'success',
      outputs: { output: result.error },
    });
  });

  it('bad-model escaping the workflow: Traceloop 0.27 exports nothing for the trace', async () => {
    // withWorkflow/withTask only end their span when the function's promise resolves
    // (withEntity has no rejection path), so an error that escapes leaves no span at all
    const result = await driver.call<FlowResult>('bad-model-unhandled');
    expect(result.thrown).toBe('404 The model `bad-model` does not exist');
    expect(result.spans).toEqual([]);
    const runs = await api.runs({ trace_id: traceIdFromOtel(result.workflow.traceId) });
    expect(runs).toEqual([]);
  });
});
