/**
 * OpenTelemetry GenAI semantic conventions (status: Development) as the wrappers emit
 * them: names copied rather than imported, because `@opentelemetry/semantic-conventions`
 * ships the GenAI names only from its `incubating` entry point, which changes without
 * notice. Message content follows the JSON schemas of `gen_ai.input.messages` /
 * `gen_ai.output.messages` and is written as JSON text ("MAY be a JSON string on spans
 * if structured attributes are not supported" — the OTel JS API has no structured
 * attribute values).
 */

export const ATTR = {
  operationName: 'gen_ai.operation.name',
  providerName: 'gen_ai.provider.name',
  conversationId: 'gen_ai.conversation.id',
  outputType: 'gen_ai.output.type',
  requestModel: 'gen_ai.request.model',
  requestTemperature: 'gen_ai.request.temperature',
  requestMaxTokens: 'gen_ai.request.max_tokens',
  requestTopP: 'gen_ai.request.top_p',
  requestTopK: 'gen_ai.request.top_k',
  requestStopSequences: 'gen_ai.request.stop_sequences',
  requestFrequencyPenalty: 'gen_ai.request.frequency_penalty',
  requestPresencePenalty: 'gen_ai.request.presence_penalty',
  requestSeed: 'gen_ai.request.seed',
  requestChoiceCount: 'gen_ai.request.choice.count',
  requestStream: 'gen_ai.request.stream',
  requestEncodingFormats: 'gen_ai.request.encoding_formats',
  responseModel: 'gen_ai.response.model',
  responseId: 'gen_ai.response.id',
  responseFinishReasons: 'gen_ai.response.finish_reasons',
  responseTimeToFirstChunk: 'gen_ai.response.time_to_first_chunk',
  usageInputTokens: 'gen_ai.usage.input_tokens',
  usageOutputTokens: 'gen_ai.usage.output_tokens',
  usageCacheReadInputTokens: 'gen_ai.usage.cache_read.input_tokens',
  // the semconv-genai repo renamed this to cache_write; the Loupe collector reads both,
  // and this is the name the published (v1.x) conventions and most backends know
  usageCacheCreationInputTokens: 'gen_ai.usage.cache_creation.input_tokens',
  usageReasoningOutputTokens: 'gen_ai.usage.reasoning.output_tokens',
  embeddingsDimensionCount: 'gen_ai.embeddings.dimension.count',
  inputMessages: 'gen_ai.input.messages',
  outputMessages: 'gen_ai.output.messages',
  systemInstructions: 'gen_ai.system_instructions',
  toolDefinitions: 'gen_ai.tool.definitions',
  serverAddress: 'server.address',
  serverPort: 'server.port',
  errorType: 'error.type',
  openaiRequestServiceTier: 'openai.request.service_tier',
  openaiResponseServiceTier: 'openai.response.service_tier',
  openaiResponseSystemFingerprint: 'openai.response.system_fingerprint',
} as const;

export type Operation = 'chat' | 'embeddings';

/** One part of a message (schema: TextPart, ToolCallRequestPart, ToolCallResponsePart, BlobPart, UriPart, FilePart, ReasoningPart, GenericPart). */
export type Part = { type: string } & Record<string, unknown>;

export interface InputMessage {
  role: string;
  parts: Part[];
  name?: string;
}

export interface OutputMessage extends InputMessage {
  /** the schema's FinishReason: stop | length | content_filter | tool_call | error (or a provider value) */
  finish_reason?: string;
}

export const textPart = (content: string): Part => ({ type: 'text', content });

export const toolCallPart = (id: string | undefined, name: string, args: unknown): Part =>
  id === undefined
    ? { type: 'tool_call', name, arguments: args }
    : { type: 'tool_call', id, name, arguments: args };

export const toolResponsePart = (id: string | undefined, response: unknown): Part =>
  id === undefined
    ? { type: 'tool_call_response', response }
    : { type: 'tool_call_response', id, response };

/** The media part for inline bytes, a URL, or a provider file id. */
export function mediaPart(
  modality: string,
  source: { base64?: string; uri?: string; fileId?: string; mimeType?: string },
): Part {
  const part: Part =
    source.base64 !== undefined
      ? { type: 'blob', modality, content: source.base64 }
      : source.uri !== undefined
        ? { type: 'uri', modality, uri: source.uri }
        : { type: 'file', modality, file_id: source.fileId ?? null };
  if (source.mimeType !== undefined) part.mime_type = source.mimeType;
  return part;
}
