/**
 * `wrapOpenAI(client)`: GenAI-semconv spans for `chat.completions.create`,
 * `responses.create` and `embeddings.create` of one `openai` client (v5/v6), including
 * the SDK helpers built on them (`parse`, `stream`, `runTools`). The client is patched
 * in place and returned, so its type and every other method stay exactly as they were;
 * `withOptions()` copies come back wrapped too.
 */
import type OpenAI from 'openai';
import type { Attributes } from '@opentelemetry/api';
import { serverInfo, type LlmSpan, type ServerInfo } from './llm-span.js';
import { chatHandler } from './openai-chat.js';
import { responsesHandler } from './openai-responses.js';
import {
  markClient,
  patchMethod,
  tracedMethod,
  wrapClientInPlace,
  type CallHandler,
} from './patch.js';
import { ATTR } from './semconv.js';
import { isRec, list, rec, setInt, setStr, str, type Rec } from './values.js';

/** Azure OpenAI is its own provider in the conventions (`azure.ai.openai`). */
function providerOf(client: object): string {
  const name = (client.constructor as { name?: unknown } | undefined)?.name;
  const baseURL = (client as { baseURL?: unknown }).baseURL;
  if (name === 'AzureOpenAI') return 'azure.ai.openai';
  if (typeof baseURL === 'string' && /\.openai\.azure\.com(?::\d+)?(\/|$)/.test(baseURL))
    return 'azure.ai.openai';
  return 'openai';
}

function embeddingsRequestAttributes(p: Rec): Attributes {
  const attrs: Attributes = {};
  setInt(attrs, ATTR.embeddingsDimensionCount, p.dimensions);
  if (typeof p.encoding_format === 'string')
    attrs[ATTR.requestEncodingFormats] = [p.encoding_format];
  return attrs;
}

/** The vectors stay out of the span (large, and useless to a reviewer): counts only. */
function recordEmbeddings(llm: LlmSpan, response: unknown): void {
  if (!isRec(response)) return;
  const attrs: Attributes = {};
  setStr(attrs, ATTR.responseModel, response.model);
  const usage = rec(response.usage);
  setInt(attrs, ATTR.usageInputTokens, usage.prompt_tokens ?? usage.input_tokens);
  const data = list(response.data);
  const first = rec(data[0]).embedding;
  // a vector, or base64 float32 when the caller asked for encoding_format: 'base64'
  const dimensions = Array.isArray(first)
    ? first.length
    : typeof first === 'string'
      ? Math.floor(Buffer.byteLength(first, 'base64') / 4)
      : undefined;
  setInt(attrs, ATTR.embeddingsDimensionCount, dimensions);
  llm.setAttributes(attrs);
  llm.recordPayload('outputs', {
    embeddings: data.length,
    ...(dimensions === undefined ? {} : { dimensions }),
  });
}

function embeddingsHandler(provider: string, server: () => ServerInfo | undefined): CallHandler {
  return {
    start: (p) => ({
      operation: 'embeddings',
      provider,
      model: str(p.model),
      server: server(),
      request: embeddingsRequestAttributes(p),
    }),
    inputs: (llm, p) => llm.recordPayload('inputs', { input: p.input }),
    data(llm, _p, data) {
      recordEmbeddings(llm, data);
      llm.end();
    },
  };
}

function instrument(client: unknown): void {
  if (!markClient(client)) return;
  const c = client as Record<string, unknown> & object;
  const provider = providerOf(c);
  let server: ServerInfo | undefined | null = null;
  const serverOf = (): ServerInfo | undefined => {
    if (server === null) server = serverInfo(c.baseURL);
    return server;
  };
  patchMethod(rec(c.chat).completions, 'create', (original) =>
    tracedMethod(original, chatHandler(provider, serverOf)),
  );
  patchMethod(c.responses, 'create', (original) =>
    tracedMethod(original, responsesHandler(provider, serverOf)),
  );
  patchMethod(c.embeddings, 'create', (original) =>
    tracedMethod(original, embeddingsHandler(provider, serverOf)),
  );
}

/**
 * Traces the client's LLM calls as OpenTelemetry GenAI spans (current semantic
 * conventions; `loupe.run_type` = llm / embedding). Returns the same client, instrumented
 * in place. Does nothing per call beyond a recording check while no tracer provider is
 * registered; never throws; the caller gets the SDK's own return values and errors.
 */
export function wrapOpenAI<T extends OpenAI>(client: T): T {
  return wrapClientInPlace(client, 'wrapOpenAI', instrument);
}
