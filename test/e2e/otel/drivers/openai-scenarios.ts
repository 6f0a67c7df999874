// The OpenAI client calls every instrumentation driver makes (against the fake OpenAI server),
// and what the client itself saw, so the tests can compare the collector's runs with it.
import type OpenAI from 'openai';
import type { SpanRef } from './runtime.js';

export const SCENARIOS = ['chat', 'stream', 'tools', 'embeddings', 'bad-model'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export const CHAT_MODEL = 'gpt-4o-mini';
export const EMBEDDING_MODEL = 'text-embedding-3-small';
export const SYSTEM_TEXT = 'You are terse.';
export const CHAT_TEXT = 'What is the capital of France?';
export const STREAM_TEXT = 'Stream a short answer please.';
export const TOOLS_TEXT = 'What is the weather in Paris?';
export const TOOL_RESULT = '{"temp_c":21,"sky":"sunny"}';
export const EMBEDDING_INPUT = ['hello world', 'second text'];

export const WEATHER_TOOL = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' } },
      required: ['city'],
    },
  },
};

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  cached_tokens?: number;
  reasoning_tokens?: number;
}

export interface CallSeen {
  responseId?: string;
  model?: string;
  text?: string | null;
  finishReason?: string | null;
  toolCalls?: Array<{ id: string; name: string; arguments: string }>;
  usage?: Usage;
  embeddings?: number;
}

export interface ScenarioOutcome {
  calls: CallSeen[];
  /** the client error message, for `bad-model` */
  error?: string;
  errorName?: string;
}

export interface ScenarioResult extends ScenarioOutcome {
  /** the application span the calls ran under (none for Traceloop's workflow scenarios) */
  scenario: SpanRef;
}

function usageOf(u: OpenAI.CompletionUsage | undefined | null): Usage | undefined {
  if (!u) return undefined;
  return {
    prompt_tokens: u.prompt_tokens,
    completion_tokens: u.completion_tokens,
    total_tokens: u.total_tokens,
    cached_tokens: u.prompt_tokens_details?.cached_tokens,
    reasoning_tokens: u.completion_tokens_details?.reasoning_tokens,
  };
}

function seenCompletion(res: OpenAI.Chat.Completions.ChatCompletion): CallSeen {
  const choice = res.choices[0];
  const calls = (choice?.message.tool_calls ?? []).flatMap((c) =>
    c.type === 'function'
      ? [{ id: c.id, name: c.function.name, arguments: c.function.arguments }]
      : [],
  );
  return {
    responseId: res.id,
    model: res.model,
    text: choice?.message.content ?? null,
    finishReason: choice?.finish_reason ?? null,
    ...(calls.length > 0 ? { toolCalls: calls } : {}),
    usage: usageOf(res.usage),
  };
}

export async function chat(client: OpenAI): Promise<CallSeen> {
  const res = await client.chat.completions.create({
    model: CHAT_MODEL,
    temperature: 0.2,
    max_tokens: 50,
    messages: [
      { role: 'system', content: SYSTEM_TEXT },
      { role: 'user', content: CHAT_TEXT },
    ],
  });
  return seenCompletion(res);
}

export async function stream(client: OpenAI): Promise<CallSeen> {
  const chunks = await client.chat.completions.create({
    model: CHAT_MODEL,
    stream: true,
    stream_options: { include_usage: true },
    messages: [{ role: 'user', content: STREAM_TEXT }],
  });
  let text = '';
  let finishReason: string | null = null;
  let usage: Usage | undefined;
  let model: string | undefined;
  let responseId: string | undefined;
  for await (const chunk of chunks) {
    model = chunk.model;
    responseId = chunk.id;
    const choice = chunk.choices[0];
    if (choice?.delta.content) text += choice.delta.content;
    if (choice?.finish_reason) finishReason = choice.finish_reason;
    if (chunk.usage) usage = usageOf(chunk.usage);
  }
  return { responseId, model, text, finishReason, usage };
}

/** Two calls: the model asks for the tool; the tool result goes back; the model answers. */
export async function tools(
  client: OpenAI,
  runTool: (city: string) => Promise<string> = async () => TOOL_RESULT,
): Promise<CallSeen[]> {
  const user = { role: 'user' as const, content: TOOLS_TEXT };
  const first = await client.chat.completions.create({
    model: CHAT_MODEL,
    messages: [user],
    tools: [WEATHER_TOOL],
  });
  const message = first.choices[0]!.message;
  const call = message.tool_calls?.[0];
  if (call?.type !== 'function') throw new Error('the fake model did not call the tool');
  const args = JSON.parse(call.function.arguments) as { city: string };
  const result = await runTool(args.city);
  const second = await client.chat.completions.create({
    model: CHAT_MODEL,
    messages: [
      user,
      { role: 'assistant', content: null, tool_calls: [call] },
      { role: 'tool', tool_call_id: call.id, content: result },
    ],
    tools: [WEATHER_TOOL],
  });
  return [seenCompletion(first), seenCompletion(second)];
}

export async function embeddings(client: OpenAI): Promise<CallSeen> {
  const res = await client.embeddings.create({ model: EMBEDDING_MODEL, input: EMBEDDING_INPUT });
  return {
    model: res.model,
    embeddings: res.data.length,
    usage: {
      prompt_tokens: res.usage.prompt_tokens,
      completion_tokens: 0,
      total_tokens: res.usage.total_tokens,
    },
  };
}

/** A chat call the API refuses (404 model_not_found); the error is returned, not thrown. */
export async function badModel(client: OpenAI): Promise<ScenarioOutcome> {
  try {
    await client.chat.completions.create({
      model: 'bad-model',
      messages: [{ role: 'user', content: 'Anyone there?' }],
    });
  } catch (error) {
    const e = error as Error;
    return { calls: [], error: e.message, errorName: e.constructor.name };
  }
  throw new Error('bad-model did not fail');
}

export async function runScenario(client: OpenAI, name: ScenarioName): Promise<ScenarioOutcome> {
  switch (name) {
    case 'chat':
      return { calls: [await chat(client)] };
    case 'stream':
      return { calls: [await stream(client)] };
    case 'tools':
      return { calls: await tools(client) };
    case 'embeddings':
      return { calls: [await embeddings(client)] };
    case 'bad-model':
      return badModel(client);
  }
}
