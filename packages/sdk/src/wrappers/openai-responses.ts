/**
 * OpenAI Responses API (`responses.create`, also reached by `responses.parse` and
 * `responses.stream`) → GenAI semconv. A response is one assistant turn: its output
 * items (text, tool calls, reasoning, built-in tool calls) become the parts of one
 * output message.
 */
import type { Attributes } from '@opentelemetry/api';
import type { LlmSpan, ServerInfo } from './llm-span.js';
import { instrumentStream, type StreamRecorder } from './observe.js';
import { usageAttributes } from './openai-chat.js';
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
  dataUrl,
  isRec,
  list,
  parseArguments,
  rec,
  setInt,
  setNum,
  setStr,
  str,
  type Rec,
} from './values.js';

function inputContentPart(raw: unknown): Part | undefined {
  if (!isRec(raw)) return typeof raw === 'string' ? textPart(raw) : undefined;
  switch (raw.type) {
    case 'input_text':
    case 'output_text':
    case 'text':
      return textPart(str(raw.text) ?? '');
    case 'refusal':
      return { type: 'refusal', content: str(raw.refusal) ?? '' };
    case 'input_image': {
      const url = str(raw.image_url);
      if (url === undefined) return mediaPart('image', { fileId: str(raw.file_id) ?? '' });
      const inline = dataUrl(url);
      return inline === undefined
        ? mediaPart('image', { uri: url })
        : mediaPart('image', { base64: inline.base64, mimeType: inline.mimeType });
    }
    case 'input_file': {
      const inline = dataUrl(str(raw.file_data) ?? '');
      const url = str(raw.file_url);
      const part =
        inline !== undefined
          ? mediaPart('document', { base64: inline.base64, mimeType: inline.mimeType })
          : url !== undefined
            ? mediaPart('document', { uri: url })
            : mediaPart('document', { fileId: str(raw.file_id) ?? '' });
      const filename = str(raw.filename);
      if (filename !== undefined) part.filename = filename;
      return part;
    }
    case 'input_audio': {
      const audio = rec(raw.input_audio);
      const format = str(audio.format);
      return mediaPart('audio', {
        base64: str(audio.data) ?? '',
        ...(format === undefined ? {} : { mimeType: `audio/${format}` }),
      });
    }
    default:
      return { ...raw, type: str(raw.type) ?? 'unknown' };
  }
}

function contentParts(content: unknown): Part[] {
  if (typeof content === 'string') return content === '' ? [] : [textPart(content)];
  const parts: Part[] = [];
  for (const raw of list(content)) {
    const part = inputContentPart(raw);
    if (part !== undefined) parts.push(part);
  }
  return parts;
}

function reasoningParts(item: Rec): Part[] {
  const texts = [...list(item.summary), ...list(item.content)]
    .map((s) => str(rec(s).text))
    .filter((t): t is string => t !== undefined);
  // an item without summary text (the default) says only that the model reasoned,
  // which the reasoning token count already tells
  return texts.map((content) => ({ type: 'reasoning', content }));
}

/** `input` items: messages, earlier tool calls and their outputs, reasoning, built-in calls. */
export function responsesInputMessages(input: unknown): InputMessage[] {
  if (typeof input === 'string') return [{ role: 'user', parts: [textPart(input)] }];
  const out: InputMessage[] = [];
  for (const item of list(input)) {
    if (!isRec(item)) continue;
    const type = str(item.type);
    if (type === undefined || type === 'message') {
      out.push({ role: str(item.role) ?? 'user', parts: contentParts(item.content) });
    } else if (type === 'function_call' || type === 'custom_tool_call') {
      const args = type === 'function_call' ? parseArguments(item.arguments) : (item.input ?? null);
      out.push({
        role: 'assistant',
        parts: [toolCallPart(str(item.call_id), str(item.name) ?? '', args)],
      });
    } else if (type.endsWith('_call_output')) {
      out.push({ role: 'tool', parts: [toolResponsePart(str(item.call_id), item.output ?? null)] });
    } else if (type === 'reasoning') {
      const parts = reasoningParts(item);
      if (parts.length > 0) out.push({ role: 'assistant', parts });
    } else {
      // built-in tool calls (web_search_call, …) are the model's; item_reference and
      // the like are the caller's
      out.push({ role: type.endsWith('_call') ? 'assistant' : 'user', parts: [{ ...item, type }] });
    }
  }
  return out;
}

/** `instructions`: a string, or input items (prompt templates). */
function systemInstructions(instructions: unknown): Part[] | undefined {
  if (typeof instructions === 'string')
    return instructions === '' ? undefined : [textPart(instructions)];
  if (!Array.isArray(instructions)) return undefined;
  const parts = responsesInputMessages(instructions).flatMap((m) => m.parts);
  return parts.length > 0 ? parts : undefined;
}

function outputType(text: unknown): string | undefined {
  const type = str(rec(rec(text).format).type);
  if (type === 'json_object' || type === 'json_schema') return 'json';
  return type === 'text' ? 'text' : undefined;
}

export function responsesRequestAttributes(p: Rec): Attributes {
  const attrs: Attributes = {};
  setNum(attrs, ATTR.requestTemperature, p.temperature);
  setInt(attrs, ATTR.requestMaxTokens, p.max_output_tokens);
  setNum(attrs, ATTR.requestTopP, p.top_p);
  if (p.stream === true) attrs[ATTR.requestStream] = true;
  setStr(attrs, ATTR.outputType, outputType(p.text));
  setStr(attrs, ATTR.openaiRequestServiceTier, p.service_tier);
  setStr(
    attrs,
    ATTR.conversationId,
    typeof p.conversation === 'string' ? p.conversation : rec(p.conversation).id,
  );
  return attrs;
}

export function responsesInputs(llm: LlmSpan, p: Rec): void {
  llm.recordChatInputs(responsesInputMessages(p.input), systemInstructions(p.instructions));
  llm.recordToolDefinitions(p.tools);
}

/** `completed` → stop (tool_call when the turn ends in a call), `incomplete` → its reason. */
function finishReason(
  response: Rec,
  parts: Part[],
): { raw: string; normalised: string } | undefined {
  const status = str(response.status);
  if (status === undefined) return undefined;
  if (status === 'completed') {
    const calls = parts.some((p) => p.type === 'tool_call');
    return { raw: status, normalised: calls ? 'tool_call' : 'stop' };
  }
  if (status === 'incomplete') {
    const reason = str(rec(response.incomplete_details).reason) ?? status;
    const normalised =
      reason === 'max_output_tokens'
        ? 'length'
        : reason === 'content_filter'
          ? 'content_filter'
          : reason;
    return { raw: reason, normalised };
  }
  if (status === 'failed') return { raw: status, normalised: 'error' };
  return { raw: status, normalised: status };
}

function outputParts(output: unknown): Part[] {
  const parts: Part[] = [];
  for (const item of list(output)) {
    if (!isRec(item)) continue;
    switch (item.type) {
      case 'message':
        parts.push(...contentParts(item.content));
        break;
      case 'function_call':
        parts.push(
          toolCallPart(str(item.call_id), str(item.name) ?? '', parseArguments(item.arguments)),
        );
        break;
      case 'custom_tool_call':
        parts.push(toolCallPart(str(item.call_id), str(item.name) ?? '', item.input ?? null));
        break;
      case 'reasoning':
        parts.push(...reasoningParts(item));
        break;
      default:
        parts.push({ ...item, type: str(item.type) ?? 'unknown' });
    }
  }
  return parts;
}

/** Records a Response object; a `failed` response is an error even though it parsed. */
export function recordResponse(llm: LlmSpan, response: unknown): void {
  if (!isRec(response)) return;
  const attrs = usageAttributes(response.usage);
  setStr(attrs, ATTR.responseId, response.id);
  setStr(attrs, ATTR.responseModel, response.model);
  setStr(attrs, ATTR.openaiResponseServiceTier, response.service_tier);
  const parts = outputParts(response.output);
  const finish = finishReason(response, parts);
  if (finish !== undefined) attrs[ATTR.responseFinishReasons] = [finish.raw];
  llm.setAttributes(attrs);
  if (parts.length > 0 || finish !== undefined) {
    const message: OutputMessage = { role: 'assistant', parts };
    if (finish !== undefined) message.finish_reason = finish.normalised;
    llm.recordChatOutputs([message]);
  }
  if (response.status === 'failed') {
    const error = rec(response.error);
    llm.fail(new ResponseFailedError(str(error.message) ?? 'response failed', str(error.code)));
  }
}

/** Stands for a `failed` response (or an `error` stream event) on the span; never thrown. */
export class ResponseFailedError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'ResponseFailedError';
  }
}

/**
 * Streamed responses end with `response.completed|incomplete|failed`, which carries the
 * whole Response: that is recorded as if unstreamed. A stream broken off before it
 * keeps the text deltas seen so far.
 */
class ResponsesStreamRecorder implements StreamRecorder {
  private final: unknown;
  private started: Rec | undefined;
  private readonly text: string[] = [];
  private error: ResponseFailedError | undefined;

  constructor(private readonly llm: LlmSpan) {}

  chunk(value: unknown): void {
    if (!isRec(value)) return;
    const type = str(value.type);
    if (type === 'response.created') this.started = rec(value.response);
    else if (type === 'response.output_text.delta' && typeof value.delta === 'string')
      this.text.push(value.delta);
    else if (
      type === 'response.completed' ||
      type === 'response.incomplete' ||
      type === 'response.failed'
    )
      this.final = value.response;
    else if (type === 'error')
      this.error = new ResponseFailedError(str(value.message) ?? 'stream error', str(value.code));
  }

  flush(): void {
    if (this.final !== undefined) recordResponse(this.llm, this.final);
    else {
      const attrs: Attributes = {};
      setStr(attrs, ATTR.responseId, this.started?.id);
      setStr(attrs, ATTR.responseModel, this.started?.model);
      this.llm.setAttributes(attrs);
      if (this.text.length > 0)
        this.llm.recordChatOutputs([{ role: 'assistant', parts: [textPart(this.text.join(''))] }]);
    }
    if (this.error !== undefined) this.llm.fail(this.error);
  }
}

export function responsesHandler(
  provider: string,
  server: () => ServerInfo | undefined,
): CallHandler {
  return {
    start: (p) => ({
      operation: 'chat',
      provider,
      model: str(p.model),
      server: server(),
      request: responsesRequestAttributes(p),
    }),
    inputs: responsesInputs,
    data(llm, p, data) {
      if (p.stream === true) {
        instrumentStream(data, llm, new ResponsesStreamRecorder(llm));
        return;
      }
      recordResponse(llm, data);
      llm.end();
    },
  };
}
