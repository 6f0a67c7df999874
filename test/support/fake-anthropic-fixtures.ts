// Pure, deterministic builders for the fake Anthropic Messages API (see fake-anthropic.ts):
// the same request body and context give the same Message / SSE events. Shapes follow the
// public API so that the official `@anthropic-ai/sdk` client parses them as in production.

export type Json = Record<string, unknown>;

/** An HTTP error carrying Anthropic's error envelope. */
export class FakeAnthropicError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
  }

  toJSON(requestId: string): Json {
    return {
      type: 'error',
      error: { type: this.type, message: this.message },
      request_id: requestId,
    };
  }
}

export interface AnthropicBuildContext {
  seq: number;
  cacheReadTokens: number;
  cacheCreationTokens: number;
  thinkingTokens: number;
}

export type AnthropicPlan =
  | { kind: 'text'; text: string; stop: 'end_turn' | 'max_tokens' }
  | { kind: 'tool'; preface: string; name: string; id: string; input: Json };

const isRecord = (v: unknown): v is Json =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export const countTokens = (text: string): number =>
  text.length === 0 ? 0 : Math.max(1, Math.ceil(text.length / 4));

export const fakeId = (prefix: string, seq: number): string =>
  `${prefix}fake${seq.toString().padStart(6, '0')}`;

/** `-latest` aliases resolve to a dated snapshot, like the API reports them. */
export const responseModel = (model: string): string =>
  model.endsWith('-latest') ? `${model.slice(0, -'-latest'.length)}-20250101` : model;

/** Text of a `content` value: a string, or the text of its text blocks. */
export function blockText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((b) => (isRecord(b) && b.type === 'text' && typeof b.text === 'string' ? b.text : ''))
    .filter((t) => t !== '')
    .join('\n');
}

/** Strings get the user's text, numbers 1, booleans true, enums their first value. */
function sampleInput(schema: unknown, text: string): Json {
  const out: Json = {};
  const props = isRecord(schema) && isRecord(schema.properties) ? schema.properties : {};
  for (const [key, sub] of Object.entries(props)) {
    const s = isRecord(sub) ? sub : {};
    if (Array.isArray(s.enum) && s.enum.length > 0) out[key] = s.enum[0];
    else if (s.type === 'number' || s.type === 'integer') out[key] = 1;
    else if (s.type === 'boolean') out[key] = true;
    else out[key] = text;
  }
  return out;
}

export function validateMessages(body: Json): void {
  if (typeof body.model !== 'string' || body.model === '')
    throw new FakeAnthropicError(400, 'invalid_request_error', 'model: Field required');
  if (typeof body.max_tokens !== 'number')
    throw new FakeAnthropicError(400, 'invalid_request_error', 'max_tokens: Field required');
  if (!Array.isArray(body.messages) || body.messages.length === 0)
    throw new FakeAnthropicError(
      400,
      'invalid_request_error',
      'messages: at least one message is required',
    );
}

/**
 * The reply: after `tool_result` blocks → `tool result: <contents>`; with `tools` and a
 * user turn → a short text then a call to the first (or forced) tool; else `echo: <text>`.
 */
export function planMessage(body: Json, ctx: AnthropicBuildContext): AnthropicPlan {
  const messages = (body.messages as unknown[]).filter(isRecord);
  const last = messages.at(-1);
  const lastBlocks = Array.isArray(last?.content) ? last.content.filter(isRecord) : [];
  const results = lastBlocks.filter((b) => b.type === 'tool_result');
  if (results.length > 0) {
    const text = `tool result: ${results.map((r) => blockText(r.content)).join('; ')}`;
    return { kind: 'text', text, stop: 'end_turn' };
  }
  const userText = blockText(last?.content);
  const tools = Array.isArray(body.tools) ? body.tools.filter(isRecord) : [];
  const choice = isRecord(body.tool_choice) ? body.tool_choice : {};
  const forced =
    typeof choice.name === 'string' ? tools.find((t) => t.name === choice.name) : undefined;
  const tool = choice.type === 'none' ? undefined : (forced ?? tools[0]);
  if (tool !== undefined && last?.role === 'user') {
    return {
      kind: 'tool',
      preface: 'Let me check.',
      name: String(tool.name),
      id: fakeId('toolu_', ctx.seq),
      input: sampleInput(tool.input_schema, userText),
    };
  }
  const text = `echo: ${userText}`;
  const limit = body.max_tokens as number;
  return countTokens(text) > limit
    ? { kind: 'text', text: text.slice(0, limit * 4), stop: 'max_tokens' }
    : { kind: 'text', text, stop: 'end_turn' };
}

const thinkingOn = (body: Json): boolean =>
  isRecord(body.thinking) && body.thinking.type === 'enabled';
export const THINKING_TEXT = 'The user wants a short answer.';

function inputTokens(body: Json): number {
  let total = countTokens(blockText(body.system));
  for (const m of (body.messages as unknown[]).filter(isRecord))
    total += 4 + countTokens(typeof m.content === 'string' ? m.content : JSON.stringify(m.content));
  if (Array.isArray(body.tools)) total += countTokens(JSON.stringify(body.tools));
  return total;
}

/** Content blocks of the reply, in order. */
export function contentBlocks(body: Json, plan: AnthropicPlan): Json[] {
  const blocks: Json[] = [];
  if (thinkingOn(body))
    blocks.push({ type: 'thinking', thinking: THINKING_TEXT, signature: 'sig-fake' });
  if (plan.kind === 'text') blocks.push({ type: 'text', text: plan.text, citations: null });
  else {
    blocks.push({ type: 'text', text: plan.preface, citations: null });
    blocks.push({ type: 'tool_use', id: plan.id, name: plan.name, input: plan.input });
  }
  return blocks;
}

/**
 * Usage as the API reports it: `input_tokens` excludes the cached tokens, which are
 * counted separately in `cache_read_input_tokens` / `cache_creation_input_tokens`.
 */
export function usage(body: Json, plan: AnthropicPlan, ctx: AnthropicBuildContext): Json {
  const visible =
    plan.kind === 'text'
      ? countTokens(plan.text)
      : countTokens(plan.preface) + countTokens(JSON.stringify(plan.input)) + 10;
  const thinking = thinkingOn(body) ? ctx.thinkingTokens : 0;
  return {
    input_tokens: inputTokens(body),
    cache_creation_input_tokens: ctx.cacheCreationTokens,
    cache_read_input_tokens: ctx.cacheReadTokens,
    output_tokens: visible + thinking,
    output_tokens_details: thinkingOn(body) ? { thinking_tokens: thinking } : null,
    service_tier: 'standard',
  };
}

const stopReason = (plan: AnthropicPlan): string => (plan.kind === 'tool' ? 'tool_use' : plan.stop);

export function buildMessage(body: Json, ctx: AnthropicBuildContext): Json {
  const plan = planMessage(body, ctx);
  return {
    id: fakeId('msg_', ctx.seq),
    type: 'message',
    role: 'assistant',
    model: responseModel(String(body.model)),
    content: contentBlocks(body, plan),
    stop_reason: stopReason(plan),
    stop_sequence: null,
    usage: usage(body, plan, ctx),
  };
}

/** Pieces that concatenate back to `text` (at least three when possible, like real deltas). */
export function splitDeltas(text: string): string[] {
  const size = Math.max(1, Math.ceil(text.length / 3));
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out.length > 0 ? out : [''];
}

/** The SSE events (name + data) of a streamed reply. */
export function buildMessageEvents(body: Json, ctx: AnthropicBuildContext): Array<[string, Json]> {
  const plan = planMessage(body, ctx);
  const full = usage(body, plan, ctx);
  const events: Array<[string, Json]> = [];
  const emit = (data: Json): void => {
    events.push([String(data.type), data]);
  };
  emit({
    type: 'message_start',
    message: {
      id: fakeId('msg_', ctx.seq),
      type: 'message',
      role: 'assistant',
      model: responseModel(String(body.model)),
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: {
        input_tokens: full.input_tokens,
        cache_creation_input_tokens: full.cache_creation_input_tokens,
        cache_read_input_tokens: full.cache_read_input_tokens,
        output_tokens: 1,
        service_tier: 'standard',
      },
    },
  });
  emit({ type: 'ping' });
  contentBlocks(body, plan).forEach((block, index) => {
    if (block.type === 'text') {
      emit({
        type: 'content_block_start',
        index,
        content_block: { type: 'text', text: '', citations: null },
      });
      for (const text of splitDeltas(String(block.text)))
        emit({ type: 'content_block_delta', index, delta: { type: 'text_delta', text } });
    } else if (block.type === 'thinking') {
      emit({
        type: 'content_block_start',
        index,
        content_block: { type: 'thinking', thinking: '', signature: '' },
      });
      for (const thinking of splitDeltas(String(block.thinking)))
        emit({ type: 'content_block_delta', index, delta: { type: 'thinking_delta', thinking } });
      emit({
        type: 'content_block_delta',
        index,
        delta: { type: 'signature_delta', signature: 'sig-fake' },
      });
    } else {
      emit({ type: 'content_block_start', index, content_block: { ...block, input: {} } });
      for (const partial_json of splitDeltas(JSON.stringify(block.input)))
        emit({
          type: 'content_block_delta',
          index,
          delta: { type: 'input_json_delta', partial_json },
        });
    }
    emit({ type: 'content_block_stop', index });
  });
  // cumulative usage, as the API sends it on message_delta
  emit({
    type: 'message_delta',
    delta: { stop_reason: stopReason(plan), stop_sequence: null },
    usage: {
      input_tokens: full.input_tokens,
      cache_creation_input_tokens: full.cache_creation_input_tokens,
      cache_read_input_tokens: full.cache_read_input_tokens,
      output_tokens: full.output_tokens,
      output_tokens_details: full.output_tokens_details,
    },
  });
  emit({ type: 'message_stop' });
  return events;
}
