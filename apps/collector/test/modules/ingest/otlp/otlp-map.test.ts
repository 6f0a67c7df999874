import { describe, expect, it } from 'vitest';
import { runIdFromOtel, traceIdFromOtel } from '../../../../src/modules/ingest/ids.js';
import {
  LOUPE_INPUTS,
  LOUPE_OUTPUTS,
  LOUPE_PROJECT,
  LOUPE_RUN_TYPE,
} from '../../../../src/modules/ingest/otlp/otlp-attributes.js';
import { mapSpans } from '../../../../src/modules/ingest/otlp/otlp-map.js';
import type { JsonObject } from '../../../../src/modules/ingest/run-upsert.js';
import { END, START, TRACE_ID, decodeJsonSpans, mapOne } from './otlp-builders.js';

const attrs = (run: { otel?: JsonObject }) => run.otel!.attributes as JsonObject;

describe('run type precedence', () => {
  it.each([
    [{ [LOUPE_RUN_TYPE]: 'prompt', 'langsmith.span.kind': 'llm' }, 'prompt'],
    [{ 'langsmith.span.kind': 'retriever', 'openinference.span.kind': 'LLM' }, 'retriever'],
    [{ 'langsmith.span.kind': 'parser' }, 'parser'],
    [{ 'langfuse.observation.type': 'generation', 'openinference.span.kind': 'TOOL' }, 'llm'],
    [{ 'langfuse.observation.type': 'evaluator' }, 'chain'],
    [{ 'openinference.span.kind': 'chain', 'traceloop.span.kind': 'agent' }, 'chain'],
    [{ 'traceloop.span.kind': 'agent', 'gen_ai.operation.name': 'chat' }, 'agent'],
    [{ 'gen_ai.operation.name': 'embeddings', 'llm.request.type': 'chat' }, 'embedding'],
    [{ 'gen_ai.operation.name': 'execute_tool' }, 'tool'],
    [{ 'gen_ai.operation.name': 'invoke_agent' }, 'agent'],
    [{ 'gen_ai.operation.name': 'retrieval' }, 'retriever'],
    [{ 'gen_ai.operation.name': 'invoke_workflow' }, 'chain'],
    [{ 'gen_ai.operation.name': 'create_memory', 'gen_ai.request.model': 'm' }, 'llm'],
    [{ 'llm.request.type': 'completion' }, 'llm'],
    [{ 'gen_ai.tool.name': 'get_weather' }, 'tool'],
    [{ 'gen_ai.retrieval.query.text': 'q' }, 'retriever'],
    [{ 'llm.model_name': 'gpt' }, 'llm'],
    [{ 'embedding.model_name': 'e' }, 'embedding'],
    [{ 'openinference.span.kind': 'UNKNOWN' }, 'chain'],
    [{}, 'chain'],
  ])('%j → %s', (attributes, runType) => {
    expect(mapOne({ attributes }).runType).toBe(runType);
  });
});

describe('identity, timing and the OTel leftovers', () => {
  it('derives ids, parent, trace, times (exact nanos kept) and events', () => {
    const run = mapOne({
      spanId: '2056d12cb3d1a2f8',
      parentSpanId: 'cbcf383b82eb1613',
      start: '1795759490314123456',
      end: '1795759490382630999',
      events: [{ name: 'note', time: '1795759490315000000', attributes: { k: 'v' } }],
    });
    expect(run).toMatchObject({
      id: runIdFromOtel(TRACE_ID, '2056d12cb3d1a2f8'),
      traceId: traceIdFromOtel(TRACE_ID),
      parentRunId: runIdFromOtel(TRACE_ID, 'cbcf383b82eb1613'),
      otelTraceId: TRACE_ID,
      otelSpanId: '2056d12cb3d1a2f8',
      startTime: new Date(1795759490314),
      endTime: new Date(1795759490382),
      events: [
        {
          name: 'note',
          time: '2026-11-27T06:04:50.315Z',
          time_unix_nano: '1795759490315000000',
          attributes: { k: 'v' },
        },
      ],
      otel: {
        start_time_unix_nano: '1795759490314123456',
        end_time_unix_nano: '1795759490382630999',
        parent_span_id: 'cbcf383b82eb1613',
        kind: 'INTERNAL',
      },
    });
    expect(run.dottedOrder).toBeUndefined();
    expect('dottedOrder' in run).toBe(false);
  });

  it('lets LangSmith ids override parent and trace', () => {
    const run = mapOne({
      parentSpanId: 'cbcf383b82eb1613',
      attributes: {
        'langsmith.span.parent_id': '0E4C5E53-1D0B-4B1A-9F3C-2A4C7B9D1E00',
        'langsmith.trace.id': '7f3e1c2a-0b4d-4e5f-8a9b-1c2d3e4f5a6b',
        'langsmith.trace.session_name': 'ls-project',
        'langsmith.trace.name': 'My Chain',
        'langsmith.span.tags': 'a, b,,c',
        'langsmith.metadata.ls_provider': 'anthropic',
        'langsmith.metadata.thread_id': 'thread-9',
      },
    });
    expect(run).toMatchObject({
      parentRunId: '0e4c5e53-1d0b-4b1a-9f3c-2a4c7b9d1e00',
      traceId: '7f3e1c2a-0b4d-4e5f-8a9b-1c2d3e4f5a6b',
      projectName: 'ls-project',
      name: 'My Chain',
      tags: ['a', 'b', 'c'],
      provider: 'anthropic',
      sessionId: 'thread-9',
      metadata: { ls_provider: 'anthropic', thread_id: 'thread-9' },
    });
    expect(attrs(run)).toEqual({});
  });

  it('records first-token time from time_to_first_chunk (seconds after start)', () => {
    const run = mapOne({
      start: '1795759490314000000',
      attributes: { 'gen_ai.response.time_to_first_chunk': 0.25 },
    });
    expect(run.firstTokenTime).toEqual(new Date(1795759490564));
    const lf = mapOne({
      attributes: { 'langfuse.observation.completion_start_time': '"2026-11-27T06:04:50.400Z"' },
    });
    expect(lf.firstTokenTime).toEqual(new Date('2026-11-27T06:04:50.400Z'));
  });

  it('leaves endTime unset when the span has no end time', () => {
    expect(mapOne({ end: '0' }).endTime).toBeUndefined();
  });

  it('maps one run per span id when a request repeats a span', () => {
    const decoded = decodeJsonSpans([
      { spanId: '1111111111111111', name: 'first' },
      { spanId: '1111111111111111', name: 'again' },
    ]);
    const { runs } = mapSpans(decoded, {});
    expect(runs.map((r) => r.name)).toEqual(['again']);
  });
});

describe('errors', () => {
  it('uses the status message, else the last exception event', () => {
    const exception = (message: string) => ({
      name: 'exception',
      attributes: {
        'exception.type': 'TypeError',
        'exception.message': message,
        'exception.stacktrace': `TypeError: ${message}\n  at x`,
      },
    });
    const fromException = mapOne({
      status: { code: 2 },
      events: [exception('first'), exception('boom')],
    });
    expect(fromException).toMatchObject({
      error: 'TypeError: boom',
      metadata: { error_type: 'TypeError', error_stacktrace: 'TypeError: boom\n  at x' },
    });
    expect(fromException.events).toHaveLength(2);
    const fromStatus = mapOne({
      status: { code: 2, message: 'upstream 500' },
      events: [exception('boom')],
      attributes: { 'error.type': '500' },
    });
    expect(fromStatus).toMatchObject({ error: 'upstream 500', metadata: { error_type: '500' } });
    expect(mapOne({ status: { code: 'STATUS_CODE_ERROR' } }).error).toBe('error');
  });

  it('does not fail a run for an exception event without ERROR status', () => {
    const run = mapOne({
      status: { code: 1 },
      events: [{ name: 'exception', attributes: { 'exception.message': 'handled' } }],
      attributes: { 'error.type': 'X' },
    });
    expect(run.error).toBeUndefined();
    expect(attrs(run)['error.type']).toBe('X');
  });

  it('honours the Langfuse ERROR level', () => {
    expect(
      mapOne({
        attributes: {
          'langfuse.observation.level': 'ERROR',
          'langfuse.observation.status_message': 'guard tripped',
        },
      }).error,
    ).toBe('guard tripped');
  });
});

describe('GenAI semantic conventions (current)', () => {
  it('maps usage details, coerces strings, and keeps the request model', () => {
    const run = mapOne({
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'az.ai.openai',
        'gen_ai.request.model': 'gpt-4o',
        'gen_ai.response.model': 'gpt-4o-2024-08-06',
        'gen_ai.usage.input_tokens': '120',
        'gen_ai.usage.output_tokens': 30,
        'gen_ai.usage.cache_read.input_tokens': '100',
        'gen_ai.usage.cache_creation.input_tokens': 5,
        'gen_ai.usage.reasoning.output_tokens': 12,
        'gen_ai.usage.audio.input_tokens': 2,
        'gen_ai.usage.cost': '0.0031',
        'gen_ai.conversation.id': 'conv-1',
      },
    });
    expect(run).toMatchObject({
      provider: 'azure.ai.openai',
      model: 'gpt-4o-2024-08-06',
      promptTokens: 120,
      completionTokens: 30,
      totalTokens: 150,
      tokenDetails: { cache_read: 100, cache_write: 5, reasoning: 12, audio_input: 2 },
      cost: 0.0031,
      sessionId: 'conv-1',
      metadata: { ls_model_requested: 'gpt-4o' },
    });
  });

  it('accepts structured messages, prepends system instructions, splits tool responses', () => {
    const run = mapOne({
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.system_instructions': [{ type: 'text', content: 'Be brief.' }],
        'gen_ai.input.messages': [
          {
            role: 'user',
            parts: [
              { type: 'text', content: 'Weather?' },
              { type: 'uri', uri: 'https://x/img.png', modality: 'image' },
            ],
          },
          {
            role: 'assistant',
            parts: [{ type: 'tool_call', id: 'c1', name: 'w', arguments: { city: 'Paris' } }],
          },
          {
            role: 'tool',
            parts: [{ type: 'tool_call_response', id: 'c1', response: { temp: 21 } }],
          },
        ],
        'gen_ai.output.messages': [
          {
            role: 'assistant',
            parts: [
              { type: 'reasoning', content: 'hmm' },
              { type: 'text', content: 'Sunny.' },
            ],
          },
        ],
      },
    });
    expect(run.inputs).toEqual({
      messages: [
        { role: 'system', content: 'Be brief.' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Weather?' },
            { type: 'uri', uri: 'https://x/img.png', modality: 'image' },
          ],
        },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'c1', type: 'function', function: { name: 'w', arguments: '{"city":"Paris"}' } },
          ],
        },
        { role: 'tool', content: '{"temp":21}', tool_call_id: 'c1' },
      ],
    });
    expect(run.outputs).toEqual({
      messages: [
        {
          role: 'assistant',
          content: [
            { type: 'reasoning', content: 'hmm' },
            { type: 'text', text: 'Sunny.' },
          ],
        },
      ],
    });
  });

  it('maps tool spans from call arguments/results and retrieval spans', () => {
    const tool = mapOne({
      name: 'execute_tool get_weather',
      attributes: {
        'gen_ai.operation.name': 'execute_tool',
        'gen_ai.tool.name': 'get_weather',
        'gen_ai.tool.call.arguments': '{"city":"Paris"}',
        'gen_ai.tool.call.result': 'sunny',
      },
    });
    expect(tool).toMatchObject({
      runType: 'tool',
      inputs: { city: 'Paris' },
      outputs: { output: 'sunny' },
    });
    expect(attrs(tool)['gen_ai.tool.name']).toBe('get_weather');
    const retrieval = mapOne({
      attributes: {
        'gen_ai.operation.name': 'retrieval',
        'gen_ai.retrieval.query.text': 'paris weather',
        'gen_ai.retrieval.documents': '[{"id":"d1","score":0.5}]',
      },
    });
    expect(retrieval).toMatchObject({
      runType: 'retriever',
      inputs: { query: 'paris weather' },
      outputs: { documents: [{ id: 'd1', score: 0.5 }] },
    });
  });

  it('reads content from span events when no attribute carries it', () => {
    const perMessage = mapOne({
      attributes: { 'gen_ai.operation.name': 'chat' },
      events: [
        { name: 'gen_ai.system.message', attributes: { content: 'sys' } },
        { name: 'gen_ai.user.message', attributes: { content: 'hi' } },
        {
          name: 'gen_ai.assistant.message',
          attributes: {
            tool_calls: '[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]',
          },
        },
        { name: 'gen_ai.tool.message', attributes: { id: 'c1', content: 'ok' } },
        {
          name: 'gen_ai.choice',
          attributes: {
            index: 0,
            finish_reason: 'stop',
            message: '{"role":"assistant","content":"done"}',
          },
        },
      ],
    });
    expect(perMessage.inputs).toEqual({
      messages: [
        { role: 'system', content: 'sys' },
        { role: 'user', content: 'hi' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }],
        },
        { role: 'tool', content: 'ok', tool_call_id: 'c1' },
      ],
    });
    expect(perMessage.outputs).toEqual({
      messages: [{ role: 'assistant', content: 'done', finish_reason: 'stop' }],
    });

    const details = mapOne({
      events: [
        {
          name: 'gen_ai.client.inference.operation.details',
          attributes: {
            'gen_ai.input.messages': '[{"role":"user","parts":[{"type":"text","content":"q"}]}]',
            'gen_ai.output.messages':
              '[{"role":"assistant","parts":[{"type":"text","content":"a"}]}]',
          },
        },
      ],
    });
    expect(details).toMatchObject({
      inputs: { messages: [{ role: 'user', content: 'q' }] },
      outputs: { messages: [{ role: 'assistant', content: 'a' }] },
    });

    const semanticKernel = mapOne({
      events: [
        {
          name: 'gen_ai.content.prompt',
          attributes: { 'gen_ai.prompt': '[{"role":"user","content":"q"}]' },
        },
        { name: 'gen_ai.content.completion', attributes: { 'gen_ai.completion': 'a' } },
      ],
    });
    expect(semanticKernel).toMatchObject({
      inputs: { messages: [{ role: 'user', content: 'q' }] },
      outputs: { messages: [{ role: 'assistant', content: 'a' }] },
    });
  });
});

describe('Loupe SDK attributes (highest precedence)', () => {
  it('win over every other convention', () => {
    const run = mapOne(
      {
        attributes: {
          [LOUPE_RUN_TYPE]: 'tool',
          [LOUPE_INPUTS]: '{"question":"q"}',
          [LOUPE_OUTPUTS]: '"plain answer"',
          'loupe.metadata.experiment': 'e1',
          'loupe.metadata.tenant': 'loupe-wins',
          'loupe.tags': ['x', 'y'],
          'loupe.session_id': 's-loupe',
          'loupe.user_id': 'u-loupe',
          'loupe.prompt_version': 'v3',
          [LOUPE_PROJECT]: 'loupe-project',
          'langfuse.observation.input': '{"other":true}',
          'traceloop.association.properties.tenant': 'acme',
          'session.id': 's-other',
          'user.id': 'u-other',
          'tag.tags': ['y', 'z'],
          'openinference.span.kind': 'LLM',
        },
      },
      { resource: { 'service.name': 'svc' } },
    );
    expect(run).toMatchObject({
      runType: 'tool',
      inputs: { question: 'q' },
      outputs: { output: 'plain answer' },
      sessionId: 's-loupe',
      userId: 'u-loupe',
      tags: ['x', 'y', 'z'],
      projectName: 'loupe-project',
      metadata: { experiment: 'e1', tenant: 'loupe-wins', prompt_version: 'v3' },
    });
    expect(attrs(run)).toMatchObject({
      'langfuse.observation.input': '{"other":true}',
      'session.id': 's-other',
      'openinference.span.kind': 'LLM',
    });
  });
});

describe('project, metadata, tags, environment', () => {
  it('resolves the project: header › loupe.project › langsmith session › service.name › default', () => {
    const span = {
      attributes: { [LOUPE_PROJECT]: 'p-attr', 'langsmith.trace.session_name': 'p-ls' },
    };
    const resource = { resource: { 'service.name': 'p-service' } };
    expect(
      mapOne(span, resource, { projectFromHeader: 'p-header', defaultProject: 'p-default' })
        .projectName,
    ).toBe('p-header');
    expect(mapOne(span, resource, { defaultProject: 'p-default' }).projectName).toBe('p-attr');
    expect(
      mapOne({ attributes: { 'langsmith.trace.session_name': 'p-ls' } }, resource).projectName,
    ).toBe('p-ls');
    expect(mapOne({}, resource, { defaultProject: 'p-default' }).projectName).toBe('p-service');
    expect(
      mapOne(
        {},
        { resource: { 'service.name': 'unknown_service:node' } },
        { defaultProject: 'p-default' },
      ).projectName,
    ).toBe('p-default');
    expect(mapOne({}, { resource: {} }).projectName).toBeUndefined();
  });

  it('merges metadata sources and finds session/user ids in them', () => {
    const run = mapOne(
      {
        attributes: {
          'deployment.environment.name': 'staging',
          'traceloop.association.properties.session_id': 'sess-tl',
          'traceloop.association.properties.user_id': 'user-tl',
          'langfuse.trace.metadata': '{"a":1}',
          'langfuse.observation.metadata.b': 'two',
          'langfuse.trace.tags': '["t1"]',
          'langfuse.tags': 't2,t3',
          'enduser.id': 'end-user',
        },
      },
      {
        resource: {
          'service.name': 'svc',
          'service.version': '1.4.0',
          'deployment.environment': 'prod',
        },
        scope: { name: 'my-scope', version: '2.0' },
      },
    );
    expect(run).toMatchObject({
      sessionId: 'sess-tl',
      userId: 'end-user',
      tags: ['t1', 't2', 't3'],
      metadata: {
        service_name: 'svc',
        service_version: '1.4.0',
        environment: 'staging',
        otel_scope: 'my-scope',
        otel_scope_version: '2.0',
        session_id: 'sess-tl',
        user_id: 'user-tl',
        a: 1,
        b: 'two',
      },
    });
    expect(mapOne({}, { resource: { 'deployment.environment': 'prod' } }).metadata).toMatchObject({
      environment: 'prod',
    });
  });

  it('keeps malformed JSON attributes as they are', () => {
    const run = mapOne({
      attributes: {
        metadata: '{not json',
        'tag.tags': '[broken',
        'traceloop.entity.input': '{"a":',
      },
    });
    expect(run.inputs).toEqual({ input: '{"a":' });
    expect(attrs(run)).toEqual({ metadata: '{not json', 'tag.tags': '[broken' });
    expect(run.tags).toBeUndefined();
  });

  it('maps start/end at ms precision from nanos', () => {
    const run = mapOne({ start: START, end: END });
    expect(run.startTime!.getTime()).toBe(1795759490314);
    expect(run.endTime!.getTime()).toBe(1795759490382);
  });
});
