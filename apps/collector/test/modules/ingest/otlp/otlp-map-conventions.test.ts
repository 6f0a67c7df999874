/**
 * Span mapping for the conventions captured in reference §5.2–5.4: OpenInference,
 * Traceloop 0.27 (GenAI semconv on spans) and Traceloop legacy 0.22.
 */
import { describe, expect, it } from 'vitest';
import type { JsonObject } from '../../../../src/modules/ingest/run-upsert.js';
import { mapOne } from './otlp-builders.js';

const attrs = (run: { otel?: JsonObject }) => run.otel!.attributes as JsonObject;

describe('OpenInference 4.2.7', () => {
  const context = {
    'session.id': 'session-123',
    metadata: '{"tenant":"acme","experiment":"probe"}',
    'user.id': 'user-42',
    'tag.tags': '["probe","otel"]',
  };
  const request = {
    model: 'gpt-4o-mini',
    temperature: 0.2,
    max_tokens: 50,
    user: 'user-42',
    messages: [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'What is the capital of France?' },
    ],
  };
  const response = {
    id: 'chatcmpl-fake-1',
    object: 'chat.completion',
    model: 'gpt-4o-mini-2024-07-18',
  };
  const llmSpan = {
    name: 'OpenAI Chat Completions',
    status: { code: 1 },
    attributes: {
      ...context,
      'openinference.span.kind': 'LLM',
      'llm.model_name': 'gpt-4o-mini-2024-07-18',
      'input.value': JSON.stringify(request),
      'input.mime_type': 'application/json',
      'llm.invocation_parameters':
        '{"model":"gpt-4o-mini","temperature":0.2,"max_tokens":50,"user":"user-42"}',
      'llm.system': 'openai',
      'llm.input_messages.0.message.role': 'system',
      'llm.input_messages.0.message.content': 'You are terse.',
      'llm.input_messages.1.message.role': 'user',
      'llm.input_messages.1.message.content': 'What is the capital of France?',
      'output.value': JSON.stringify(response),
      'output.mime_type': 'application/json',
      'llm.output_messages.0.message.role': 'assistant',
      'llm.output_messages.0.message.content': 'Paris is the capital of France.',
      'llm.finish_reason': 'stop',
      'llm.token_count.completion': 7,
      'llm.token_count.prompt': 23,
      'llm.token_count.total': 30,
      'llm.token_count.prompt_details.cache_read': 4,
      'llm.token_count.prompt_details.audio': 0,
      'llm.token_count.completion_details.audio': 0,
      'llm.token_count.completion_details.reasoning': 0,
      'llm.cost.total': 0.00042,
    },
  };

  it('maps the LLM span', () => {
    const run = mapOne(llmSpan);
    expect(run).toMatchObject({
      runType: 'llm',
      model: 'gpt-4o-mini-2024-07-18',
      provider: 'openai',
      promptTokens: 23,
      completionTokens: 7,
      totalTokens: 30,
      tokenDetails: { cache_read: 4, audio_input: 0, audio_output: 0, reasoning: 0 },
      cost: 0.00042,
      sessionId: 'session-123',
      userId: 'user-42',
      tags: ['probe', 'otel'],
      metadata: { tenant: 'acme', experiment: 'probe' },
      extra: {
        invocation_params: {
          model: 'gpt-4o-mini',
          temperature: 0.2,
          max_tokens: 50,
          user: 'user-42',
        },
      },
    });
    expect(run.inputs).toEqual({
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'What is the capital of France?' },
      ],
      raw: request,
    });
    expect(run.outputs).toEqual({
      messages: [{ role: 'assistant', content: 'Paris is the capital of France.' }],
      raw: response,
    });
    expect(attrs(run)).toEqual({ 'llm.finish_reason': 'stop' });
  });

  it('maps tool calls in output messages and tool schemas', () => {
    const run = mapOne({
      attributes: {
        'openinference.span.kind': 'LLM',
        'llm.input_messages.0.message.role': 'user',
        'llm.input_messages.0.message.content': 'Weather in Paris?',
        'llm.tools.0.tool.json_schema': '{"type":"function","function":{"name":"get_weather"}}',
        'llm.output_messages.0.message.role': 'assistant',
        'llm.output_messages.0.message.tool_calls.0.tool_call.id': 'call_abc123',
        'llm.output_messages.0.message.tool_calls.0.tool_call.function.name': 'get_weather',
        'llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments':
          '{"city":"Paris"}',
        'llm.input_messages.1.message.role': 'tool',
        'llm.input_messages.1.message.tool_call_id': 'call_abc123',
        'llm.input_messages.1.message.content': '{"temp_c":21}',
        'llm.input_messages.2.message.role': 'user',
        'llm.input_messages.2.message.contents.0.message_content.type': 'text',
        'llm.input_messages.2.message.contents.0.message_content.text': 'And tomorrow?',
      },
    });
    expect(run.inputs).toEqual({
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'tool', content: '{"temp_c":21}', tool_call_id: 'call_abc123' },
        { role: 'user', content: 'And tomorrow?' },
      ],
    });
    expect(run.outputs).toEqual({
      messages: [
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
      ],
    });
    expect(run.extra).toEqual({
      invocation_params: { tools: [{ type: 'function', function: { name: 'get_weather' } }] },
    });
  });

  it('maps a streamed span (plain-text output, no tokens)', () => {
    const run = mapOne({
      attributes: {
        'openinference.span.kind': 'LLM',
        'llm.model_name': 'gpt-4o-mini',
        'output.value': 'Paris is the capital.',
        'output.mime_type': 'text/plain',
        'llm.output_messages.0.message.content': 'Paris is the capital.',
        'llm.output_messages.0.message.role': 'assistant',
      },
    });
    expect(run.outputs).toEqual({
      messages: [{ role: 'assistant', content: 'Paris is the capital.' }],
      raw: 'Paris is the capital.',
    });
    expect(run.promptTokens).toBeUndefined();
    expect(run.totalTokens).toBeUndefined();
  });

  it('maps helper spans: agent, retriever, tool, reranker', () => {
    const agent = mapOne({
      name: 'weather_agent',
      attributes: {
        'openinference.span.kind': 'AGENT',
        'input.value': 'Weather in Paris?',
        'input.mime_type': 'text/plain',
        'output.value': 'Paris is the capital of France.',
        'output.mime_type': 'text/plain',
      },
    });
    expect(agent).toMatchObject({
      runType: 'agent',
      name: 'weather_agent',
      inputs: { input: 'Weather in Paris?' },
      outputs: { output: 'Paris is the capital of France.' },
    });
    const retriever = mapOne({
      attributes: {
        'openinference.span.kind': 'RETRIEVER',
        'input.value': 'Weather in Paris?',
        'input.mime_type': 'text/plain',
        'output.value': '[{"id":"doc1","content":"about Weather in Paris?"}]',
        'output.mime_type': 'application/json',
      },
    });
    expect(retriever).toMatchObject({
      runType: 'retriever',
      outputs: { output: [{ id: 'doc1', content: 'about Weather in Paris?' }] },
    });
    const tool = mapOne({
      attributes: {
        'openinference.span.kind': 'TOOL',
        'input.value': 'Paris',
        'input.mime_type': 'text/plain',
        'output.value': '{"city":"Paris","temp_c":21}',
        'output.mime_type': 'application/json',
      },
    });
    expect(tool).toMatchObject({
      runType: 'tool',
      inputs: { input: 'Paris' },
      outputs: { city: 'Paris', temp_c: 21 },
    });
    const reranker = mapOne({
      attributes: {
        'openinference.span.kind': 'RERANKER',
        'retrieval.documents.0.document.id': 'd1',
        'retrieval.documents.0.document.score': 0.9,
      },
    });
    expect(reranker).toMatchObject({
      runType: 'retriever',
      metadata: { original_run_type: 'RERANKER' },
      outputs: { documents: [{ id: 'd1', score: 0.9 }] },
    });
  });

  it('maps guardrail/evaluator to chain and keeps embedding texts', () => {
    expect(mapOne({ attributes: { 'openinference.span.kind': 'GUARDRAIL' } })).toMatchObject({
      runType: 'chain',
      metadata: { original_run_type: 'GUARDRAIL' },
    });
    const embedding = mapOne({
      attributes: {
        'openinference.span.kind': 'EMBEDDING',
        'embedding.model_name': 'text-embedding-3-small',
        'embedding.embeddings.0.embedding.text': 'hello',
        'embedding.embeddings.1.embedding.text': 'world',
        'embedding.embeddings.0.embedding.vector': [0.1, 0.2],
      },
    });
    expect(embedding).toMatchObject({
      runType: 'embedding',
      model: 'text-embedding-3-small',
      inputs: { input: ['hello', 'world'] },
    });
    expect(attrs(embedding)).toEqual({ 'embedding.embeddings.0.embedding.vector': [0.1, 0.2] });
  });
});

describe('Traceloop / OpenLLMetry 0.27', () => {
  const association = {
    'traceloop.workflow.name': 'probe_workflow',
    'traceloop.association.properties.userId': 'user-42',
    'traceloop.association.properties.sessionId': 'session-123',
    'traceloop.association.properties.tenant': 'acme',
  };

  it('maps the workflow span', () => {
    const run = mapOne({
      name: 'probe_workflow.workflow',
      attributes: {
        ...association,
        'traceloop.entity.name': 'probe_workflow',
        'traceloop.entity.path': '',
        'traceloop.span.kind': 'workflow',
        'traceloop.entity.input': '{"args":[],"kwargs":{}}',
        'traceloop.entity.output': '{"chat":"Paris is the capital of France.","embeddings":2}',
      },
    });
    expect(run).toMatchObject({
      runType: 'chain',
      name: 'probe_workflow',
      inputs: { args: [], kwargs: {} },
      outputs: { chat: 'Paris is the capital of France.', embeddings: 2 },
      sessionId: 'session-123',
      userId: 'user-42',
      metadata: {
        workflow_name: 'probe_workflow',
        userId: 'user-42',
        sessionId: 'session-123',
        tenant: 'acme',
        original_run_type: 'workflow',
      },
      otel: { span_name: 'probe_workflow.workflow' },
    });
  });

  it('maps the LLM span with GenAI messages as JSON strings', () => {
    const run = mapOne({
      name: 'chat gpt-4o-mini',
      kind: 3,
      attributes: {
        'gen_ai.provider.name': 'openai',
        'gen_ai.operation.name': 'chat',
        'gen_ai.request.model': 'gpt-4o-mini',
        'gen_ai.request.max_tokens': 50,
        'gen_ai.request.temperature': 0.2,
        'gen_ai.input.messages':
          '[{"role":"system","parts":[{"type":"text","content":"You are terse."}]},{"role":"user","parts":[{"type":"text","content":"What is the capital of France?"}]}]',
        ...association,
        'gen_ai.response.model': 'gpt-4o-mini-2024-07-18',
        'gen_ai.response.id': 'chatcmpl-fake-1',
        'gen_ai.usage.total_tokens': 30,
        'gen_ai.usage.output_tokens': 7,
        'gen_ai.usage.input_tokens': 23,
        'gen_ai.response.finish_reasons': ['stop'],
        'gen_ai.output.messages':
          '[{"role":"assistant","finish_reason":"stop","parts":[{"type":"text","content":"Paris is the capital of France."}]}]',
      },
    });
    expect(run).toMatchObject({
      runType: 'llm',
      model: 'gpt-4o-mini-2024-07-18',
      provider: 'openai',
      promptTokens: 23,
      completionTokens: 7,
      totalTokens: 30,
      sessionId: 'session-123',
      userId: 'user-42',
      extra: { invocation_params: { max_tokens: 50, temperature: 0.2 } },
    });
    expect(run.inputs).toEqual({
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'What is the capital of France?' },
      ],
    });
    expect(run.outputs).toEqual({
      messages: [
        { role: 'assistant', content: 'Paris is the capital of France.', finish_reason: 'stop' },
      ],
    });
    expect(attrs(run)).toEqual({
      'gen_ai.operation.name': 'chat',
      'gen_ai.response.id': 'chatcmpl-fake-1',
      'gen_ai.response.finish_reasons': ['stop'],
    });
  });

  it('maps a tool-call output part and tool definitions', () => {
    const run = mapOne({
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.input.messages':
          '[{"role":"user","parts":[{"type":"text","content":"Weather in Paris?"}]}]',
        'gen_ai.tool.definitions': '[{"type":"function","function":{"name":"get_weather"}}]',
        'gen_ai.output.messages':
          '[{"role":"assistant","finish_reason":"tool_call","parts":[{"type":"tool_call","id":"call_abc123","name":"get_weather","arguments":{"city":"Paris"}}]}]',
      },
    });
    expect(run.outputs).toEqual({
      messages: [
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
          finish_reason: 'tool_call',
        },
      ],
    });
    expect(run.extra).toEqual({
      invocation_params: { tools: [{ type: 'function', function: { name: 'get_weather' } }] },
    });
  });

  it('maps agent, tool and task spans', () => {
    const common = {
      'traceloop.workflow.name': 'weather_agent',
      'traceloop.entity.path': '',
      'gen_ai.agent.name': 'weather_agent',
    };
    const agent = mapOne({
      name: 'weather_agent.agent',
      attributes: {
        ...common,
        'traceloop.entity.name': 'weather_agent',
        'traceloop.span.kind': 'agent',
        'traceloop.entity.input': '{"args":[],"kwargs":{}}',
        'traceloop.entity.output': '"Paris is the capital of France."',
      },
    });
    expect(agent).toMatchObject({
      runType: 'agent',
      name: 'weather_agent',
      outputs: { output: 'Paris is the capital of France.' },
    });
    const tool = mapOne({
      name: 'get_weather.tool',
      attributes: {
        ...common,
        'traceloop.entity.name': 'get_weather',
        'traceloop.span.kind': 'tool',
        'traceloop.entity.input': '{"args":["Paris"],"kwargs":{}}',
        'traceloop.entity.output': '{"city":"Paris","temp_c":21}',
      },
    });
    expect(tool).toMatchObject({
      runType: 'tool',
      name: 'get_weather',
      inputs: { args: ['Paris'], kwargs: {} },
      outputs: { city: 'Paris', temp_c: 21 },
    });
    expect(mapOne({ attributes: { 'traceloop.span.kind': 'task' } }).runType).toBe('chain');
  });

  it('does not invent content when TRACELOOP_TRACE_CONTENT=false', () => {
    const run = mapOne({
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.request.model': 'gpt-4o-mini',
        'gen_ai.usage.input_tokens': 23,
      },
    });
    expect(run.inputs).toBeUndefined();
    expect(run.outputs).toBeUndefined();
    expect(run.totalTokens).toBe(23);
  });
});

describe('Traceloop legacy 0.22 (gen_ai.prompt.N / gen_ai.completion.N)', () => {
  const legacy = {
    'gen_ai.system': 'OpenAI',
    'llm.request.type': 'chat',
    'gen_ai.request.model': 'gpt-4o-mini',
    'gen_ai.response.model': 'gpt-4o-mini-2024-07-18',
    'llm.usage.total_tokens': 30,
    'gen_ai.usage.completion_tokens': 7,
    'gen_ai.usage.prompt_tokens': 23,
  };

  it('maps the LLM span', () => {
    const run = mapOne({
      name: 'openai.chat',
      attributes: {
        ...legacy,
        'gen_ai.prompt.0.role': 'system',
        'gen_ai.prompt.0.content': 'You are terse.',
        'gen_ai.prompt.1.role': 'user',
        'gen_ai.prompt.1.content': 'What is the capital of France?',
        'gen_ai.completion.0.finish_reason': 'stop',
        'gen_ai.completion.0.role': 'assistant',
        'gen_ai.completion.0.content': 'Paris is the capital of France.',
      },
    });
    expect(run).toMatchObject({
      runType: 'llm',
      provider: 'openai',
      model: 'gpt-4o-mini-2024-07-18',
      promptTokens: 23,
      completionTokens: 7,
      totalTokens: 30,
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
    expect(attrs(run)).toEqual({ 'llm.request.type': 'chat' });
  });

  it('maps flattened tool calls, the "null" content quirk and request functions', () => {
    const run = mapOne({
      attributes: {
        ...legacy,
        'gen_ai.prompt.0.role': 'user',
        'gen_ai.prompt.0.content': 'Weather in Paris?',
        'gen_ai.prompt.1.role': 'assistant',
        'gen_ai.prompt.1.content': 'null',
        'gen_ai.prompt.1.tool_calls.0.id': 'call_abc123',
        'gen_ai.prompt.1.tool_calls.0.name': 'get_weather',
        'gen_ai.prompt.1.tool_calls.0.arguments': '{"city":"Paris"}',
        'llm.request.functions.0.name': 'get_weather',
        'llm.request.functions.0.description': 'Get weather for a city',
        'llm.request.functions.0.arguments': '{"type":"object"}',
        'gen_ai.completion.0.finish_reason': 'tool_calls',
        'gen_ai.completion.0.role': 'assistant',
        'gen_ai.completion.0.content': '',
        'gen_ai.completion.0.tool_calls.0.name': 'get_weather',
        'gen_ai.completion.0.tool_calls.0.arguments': '{"city":"Paris"}',
      },
    });
    const call = {
      type: 'function',
      function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
    };
    expect(run.inputs).toEqual({
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_abc123', ...call }] },
      ],
    });
    expect(run.outputs).toEqual({
      messages: [
        { role: 'assistant', content: null, tool_calls: [call], finish_reason: 'tool_calls' },
      ],
    });
    expect(run.extra).toEqual({
      invocation_params: {
        functions: [
          {
            name: 'get_weather',
            description: 'Get weather for a city',
            arguments: '{"type":"object"}',
          },
        ],
      },
    });
  });
});
