/**
 * Anthropic Messages API (`messages.create`, streamed or not, and the `messages.stream()`
 * / `parse()` helpers built on it) → GenAI semconv.
 */
import type { Attributes } from '@opentelemetry/api';
import type { LlmSpan, ServerInfo } from './llm-span.js';
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
import {
  int,
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

/** Anthropic stop reasons → the schema's FinishReason values. */
export function anthropicFinishReason(reason: string): string {
  switch (reason) {
    case 'end_turn':
    case 'stop_sequence':
      return 'stop';
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_call';
    case 'refusal':
      return 'content_filter';
    default:
      return reason; // pause_turn and future reasons as the API said them
  }
}

function sourcePart(modality: string, source: unknown): Part {
  const s = rec(source);
  const mimeType = str(s.media_type);
  switch (s.type) {
    case 'base64':
      return mediaPart(modality, {
        base64: str(s.data) ?? '',
        ...(mimeType === undefined ? {} : { mimeType }),
      });
    case 'url':
      return mediaPart(modality, { uri: str(s.url) ?? '' });
    case 'file':
      return mediaPart(modality, { fileId: str(s.file_id) ?? '' });
    case 'text':
      // a plain-text document is text the model reads
      return textPart(str(s.data) ?? '');
    default:
      return { type: modality, source: s };
  }
}

/** Tool results: one text block reads as its text; anything richer keeps its parts. */
function toolResult(content: unknown): unknown {
  if (typeof content === 'string') return content;
  const blocks = list(content);
  const only = blocks[0];
  if (blocks.length === 1 && isRec(only) && only.type === 'text') return str(only.text) ?? '';
  return blockParts(blocks);
}

function blockPart(block: unknown): Part | undefined {
  if (typeof block === 'string') return textPart(block);
  if (!isRec(block)) return undefined;
  switch (block.type) {
    case 'text':
      return textPart(str(block.text) ?? '');
    case 'image':
      return sourcePart('image', block.source);
    case 'document':
      return sourcePart('document', block.source);
    case 'tool_use':
      return toolCallPart(str(block.id), str(block.name) ?? '', block.input ?? null);
    case 'tool_result': {
      const part = toolResponsePart(str(block.tool_use_id), toolResult(block.content));
      if (block.is_error === true) part.is_error = true;
      return part;
    }
    case 'thinking':
      return { type: 'reasoning', content: str(block.thinking) ?? '' };
    case 'redacted_thinking':
      return { type: 'reasoning', redacted: true, content: '' };
    default:
      // server tools and their results, search results, containers: kept as sent
      return { ...block, type: str(block.type) ?? 'unknown' };
  }
}

function blockParts(content: unknown): Part[] {
  if (typeof content === 'string') return content === '' ? [] : [textPart(content)];
  const parts: Part[] = [];
  for (const block of list(content)) {
    const part = blockPart(block);
    if (part !== undefined) parts.push(part);
  }
  return parts;
}

export function anthropicInputMessages(messages: unknown): InputMessage[] {
  const out: InputMessage[] = [];
  for (const m of list(messages)) {
    if (!isRec(m)) continue;
    out.push({ role: str(m.role) ?? 'user', parts: blockParts(m.content) });
  }
  return out;
}

function systemParts(system: unknown): Part[] | undefined {
  const parts = blockParts(system);
  return parts.length > 0 ? parts : undefined;
}

export function messagesRequestAttributes(p: Rec): Attributes {
  const attrs: Attributes = {};
  setInt(attrs, ATTR.requestMaxTokens, p.max_tokens);
  setNum(attrs, ATTR.requestTemperature, p.temperature);
  setNum(attrs, ATTR.requestTopP, p.top_p);
  setInt(attrs, ATTR.requestTopK, p.top_k);
  setStrings(attrs, ATTR.requestStopSequences, p.stop_sequences);
  if (p.stream === true) attrs[ATTR.requestStream] = true;
  const format = str(rec(rec(p.output_config).format).type) ?? str(rec(p.output_format).type);
  if (format === 'json_schema') attrs[ATTR.outputType] = 'json';
  return attrs;
}

export function messagesInputs(llm: LlmSpan, p: Rec): void {
  llm.recordChatInputs(anthropicInputMessages(p.messages), systemParts(p.system));
  llm.recordToolDefinitions(p.tools);
}

/**
 * Anthropic's `input_tokens` excludes cached tokens; the conventions' input count
 * includes them (cache read and cache creation are subsets), so they are added back.
 */
export function anthropicUsage(usage: unknown): Attributes {
  const attrs: Attributes = {};
  if (!isRec(usage)) return attrs;
  const input = int(usage.input_tokens);
  const cacheRead = int(usage.cache_read_input_tokens);
  const cacheCreation = int(usage.cache_creation_input_tokens);
  if (input !== undefined)
    attrs[ATTR.usageInputTokens] = input + (cacheRead ?? 0) + (cacheCreation ?? 0);
  setInt(attrs, ATTR.usageOutputTokens, usage.output_tokens);
  setInt(attrs, ATTR.usageCacheReadInputTokens, cacheRead);
  setInt(attrs, ATTR.usageCacheCreationInputTokens, cacheCreation);
  setInt(attrs, ATTR.usageReasoningOutputTokens, rec(usage.output_tokens_details).thinking_tokens);
  return attrs;
}

/** Records a (possibly reassembled) Message. */
export function recordMessage(llm: LlmSpan, message: unknown): void {
  if (!isRec(message)) return;
  const attrs = anthropicUsage(message.usage);
  setStr(attrs, ATTR.responseId, message.id);
  setStr(attrs, ATTR.responseModel, message.model);
  const stop = str(message.stop_reason);
  if (stop !== undefined) attrs[ATTR.responseFinishReasons] = [stop];
  llm.setAttributes(attrs);
  const out: OutputMessage = {
    role: str(message.role) ?? 'assistant',
    parts: blockParts(message.content),
  };
  if (stop !== undefined) out.finish_reason = anthropicFinishReason(stop);
  if (out.parts.length > 0 || stop !== undefined) llm.recordChatOutputs([out]);
}

interface BlockState {
  block: Rec;
  text: string[];
  json: string[];
  thinking: string[];
}

/**
 * Reassembles the SSE events (`message_start`, `content_block_start|delta|stop`,
 * `message_delta`, `message_stop`) into the Message an unstreamed call returns: text,
 * thinking and tool input (`input_json_delta`) concatenated per block, usage from
 * `message_start` updated by the cumulative counts of `message_delta`.
 */
export class MessageStreamRecorder implements StreamRecorder {
  private message: Rec | undefined;
  private usage: Rec = {};
  private stopReason: string | undefined;
  private readonly blocks = new Map<number, BlockState>();

  constructor(private readonly llm: LlmSpan) {}

  chunk(value: unknown): void {
    if (!isRec(value)) return;
    switch (value.type) {
      case 'message_start':
        this.message = rec(value.message);
        this.mergeUsage(this.message.usage);
        break;
      case 'content_block_start': {
        const index = typeof value.index === 'number' ? value.index : this.blocks.size;
        this.blocks.set(index, {
          block: { ...rec(value.content_block) },
          text: [],
          json: [],
          thinking: [],
        });
        break;
      }
      case 'content_block_delta': {
        const state = typeof value.index === 'number' ? this.blocks.get(value.index) : undefined;
        const delta = rec(value.delta);
        if (state === undefined) break;
        if (delta.type === 'text_delta' && typeof delta.text === 'string')
          state.text.push(delta.text);
        else if (delta.type === 'input_json_delta' && typeof delta.partial_json === 'string')
          state.json.push(delta.partial_json);
        else if (delta.type === 'thinking_delta' && typeof delta.thinking === 'string')
          state.thinking.push(delta.thinking);
        break;
      }
      case 'message_delta':
        this.stopReason = str(rec(value.delta).stop_reason) ?? this.stopReason;
        this.mergeUsage(value.usage);
        break;
    }
  }

  private mergeUsage(usage: unknown): void {
    for (const [key, v] of Object.entries(rec(usage)))
      if (v !== null && v !== undefined) this.usage[key] = v;
  }

  flush(): void {
    const content = [...this.blocks.entries()]
      .sort(([a], [b]) => a - b)
      .map(([, s]) => {
        const block = s.block;
        if (block.type === 'text') block.text = (str(block.text) ?? '') + s.text.join('');
        else if (block.type === 'thinking')
          block.thinking = (str(block.thinking) ?? '') + s.thinking.join('');
        else if (s.json.length > 0) block.input = parseArguments(s.json.join(''));
        return block;
      });
    recordMessage(this.llm, {
      ...this.message,
      content,
      stop_reason: this.stopReason ?? null,
      usage: this.usage,
    });
  }
}

export function messagesHandler(
  provider: string,
  server: () => ServerInfo | undefined,
  callContext: CallHandler['callContext'],
): CallHandler {
  return {
    start: (p) => ({
      operation: 'chat',
      provider,
      model: str(p.model),
      server: server(),
      request: messagesRequestAttributes(p),
    }),
    inputs: messagesInputs,
    data(llm, p, data) {
      if (p.stream === true) {
        instrumentStream(data, llm, new MessageStreamRecorder(llm));
        return;
      }
      recordMessage(llm, data);
      llm.end();
    },
    callContext,
  };
}
