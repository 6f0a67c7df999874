/**
 * OTel JS contrib `instrumentation-openai` (reference §2.1, §5.1): token counts on the
 * span, content only in log records. Built with the real SDK, so the log/span join
 * runs on real ids.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { runIdFromOtel, traceIdFromOtel } from '../../../../src/modules/ingest/ids.js';
import { contentFromLogRecords } from '../../../../src/modules/ingest/otlp/log-content.js';
import {
  decodeLogsRequest,
  decodeTraceRequest,
} from '../../../../src/modules/ingest/otlp/otlp-decode.js';
import { mapLogs, mapSpans } from '../../../../src/modules/ingest/otlp/otlp-map.js';
import type { JsonObject, RunUpsert } from '../../../../src/modules/ingest/run-upsert.js';
import { decodeJsonLogs } from './otlp-builders.js';
import { generate, type Generated, type LogSpec } from './otel-sdk.js';

const scope = { name: '@opentelemetry/instrumentation-openai', version: '0.21.0' };
const resource = { 'service.name': 'probe-contrib' };
const chatAttributes = {
  'gen_ai.operation.name': 'chat',
  'gen_ai.request.model': 'gpt-4o-mini',
  'gen_ai.system': 'openai',
  'server.address': '127.0.0.1',
  'server.port': 4010,
  'gen_ai.request.max_tokens': 50,
  'gen_ai.request.temperature': 0.2,
  'gen_ai.response.finish_reasons': ['stop'],
  'gen_ai.response.id': 'chatcmpl-fake-1',
  'gen_ai.response.model': 'gpt-4o-mini-2024-07-18',
  'gen_ai.usage.input_tokens': 23,
  'gen_ai.usage.output_tokens': 7,
};
const ev = (name: string) => ({ 'event.name': name, 'gen_ai.system': 'openai' });
const t = (n: number) => `17957594903${String(n).padStart(8, '0')}`;

const chatLogs: LogSpec[] = [
  {
    span: 'chat',
    time: t(1),
    attributes: ev('gen_ai.system.message'),
    body: { content: 'You are terse.' },
  },
  {
    span: 'chat',
    time: t(2),
    attributes: ev('gen_ai.user.message'),
    body: { content: 'What is the capital of France?' },
  },
  {
    span: 'chat',
    time: t(3),
    attributes: ev('gen_ai.choice'),
    body: {
      finish_reason: 'stop',
      index: 0,
      message: { content: 'Paris is the capital of France.' },
    },
  },
];
const toolLogs: LogSpec[] = [
  {
    span: 'tools',
    time: t(10),
    attributes: ev('gen_ai.user.message'),
    body: { content: 'Weather in Paris?' },
  },
  {
    span: 'tools',
    time: t(11),
    attributes: ev('gen_ai.assistant.message'),
    body: {
      tool_calls: [
        {
          id: 'call_abc123',
          type: 'function',
          function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
        },
      ],
    },
  },
  {
    span: 'tools',
    time: t(12),
    attributes: ev('gen_ai.tool.message'),
    body: { id: 'call_abc123', content: '{"temp_c":21,"sky":"sunny"}' },
  },
  {
    span: 'tools',
    time: t(13),
    attributes: ev('gen_ai.choice'),
    body: {
      finish_reason: 'stop',
      index: 0,
      message: { content: 'It is 21C and sunny in Paris.' },
    },
  },
];
const responsesLogs: LogSpec[] = [
  {
    span: 'responses',
    time: t(20),
    eventName: 'gen_ai.client.inference.operation.details',
    attributes: {
      'gen_ai.provider.name': 'openai',
      'gen_ai.input.messages': [
        { role: 'system', parts: [{ type: 'text', content: 'Answer in French.' }] },
        { role: 'user', parts: [{ type: 'text', content: 'Say hello' }] },
      ],
    },
  },
  {
    span: 'responses',
    time: t(20),
    eventName: 'gen_ai.client.inference.operation.details',
    attributes: {
      'gen_ai.provider.name': 'openai',
      'gen_ai.output.messages': [
        {
          role: 'assistant',
          parts: [{ type: 'text', content: 'Bonjour!' }],
          finish_reason: 'stop',
        },
      ],
    },
  },
];
const contentOffLogs: LogSpec[] = [
  { span: 'off', time: t(30), attributes: ev('gen_ai.system.message'), body: {} },
  { span: 'off', time: t(31), attributes: ev('gen_ai.user.message'), body: {} },
  {
    span: 'off',
    time: t(32),
    attributes: ev('gen_ai.choice'),
    body: { finish_reason: 'stop', index: 0, message: {} },
  },
];

let g: Generated;
let runs: RunUpsert[];
let logRuns: RunUpsert[];
const run = (ref: string) => runs.find((r) => r.otelSpanId === g.ids[ref]!.spanId)!;
const logRun = (ref: string) =>
  logRuns.find((r) => r.id === runIdFromOtel(g.ids[ref]!.traceId, g.ids[ref]!.spanId))!;

beforeAll(() => {
  g = generate([
    {
      resource,
      scope,
      spans: [
        { ref: 'scenario', name: 'scenario:chat' },
        {
          ref: 'chat',
          name: 'chat gpt-4o-mini',
          kind: 2,
          parent: 'scenario',
          attributes: chatAttributes,
        },
        {
          ref: 'tools',
          name: 'chat gpt-4o-mini',
          kind: 2,
          parent: 'scenario',
          attributes: chatAttributes,
        },
        {
          ref: 'responses',
          name: 'chat gpt-4o-mini',
          kind: 2,
          parent: 'scenario',
          attributes: {
            'gen_ai.operation.name': 'chat',
            'gen_ai.request.model': 'gpt-4o-mini',
            'gen_ai.provider.name': 'openai',
            'gen_ai.system_instructions': '[{"type":"text","content":"Answer in French."}]',
          },
        },
        {
          ref: 'off',
          name: 'chat gpt-4o-mini',
          kind: 2,
          parent: 'scenario',
          attributes: chatAttributes,
        },
        {
          ref: 'error',
          name: 'chat bad-model',
          kind: 2,
          parent: 'scenario',
          attributes: {
            'gen_ai.operation.name': 'chat',
            'gen_ai.request.model': 'bad-model',
            'gen_ai.system': 'openai',
            'server.address': '127.0.0.1',
            'error.type': 'NotFoundError',
          },
          status: { code: 2, message: '404 The model `bad-model` does not exist' },
        },
      ],
      logs: [
        ...chatLogs,
        ...toolLogs,
        ...responsesLogs,
        ...contentOffLogs,
        { body: 'startup log without a span' },
      ],
    },
  ])[0]!;
  runs = mapSpans(decodeTraceRequest(g.traces.protobuf, 'protobuf'), {}).runs;
  logRuns = mapLogs(decodeLogsRequest(g.logs.protobuf, 'protobuf'), {}).runs;
});

describe('OTel contrib instrumentation-openai spans', () => {
  it('maps the chat span: run type, model, provider, tokens, parent, params', () => {
    const chat = run('chat');
    expect(chat).toMatchObject({
      id: runIdFromOtel(g.ids.chat!.traceId, g.ids.chat!.spanId),
      traceId: traceIdFromOtel(g.ids.chat!.traceId),
      parentRunId: runIdFromOtel(g.ids.scenario!.traceId, g.ids.scenario!.spanId),
      projectName: 'probe-contrib',
      name: 'chat gpt-4o-mini',
      runType: 'llm',
      model: 'gpt-4o-mini-2024-07-18',
      provider: 'openai',
      promptTokens: 23,
      completionTokens: 7,
      totalTokens: 30,
      extra: { invocation_params: { max_tokens: 50, temperature: 0.2 } },
    });
    expect(chat.metadata).toMatchObject({
      ls_model_requested: 'gpt-4o-mini',
      server_address: '127.0.0.1',
      service_name: 'probe-contrib',
      otel_scope: '@opentelemetry/instrumentation-openai',
      otel_scope_version: '0.21.0',
    });
    expect(chat.inputs).toBeUndefined();
    expect(chat.error).toBeUndefined();
    expect(run('scenario')).toMatchObject({ runType: 'chain', parentRunId: null });
  });

  it('keeps every unmapped attribute under otel.attributes', () => {
    expect(run('chat').otel).toMatchObject({
      kind: 'CLIENT',
      status: { code: 'UNSET', message: '' },
      attributes: {
        'gen_ai.operation.name': 'chat',
        'server.port': 4010,
        'gen_ai.response.finish_reasons': ['stop'],
        'gen_ai.response.id': 'chatcmpl-fake-1',
      },
      resource: { 'service.name': 'probe-contrib' },
      scope: { name: '@opentelemetry/instrumentation-openai', version: '0.21.0' },
    });
    const leftovers = run('chat').otel!.attributes as JsonObject;
    expect(Object.keys(leftovers).sort()).toEqual([
      'gen_ai.operation.name',
      'gen_ai.response.finish_reasons',
      'gen_ai.response.id',
      'server.port',
    ]);
  });

  it('maps a failed call from the span status and error.type', () => {
    expect(run('error')).toMatchObject({
      runType: 'llm',
      model: 'bad-model',
      error: '404 The model `bad-model` does not exist',
      metadata: { error_type: 'NotFoundError' },
    });
  });

  it('does not turn the Responses API system instructions alone into inputs', () => {
    expect(run('responses').inputs).toBeUndefined();
    expect(
      (run('responses').otel!.attributes as JsonObject)['gen_ai.system_instructions'],
    ).toBeDefined();
  });
});

describe('OTel contrib log records', () => {
  it('attach to the span run by (traceId, spanId) and carry only log content', () => {
    const chat = logRun('chat');
    expect(Object.keys(chat).sort()).toEqual(['id', 'logRecords', 'projectName', 'traceId']);
    expect(chat.id).toBe(run('chat').id);
    expect(chat.traceId).toBe(run('chat').traceId);
    expect(chat.projectName).toBe('probe-contrib');
    expect(Object.keys(chat.logRecords!)).toHaveLength(3);
    const first = Object.values(chat.logRecords!)[0]!;
    expect(first).toMatchObject({
      event_name: 'gen_ai.system.message',
      time_unix_nano: t(1),
      body: { content: 'You are terse.' },
      attributes: { 'event.name': 'gen_ai.system.message', 'gen_ai.system': 'openai' },
      severity: { number: 9 },
    });
  });

  it('uses stable keys: re-delivery gives the same keys, sorted by time', () => {
    const again = mapLogs(decodeLogsRequest(g.logs.json, 'json'), {}).runs;
    const keys = (runsList: RunUpsert[]) =>
      runsList.flatMap((r) => Object.keys(r.logRecords!)).sort();
    expect(keys(again)).toEqual(keys(logRuns));
    const toolKeys = Object.keys(logRun('tools').logRecords!);
    expect([...toolKeys].sort()).toEqual(toolKeys);
  });

  it('gives distinct keys to records that differ only in attributes', () => {
    expect(Object.keys(logRun('responses').logRecords!)).toHaveLength(2);
  });

  it('counts records without a span id as unlinked, not rejected', () => {
    const result = mapLogs(decodeLogsRequest(g.logs.protobuf, 'protobuf'), {});
    expect(result).toMatchObject({ rejected: 0, unlinked: 1 });
  });

  it('become chat inputs/outputs at read time', () => {
    expect(contentFromLogRecords(logRun('chat').logRecords!)).toEqual({
      inputs: {
        messages: [
          { role: 'system', content: 'You are terse.' },
          { role: 'user', content: 'What is the capital of France?' },
        ],
      },
      outputs: {
        messages: [
          { role: 'assistant', content: 'Paris is the capital of France.', finish_reason: 'stop' },
        ],
      },
    });
  });

  it('keep a tool round trip: assistant tool_calls and the tool answer', () => {
    expect(contentFromLogRecords(logRun('tools').logRecords!)).toEqual({
      inputs: {
        messages: [
          { role: 'user', content: 'Weather in Paris?' },
          {
            role: 'assistant',
            content: null,
            tool_calls: [
              {
                id: 'call_abc123',
                type: 'function',
                function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
              },
            ],
          },
          { role: 'tool', content: '{"temp_c":21,"sky":"sunny"}', tool_call_id: 'call_abc123' },
        ],
      },
      outputs: {
        messages: [
          { role: 'assistant', content: 'It is 21C and sunny in Paris.', finish_reason: 'stop' },
        ],
      },
    });
  });

  it('read the operation.details event (structured messages, LogRecord event_name)', () => {
    expect(contentFromLogRecords(logRun('responses').logRecords!)).toEqual({
      inputs: {
        messages: [
          { role: 'system', content: 'Answer in French.' },
          { role: 'user', content: 'Say hello' },
        ],
      },
      outputs: { messages: [{ role: 'assistant', content: 'Bonjour!', finish_reason: 'stop' }] },
    });
  });

  it('give no content when capture was off', () => {
    expect(contentFromLogRecords(logRun('off').logRecords!)).toEqual({});
  });
});

describe('contentFromLogRecords', () => {
  it('orders by time then key, whatever the insertion order', () => {
    const body = decodeJsonLogs([
      {
        spanId: '1111111111111111',
        time: '300',
        attributes: { 'event.name': 'gen_ai.choice' },
        body: { index: 1, message: { content: 'second choice' } },
      },
      {
        spanId: '1111111111111111',
        time: '200',
        attributes: { 'event.name': 'gen_ai.user.message' },
        body: { content: 'later' },
      },
      {
        spanId: '1111111111111111',
        time: '100',
        eventName: 'gen_ai.user.message',
        body: { content: 'first' },
      },
      {
        spanId: '1111111111111111',
        time: '300',
        attributes: { 'event.name': 'gen_ai.choice' },
        body: { index: 0, message: { content: 'first choice' } },
      },
    ]);
    const [single] = mapLogs(body, {}).runs;
    const records = single!.logRecords!;
    const reversed = Object.fromEntries(Object.entries(records).reverse());
    expect(contentFromLogRecords(reversed)).toEqual({
      inputs: {
        messages: [
          { role: 'user', content: 'first' },
          { role: 'user', content: 'later' },
        ],
      },
      outputs: {
        messages: [
          { role: 'assistant', content: 'first choice' },
          { role: 'assistant', content: 'second choice' },
        ],
      },
    });
  });

  it('ignores unrelated records and tolerates odd stored values', () => {
    expect(
      contentFromLogRecords({
        a: { event_name: 'app.log', time_unix_nano: '1', body: 'hello' },
        b: {
          time_unix_nano: 'x',
          attributes: { 'event.name': 'gen_ai.user.message' },
          body: 'plain string body',
        },
        c: {
          event_name: 'gen_ai.choice',
          body: { message: '{"role":"assistant","content":"json string message"}' },
        },
      }),
    ).toEqual({
      inputs: { messages: [{ role: 'user', content: 'plain string body' }] },
      outputs: { messages: [{ role: 'assistant', content: 'json string message' }] },
    });
  });
});
