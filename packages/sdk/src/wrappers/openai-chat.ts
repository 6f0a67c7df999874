/**
 * OpenAI Chat Completions (`chat.completions.create`, also reached by the SDK's
 * `parse`, `stream` and `runTools` helpers) → GenAI semconv.
 */
import type { Attributes } from '@opentelemetry/api';
import type { LlmSpan } from './llm-span.js';
import { instrumentStream, type StreamRecorder } from './observe.js';
import type { CallHandler } from './patch.js';
import {
  ATTR,
  mediaPart,
  textPart,
  toolCallPart,
  toolResponsePart,
  type InputMessage,
  type OutputMessage,
  type Part,
} from './semconv.js';
import type { ServerInfo } from './llm-span.js';
import {
  dataUrl,
  isRec,
  list,
  parseArguments,
  rec,
  setInt,
  setNum,
  setStr,
  setStrings,
  str,
  type Rec,
} from './values.js';

/** OpenAI finish reasons → the schema's FinishReason values. */
export function openaiFinishReason(reason: string): string {
  switch (reason) {
    case 'tool_calls':
    case 'function_call':
      return 'tool_call';
    default:
      return reason; // stop, length, content_filter already match
  }
}

/** A content part of a chat message (request side). */
function contentPart(raw: unknown): Part | undefined {
  if (typeof raw === 'string') return textPart(raw);
  if (!isRec(raw)) return undefined;
  switch (raw.type) {
    case 'text':
      return textPart(str(raw.text) ?? '');
    case 'refusal':
      return { type: 'refusal', content: str(raw.refusal) ?? '' };
    case 'image_url': {
      const url = str(rec(raw.image_url).url) ?? '';
      const inline = dataUrl(url);
      return inline === undefined
        ? mediaPart('image', { uri: url })
        : mediaPart('image', { base64: inline.base64, mimeType: inline.mimeType });
    }
    case 'input_audio': {
      const audio = rec(raw.input_audio);
      const format = str(audio.format);
      return mediaPart('audio', {
        base64: str(audio.data) ?? '',
        ...(format === undefined ? {} : { mimeType: `audio/${format}` }),
      });
    }
    case 'file': {
      const file = rec(raw.file);
      const inline = dataUrl(str(file.file_data) ?? '');
      const part =
        inline === undefined
          ? mediaPart('document', { fileId: str(file.file_id) ?? '' })
          : mediaPart('document', { base64: inline.base64, mimeType: inline.mimeType });
      const filename = str(file.filename);
      if (filename !== undefined) part.filename = filename;
      return part;
    }
    default:
      return { ...raw, type: str(raw.type) ?? 'unknown' };
  }
}

function contentParts(content: unknown): Part[] {
  if (content === undefined || content === null) return [];
  if (typeof content === 'string') return content === '' ? [] : [textPart(content)];
  const parts: Part[] = [];
  for (const raw of list(content)) {
    const part = contentPart(raw);
    if (part !== undefined) parts.push(part);
  }
  return parts;
}

function toolCallParts(toolCalls: unknown, functionCall: unknown): Part[] {
  const parts: Part[] = [];
  for (const raw of list(toolCalls)) {
    if (!isRec(raw)) continue;
    const fn = rec(raw.function);
    // custom (non-function) tools carry `custom: {name, input}`
    const custom = rec(raw.custom);
    parts.push(
      toolCallPart(
        str(raw.id),
        str(fn.name) ?? str(custom.name) ?? '',
        fn.arguments !== undefined ? parseArguments(fn.arguments) : (custom.input ?? null),
      ),
    );
  }
  if (isRec(functionCall))
    parts.push(
      toolCallPart(undefined, str(functionCall.name) ?? '', parseArguments(functionCall.arguments)),
    );
  return parts;
}

/** Tool results: a string stays a string; text parts are joined (that is what the model reads). */
function toolResponse(content: unknown): unknown {
  if (typeof content === 'string') return content;
  const parts = list(content);
  if (parts.every((p) => isRec(p) && p.type === 'text'))
    return parts.map((p) => str(rec(p).text) ?? '').join('');
  return content ?? null;
}

export function chatInputMessages(messages: unknown): InputMessage[] {
  const out: InputMessage[] = [];
  for (const raw of list(messages)) {
    if (!isRec(raw)) continue;
    const role = str(raw.role) ?? 'user';
    let parts: Part[];
    if (role === 'tool')
      parts = [toolResponsePart(str(raw.tool_call_id), toolResponse(raw.content))];
    else if (role === 'function') parts = [toolResponsePart(undefined, toolResponse(raw.content))];
    else {
      parts = contentParts(raw.content);
      const refusal = str(raw.refusal);
      if (refusal !== undefined && refusal !== '')
        parts.push({ type: 'refusal', content: refusal });
      parts.push(...toolCallParts(raw.tool_calls, raw.function_call));
    }
    const message: InputMessage = { role, parts };
    const name = str(raw.name);
    if (name !== undefined) message.name = name;
    out.push(message);
  }
  return out;
}

function outputType(responseFormat: unknown): string | undefined {
  const type = str(rec(responseFormat).type);
  if (type === 'json_object' || type === 'json_schema') return 'json';
  return type === 'text' ? 'text' : undefined;
}

export function chatRequestAttributes(p: Rec): Attributes {
  const attrs: Attributes = {};
  setNum(attrs, ATTR.requestTemperature, p.temperature);
  setInt(attrs, ATTR.requestMaxTokens, p.max_completion_tokens ?? p.max_tokens);
  setNum(attrs, ATTR.requestTopP, p.top_p);
  setNum(attrs, ATTR.requestFrequencyPenalty, p.frequency_penalty);
  setNum(attrs, ATTR.requestPresencePenalty, p.presence_penalty);
  setStrings(attrs, ATTR.requestStopSequences, p.stop);
  setInt(attrs, ATTR.requestSeed, p.seed);
  if (typeof p.n === 'number' && p.n !== 1) setInt(attrs, ATTR.requestChoiceCount, p.n);
  if (p.stream === true) attrs[ATTR.requestStream] = true;
  setStr(attrs, ATTR.outputType, outputType(p.response_format));
  setStr(attrs, ATTR.openaiRequestServiceTier, p.service_tier);
  return attrs;
}

export function chatInputs(llm: LlmSpan, p: Rec): void {
  llm.recordChatInputs(chatInputMessages(p.messages), undefined);
  llm.recordToolDefinitions(p.tools ?? p.functions);
}

/** Chat and Responses usage, both spellings; cached and reasoning counts are subsets. */
export function usageAttributes(usage: unknown): Attributes {
  const attrs: Attributes = {};
  if (!isRec(usage)) return attrs;
  setInt(attrs, ATTR.usageInputTokens, usage.prompt_tokens ?? usage.input_tokens);
  setInt(attrs, ATTR.usageOutputTokens, usage.completion_tokens ?? usage.output_tokens);
  const inDetails = rec(usage.prompt_tokens_details ?? usage.input_tokens_details);
  const outDetails = rec(usage.completion_tokens_details ?? usage.output_tokens_details);
  setInt(attrs, ATTR.usageCacheReadInputTokens, inDetails.cached_tokens);
  setInt(attrs, ATTR.usageReasoningOutputTokens, outDetails.reasoning_tokens);
  return attrs;
}

/** Records a (possibly reassembled) ChatCompletion. */
export function recordChatCompletion(llm: LlmSpan, completion: unknown): void {
  if (!isRec(completion)) return;
  const attrs = usageAttributes(completion.usage);
  setStr(attrs, ATTR.responseId, completion.id);
  setStr(attrs, ATTR.responseModel, completion.model);
  setStr(attrs, ATTR.openaiResponseSystemFingerprint, completion.system_fingerprint);
  setStr(attrs, ATTR.openaiResponseServiceTier, completion.service_tier);
  const finishReasons: string[] = [];
  const messages: OutputMessage[] = [];
  for (const choice of list(completion.choices)) {
    if (!isRec(choice)) continue;
    const message = rec(choice.message);
    const parts = contentParts(message.content);
    const refusal = str(message.refusal);
    if (refusal !== undefined && refusal !== '') parts.push({ type: 'refusal', content: refusal });
    const audio = str(rec(message.audio).transcript);
    if (audio !== undefined) parts.push(textPart(audio));
    parts.push(...toolCallParts(message.tool_calls, message.function_call));
    const out: OutputMessage = { role: str(message.role) ?? 'assistant', parts };
    const finish = str(choice.finish_reason);
    if (finish !== undefined) {
      finishReasons.push(finish);
      out.finish_reason = openaiFinishReason(finish);
    }
    messages.push(out);
  }
  if (finishReasons.length > 0) attrs[ATTR.responseFinishReasons] = finishReasons;
  llm.setAttributes(attrs);
  if (messages.length > 0) llm.recordChatOutputs(messages);
}

interface ToolCallState {
  id?: string;
  type?: string;
  name: string;
  args: string[];
}

interface ChoiceState {
  role?: string;
  content: string[];
  refusal: string[];
  toolCalls: Map<number, ToolCallState>;
  finish?: string;
}

/**
 * Reassembles streamed chunks into the ChatCompletion the call would have returned
 * unstreamed (content and tool-call arguments concatenated, usage from the final
 * chunk that `stream_options.include_usage` adds), then records it like one.
 */
export class ChatStreamRecorder implements StreamRecorder {
  private id: string | undefined;
  private model: string | undefined;
  private fingerprint: string | undefined;
  private serviceTier: string | undefined;
  private usage: unknown;
  private readonly choices = new Map<number, ChoiceState>();

  constructor(private readonly llm: LlmSpan) {}

  chunk(value: unknown): void {
    if (!isRec(value)) return;
    this.id ??= str(value.id);
    this.model ??= str(value.model);
    this.fingerprint ??= str(value.system_fingerprint);
    this.serviceTier ??= str(value.service_tier);
    if (isRec(value.usage)) this.usage = value.usage;
    for (const raw of list(value.choices)) {
      if (!isRec(raw)) continue;
      const index = typeof raw.index === 'number' ? raw.index : 0;
      let state = this.choices.get(index);
      if (state === undefined) {
        state = { content: [], refusal: [], toolCalls: new Map() };
        this.choices.set(index, state);
      }
      const delta = rec(raw.delta);
      const role = str(delta.role);
      if (role !== undefined) state.role = role;
      if (typeof delta.content === 'string') state.content.push(delta.content);
      if (typeof delta.refusal === 'string') state.refusal.push(delta.refusal);
      for (const tc of list(delta.tool_calls)) {
        if (!isRec(tc)) continue;
        const tcIndex = typeof tc.index === 'number' ? tc.index : 0;
        let call = state.toolCalls.get(tcIndex);
        if (call === undefined) {
          call = { name: '', args: [] };
          state.toolCalls.set(tcIndex, call);
        }
        call.id ??= str(tc.id);
        call.type ??= str(tc.type);
        const fn = rec(tc.function);
        const name = str(fn.name);
        if (name !== undefined) call.name += name;
        if (typeof fn.arguments === 'string') call.args.push(fn.arguments);
      }
      const finish = str(raw.finish_reason);
      if (finish !== undefined) state.finish = finish;
    }
  }

  flush(): void {
    const choices = [...this.choices.entries()]
      .sort(([a], [b]) => a - b)
      .map(([index, s]) => {
        const message: Rec = {
          role: s.role ?? 'assistant',
          content: s.content.length > 0 ? s.content.join('') : null,
        };
        if (s.refusal.length > 0) message.refusal = s.refusal.join('');
        if (s.toolCalls.size > 0)
          message.tool_calls = [...s.toolCalls.entries()]
            .sort(([a], [b]) => a - b)
            .map(([, c]) => ({
              id: c.id,
              type: c.type ?? 'function',
              function: { name: c.name, arguments: c.args.join('') },
            }));
        return { index, message, finish_reason: s.finish ?? null };
      });
    recordChatCompletion(this.llm, {
      id: this.id,
      model: this.model,
      system_fingerprint: this.fingerprint,
      service_tier: this.serviceTier,
      usage: this.usage,
      choices,
    });
  }
}

export function chatHandler(provider: string, server: () => ServerInfo | undefined): CallHandler {
  return {
    start: (p) => ({
      operation: 'chat',
      provider,
      model: str(p.model),
      server: server(),
      request: chatRequestAttributes(p),
    }),
    inputs: chatInputs,
    data(llm, p, data) {
      if (p.stream === true) {
        instrumentStream(data, llm, new ChatStreamRecorder(llm));
        return;
      }
      recordChatCompletion(llm, data);
      llm.end();
    },
  };
}
