// Pure response builders for the fake OpenAI server (see fake-openai.ts).
// Everything here is deterministic: the same request body (and context) gives the same JSON.
// Field names and shapes follow the public OpenAI API so that the official `openai` client and
// the OTel / OpenInference / Traceloop instrumentations parse them exactly as they would in production.

export type Json = Record<string, unknown>;

/** An HTTP error carrying OpenAI's error envelope. Thrown by builders, rendered by the server. */
export class FakeOpenAIError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string = 'invalid_request_error',
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
  }

  toJSON(): {
    error: { message: string; type: string; param: string | null; code: string | null };
  } {
    return {
      error: { message: this.message, type: this.type, param: this.param, code: this.code },
    };
  }
}

/** Per-request values the server decides (ids come from a per-server counter, so they are stable). */
export interface BuildContext {
  seq: number;
  created: number;
  cachedTokens: number;
  reasoningTokens: number;
  /** Scripted assistant text (setScript `content`), replacing the derived reply. */
  contentOverride?: string | undefined;
}

export type ReplyPlan =
  | { kind: 'text'; text: string; truncated: boolean }
  | { kind: 'tool'; name: string; args: string; callId: string };

// ---------------------------------------------------------------------------------------------
// Small deterministic helpers

export const isRecord = (v: unknown): v is Json =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** 32-bit FNV-1a. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Crude but stable token estimate (~4 chars per token). */
export const countTokens = (text: string): number =>
  text.length === 0 ? 0 : Math.max(1, Math.ceil(text.length / 4));

const DATED_MODELS: Record<string, string> = {
  'gpt-4o-mini': 'gpt-4o-mini-2024-07-18',
  'gpt-4o': 'gpt-4o-2024-08-06',
  'gpt-4.1': 'gpt-4.1-2025-04-14',
  'gpt-4.1-mini': 'gpt-4.1-mini-2025-04-14',
  'gpt-4.1-nano': 'gpt-4.1-nano-2025-04-14',
  'gpt-4-turbo': 'gpt-4-turbo-2024-04-09',
  'gpt-3.5-turbo': 'gpt-3.5-turbo-0125',
  'gpt-5': 'gpt-5-2025-08-07',
  'gpt-5-mini': 'gpt-5-mini-2025-08-07',
  'gpt-5-nano': 'gpt-5-nano-2025-08-07',
  o1: 'o1-2024-12-17',
  o3: 'o3-2025-04-16',
  'o3-mini': 'o3-mini-2025-01-31',
  'o4-mini': 'o4-mini-2025-04-16',
};

/** The model name the API reports back: a dated snapshot of the requested alias. */
export function datedModel(model: string): string {
  const known = DATED_MODELS[model];
  if (known !== undefined) return known;
  if (/-\d{4}-\d{2}-\d{2}$/.test(model) || /-\d{4}$/.test(model)) return model;
  return `${model}-2024-07-18`;
}

export const isReasoningModel = (model: string): boolean => /^(o\d|gpt-5)/.test(model);

export const systemFingerprint = (model: string): string =>
  `fp_${fnv1a(model).toString(16).padStart(8, '0')}${(fnv1a(`${model}#`) & 0xff).toString(16).padStart(2, '0')}`;

export const fakeId = (prefix: string, seq: number): string =>
  `${prefix}fake${seq.toString().padStart(6, '0')}${fnv1a(`${prefix}${seq}`).toString(36)}`;

/** Text of a chat/responses `content` value: string, or array of text parts. */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((part) => (isRecord(part) ? (str(part.text) ?? str(part.refusal) ?? '') : ''))
    .filter((t) => t.length > 0)
    .join('\n');
}

/** Split text into stream deltas that concatenate back to it (word-ish, like real token streams). */
export function splitDeltas(text: string, minPieces = 3): string[] {
  let pieces: string[] = text.match(/\s*\S+|\s+$/g) ?? [];
  if (pieces.length < minPieces && text.length >= minPieces) {
    const size = Math.ceil(text.length / minPieces);
    pieces = [];
    for (let i = 0; i < text.length; i += size) pieces.push(text.slice(i, i + size));
  }
  return pieces.length > 0 ? pieces : [text];
}

/** Deterministic value for a JSON schema: strings get `text`, numbers 1, booleans true, enums their first value. */
export function sampleForSchema(schema: unknown, text: string, depth = 0): unknown {
  if (!isRecord(schema) || depth > 6) return text;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  if (schema.const !== undefined) return schema.const;
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  switch (type) {
    case 'number':
    case 'integer':
      return 1;
    case 'boolean':
      return true;
    case 'array':
      return [sampleForSchema(schema.items, text, depth + 1)];
    case 'null':
      return null;
    case 'object': {
      const out: Json = {};
      const props = isRecord(schema.properties) ? schema.properties : {};
      for (const [key, sub] of Object.entries(props))
        out[key] = sampleForSchema(sub, text, depth + 1);
      return out;
    }
    default:
      return isRecord(schema.properties)
        ? sampleForSchema({ ...schema, type: 'object' }, text, depth)
        : text;
  }
}

export function truncateToTokens(
  text: string,
  limit: unknown,
): { text: string; truncated: boolean } {
  if (typeof limit !== 'number' || limit <= 0 || countTokens(text) <= limit)
    return { text, truncated: false };
  return { text: text.slice(0, limit * 4), truncated: true };
}

export function requireModel(body: Json): string {
  const model = str(body.model);
  if (model === undefined || model.length === 0) {
    throw new FakeOpenAIError(
      400,
      'you must provide a model parameter',
      'invalid_request_error',
      null,
      null,
    );
  }
  return model;
}

const missing = (param: string): FakeOpenAIError =>
  new FakeOpenAIError(
    400,
    `Missing required parameter: '${param}'.`,
    'invalid_request_error',
    param,
    'missing_required_parameter',
  );

/** Picks the tool to call: a forced function choice, else the first function tool; undefined when tools are off. */
export function pickTool(
  tools: unknown[],
  toolChoice: unknown,
  nameOf: (t: Json) => string | undefined,
): Json | undefined {
  if (toolChoice === 'none') return undefined;
  const fns = tools
    .filter(isRecord)
    .filter((t) => t.type === 'function' && nameOf(t) !== undefined);
  if (isRecord(toolChoice)) {
    const forced = str(isRecord(toolChoice.function) ? toolChoice.function.name : toolChoice.name);
    if (forced !== undefined) return fns.find((t) => nameOf(t) === forced) ?? fns[0];
  }
  return fns[0];
}

// ---------------------------------------------------------------------------------------------
// Chat Completions

export function planChat(body: Json, ctx: BuildContext): ReplyPlan {
  const messages = Array.isArray(body.messages) ? body.messages.filter(isRecord) : [];
  const last = messages.at(-1);
  const limit = body.max_completion_tokens ?? body.max_tokens;
  if (ctx.contentOverride !== undefined)
    return { kind: 'text', ...truncateToTokens(ctx.contentOverride, limit) };
  if (last?.role === 'tool') {
    const results: string[] = [];
    for (let i = messages.length - 1; i >= 0 && messages[i]?.role === 'tool'; i--) {
      results.unshift(contentText(messages[i]?.content));
    }
    return { kind: 'text', ...truncateToTokens(`tool result: ${results.join('; ')}`, limit) };
  }
  const userText = contentText([...messages].reverse().find((m) => m.role === 'user')?.content);
  const tools = Array.isArray(body.tools) ? body.tools : [];
  const tool =
    last?.role === 'user'
      ? pickTool(tools, body.tool_choice, (t) =>
          isRecord(t.function) ? str(t.function.name) : undefined,
        )
      : undefined;
  if (tool !== undefined && isRecord(tool.function)) {
    const args = sampleForSchema(tool.function.parameters ?? { type: 'object' }, userText);
    return {
      kind: 'tool',
      name: String(tool.function.name),
      args: JSON.stringify(isRecord(args) ? args : {}),
      callId: fakeId('call_', ctx.seq),
    };
  }
  return { kind: 'text', ...truncateToTokens(`echo: ${userText}`, limit) };
}

function chatPromptTokens(body: Json): number {
  const messages = Array.isArray(body.messages) ? body.messages.filter(isRecord) : [];
  let total = 3;
  for (const m of messages) {
    total += 4 + countTokens(contentText(m.content));
    if (m.tool_calls !== undefined) total += countTokens(JSON.stringify(m.tool_calls));
  }
  if (Array.isArray(body.tools) && body.tools.length > 0)
    total += countTokens(JSON.stringify(body.tools));
  return total;
}

function chatUsage(body: Json, plan: ReplyPlan, ctx: BuildContext, choices: number): Json {
  const model = String(body.model);
  const prompt = chatPromptTokens(body);
  const reasoning = isReasoningModel(model) ? ctx.reasoningTokens : 0;
  const visible =
    plan.kind === 'text'
      ? countTokens(plan.text)
      : countTokens(plan.name) + countTokens(plan.args) + 7;
  const completion = (visible + reasoning) * choices;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: Math.min(ctx.cachedTokens, prompt), audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: reasoning * choices,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

export function validateChat(body: Json): void {
  requireModel(body);
  if (!Array.isArray(body.messages)) throw missing('messages');
  if (body.messages.length === 0) {
    throw new FakeOpenAIError(
      400,
      "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
      'invalid_request_error',
      'messages',
      'empty_array',
    );
  }
}

const choiceCount = (body: Json): number =>
  typeof body.n === 'number' && body.n >= 1 ? Math.min(Math.floor(body.n), 8) : 1;

export function buildChatCompletion(body: Json, ctx: BuildContext): Json {
  const plan = planChat(body, ctx);
  const model = String(body.model);
  const message: Json =
    plan.kind === 'text'
      ? { role: 'assistant', content: plan.text, refusal: null, annotations: [] }
      : {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: plan.callId,
              type: 'function',
              function: { name: plan.name, arguments: plan.args },
            },
          ],
          refusal: null,
          annotations: [],
        };
  const finish = plan.kind === 'tool' ? 'tool_calls' : plan.truncated ? 'length' : 'stop';
  const n = choiceCount(body);
  return {
    id: fakeId('chatcmpl-', ctx.seq),
    object: 'chat.completion',
    created: ctx.created,
    model: datedModel(model),
    choices: Array.from({ length: n }, (_, index) => ({
      index,
      message,
      logprobs: null,
      finish_reason: finish,
    })),
    usage: chatUsage(body, plan, ctx, n),
    service_tier: 'default',
    system_fingerprint: systemFingerprint(model),
  };
}

/** The `data:` payloads of a streamed chat completion (without the trailing `[DONE]`). */
export function buildChatChunks(body: Json, ctx: BuildContext): Json[] {
  const plan = planChat(body, ctx);
  const model = String(body.model);
  const includeUsage = isRecord(body.stream_options) && body.stream_options.include_usage === true;
  const base = {
    id: fakeId('chatcmpl-', ctx.seq),
    object: 'chat.completion.chunk',
    created: ctx.created,
    model: datedModel(model),
    service_tier: 'default',
    system_fingerprint: systemFingerprint(model),
  };
  const chunk = (index: number, delta: Json, finish: string | null = null): Json => ({
    ...base,
    choices: [{ index, delta, logprobs: null, finish_reason: finish }],
    ...(includeUsage ? { usage: null } : {}),
  });
  const n = choiceCount(body);
  const chunks: Json[] = [];
  for (let index = 0; index < n; index++) {
    if (plan.kind === 'text') {
      chunks.push(chunk(index, { role: 'assistant', content: '', refusal: null }));
      for (const piece of splitDeltas(plan.text)) chunks.push(chunk(index, { content: piece }));
      chunks.push(chunk(index, {}, plan.truncated ? 'length' : 'stop'));
    } else {
      chunks.push(
        chunk(index, {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              index: 0,
              id: plan.callId,
              type: 'function',
              function: { name: plan.name, arguments: '' },
            },
          ],
          refusal: null,
        }),
      );
      for (const piece of splitDeltas(plan.args)) {
        chunks.push(chunk(index, { tool_calls: [{ index: 0, function: { arguments: piece } }] }));
      }
      chunks.push(chunk(index, {}, 'tool_calls'));
    }
  }
  if (includeUsage) chunks.push({ ...base, choices: [], usage: chatUsage(body, plan, ctx, n) });
  return chunks;
}

// ---------------------------------------------------------------------------------------------
// Embeddings

/** Unit-length vector seeded from the text; values are float32-exact so float and base64 agree. */
export function embeddingVector(text: string, dimensions: number): number[] {
  let state = fnv1a(text) || 1;
  const raw: number[] = [];
  for (let i = 0; i < dimensions; i++) {
    state = (state + 0x6d2b79f5) >>> 0; // mulberry32
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    raw.push(((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5);
  }
  const norm = Math.hypot(...raw) || 1;
  return raw.map((v) => Math.fround(v / norm));
}

export function buildEmbeddings(body: Json, defaultDimensions: number): Json {
  const model = requireModel(body);
  const input = body.input;
  if (input === undefined || input === null) throw missing('input');
  let texts: string[];
  if (typeof input === 'string') texts = [input];
  else if (Array.isArray(input) && input.every((x) => typeof x === 'number'))
    texts = [input.join(' ')];
  else if (Array.isArray(input))
    texts = input.map((x) => (typeof x === 'string' ? x : JSON.stringify(x)));
  else
    throw new FakeOpenAIError(
      400,
      "'input' must be a string or an array",
      'invalid_request_error',
      'input',
      null,
    );
  if (texts.length === 0) {
    throw new FakeOpenAIError(
      400,
      "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
      'invalid_request_error',
      null,
      null,
    );
  }
  const dims =
    typeof body.dimensions === 'number' && body.dimensions > 0
      ? Math.floor(body.dimensions)
      : defaultDimensions;
  const base64 = body.encoding_format === 'base64';
  const promptTokens = texts.reduce((sum, t) => sum + countTokens(t), 0);
  return {
    object: 'list',
    data: texts.map((text, index) => {
      const vector = embeddingVector(text, dims);
      let embedding: number[] | string = vector;
      if (base64) {
        const buf = Buffer.alloc(vector.length * 4);
        vector.forEach((v, i) => buf.writeFloatLE(v, i * 4));
        embedding = buf.toString('base64');
      }
      return { object: 'embedding', index, embedding };
    }),
    model,
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
  };
}
