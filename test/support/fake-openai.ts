// A local, deterministic OpenAI-compatible HTTP server for tests: a stand-in for the hosted API,
// built on node:http only, bound to 127.0.0.1 on an ephemeral port.
//
//   const fake = await startFakeOpenAI();
//   const client = new OpenAI({ baseURL: fake.url, apiKey: 'test' });
//   ...
//   await fake.close();
//
// Behaviour (see fake-openai-fixtures.ts / fake-openai-responses.ts for the exact shapes):
// - POST /v1/chat/completions  reply `echo: <last user text>`; with `tools` and a trailing user
//   message, one call to the first (or forced) function tool with arguments derived from its JSON
//   schema; after trailing `tool` messages, `tool result: <contents>`. `stream: true` gives SSE
//   chunks (+ a usage chunk with `stream_options.include_usage`) and `data: [DONE]`.
// - POST /v1/embeddings        unit vectors derived from the text (float or base64).
// - POST /v1/responses         Responses API, non-streamed and streamed (`response.*` events).
// - GET  /v1/models            a short model list.
// - model `bad-model` → 404 model_not_found; unknown route → 404 "Invalid URL"; bad JSON → 400.
// - setScript() queues one-shot failures (429/500/...), delays or canned reply text.
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type BuildContext,
  type Json,
  FakeOpenAIError,
  buildChatChunks,
  buildChatCompletion,
  buildEmbeddings,
  fnv1a,
  isRecord,
  validateChat,
} from './fake-openai-fixtures.js';
import { buildResponse, buildResponseEvents, validateResponses } from './fake-openai-responses.js';

export { FakeOpenAIError } from './fake-openai-fixtures.js';

export interface RecordedRequest {
  method: string;
  /** URL pathname, e.g. `/v1/chat/completions`. */
  path: string;
  /** Raw request target including any query string. */
  url: string;
  /** Lower-cased header names; repeated headers joined with `, `. */
  headers: Record<string, string>;
  /** Parsed JSON body; `undefined` when the body is empty or not JSON. */
  body: unknown;
  rawBody: string;
}

/**
 * One scripted step, consumed by the first later request whose path matches. Steps are used in
 * order; a request with no matching step gets the normal deterministic behaviour.
 */
export interface ScriptStep {
  /** Exact pathname or path suffix (e.g. `/chat/completions`); omitted → matches any request. */
  path?: string;
  /** Wait this long before answering (before any error, too). */
  delayMs?: number;
  /** Answer with this HTTP error status (e.g. 429, 500, 503) and OpenAI's error JSON. */
  status?: number;
  /** Override parts of the error envelope; defaults depend on `status`. */
  error?: { message?: string; type?: string; param?: string | null; code?: string | null };
  /** `retry-after-ms` header on the error; defaults to 0 for 429 and 5xx so client retries are instant. */
  retryAfterMs?: number;
  /** Sets `x-should-retry: true|false`, which the openai client obeys. */
  shouldRetry?: boolean;
  /** On success: assistant text to return instead of the derived reply (chat + responses). */
  content?: string;
}

export interface FakeOpenAIOptions {
  /** Embedding size when the request has no `dimensions`. Default 8. */
  embeddingDimensions?: number;
  /** Unix seconds reported as `created` / `created_at`. Default 1735689600 (fixed, for determinism). */
  created?: number;
  /** Delay between SSE events. Default 0. */
  chunkDelayMs?: number;
  /** Reported `cached_tokens` (clamped to the prompt size). Default 0. */
  cachedTokens?: number;
  /** Reasoning tokens reported for reasoning models (`o1`, `o3`, `gpt-5`, ...). Default 64. */
  reasoningTokens?: number;
  /** Models that answer 404 model_not_found. Default `['bad-model']`. */
  missingModels?: string[];
}

export interface FakeOpenAI {
  /** Base URL ending in `/v1`, e.g. `http://127.0.0.1:54321/v1`. */
  url: string;
  /** Every request received, in arrival order (live array; `requests.length = 0` clears it). */
  requests: RecordedRequest[];
  /** Replaces the queue of scripted steps. */
  setScript(steps: ScriptStep[]): void;
  close(): Promise<void>;
}

const INVALID_JSON =
  "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)";

const MODELS = ['gpt-4o-mini', 'gpt-4o', 'gpt-4.1-mini', 'o3-mini', 'text-embedding-3-small'];

function flattenHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers)) {
    if (value !== undefined) out[key] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function scriptedError(step: ScriptStep & { status: number }, body: unknown): FakeOpenAIError {
  const model = isRecord(body) && typeof body.model === 'string' ? body.model : 'gpt-4o-mini';
  const defaults =
    step.status === 429
      ? {
          message: `Rate limit reached for ${model} in organization org-fake on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s.`,
          type: 'requests',
          code: 'rate_limit_exceeded',
        }
      : step.status === 503
        ? {
            message: 'The server is overloaded or not ready yet.',
            type: 'server_error',
            code: null,
          }
        : step.status >= 500
          ? {
              message: 'The server had an error while processing your request. Sorry about that!',
              type: 'server_error',
              code: null,
            }
          : { message: `Scripted error ${step.status}`, type: 'invalid_request_error', code: null };
  const e = { ...defaults, param: null, ...step.error };
  return new FakeOpenAIError(step.status, e.message, e.type, e.param, e.code);
}

export async function startFakeOpenAI(options: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
  const requests: RecordedRequest[] = [];
  let script: ScriptStep[] = [];
  let seq = 0;
  const created = options.created ?? 1_735_689_600;
  const missingModels = new Set(options.missingModels ?? ['bad-model']);
  const chunkDelayMs = options.chunkDelayMs ?? 0;

  const baseHeaders = (n: number): Record<string, string> => ({
    'x-request-id': `req_${fnv1a(`req${n}`).toString(16).padStart(8, '0')}${n.toString(16).padStart(8, '0')}`,
    'openai-processing-ms': '1',
    'openai-version': '2020-10-01',
  });

  function sendJson(
    res: ServerResponse,
    n: number,
    status: number,
    payload: unknown,
    extra: Record<string, string> = {},
  ): void {
    const text = JSON.stringify(payload);
    res.writeHead(status, {
      ...baseHeaders(n),
      ...extra,
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(text)),
    });
    res.end(text);
  }

  async function sendSse(res: ServerResponse, n: number, frames: string[]): Promise<void> {
    res.writeHead(200, {
      ...baseHeaders(n),
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    for (const [i, frame] of frames.entries()) {
      if (res.destroyed) return;
      if (i > 0 && chunkDelayMs > 0) await sleep(chunkDelayMs);
      res.write(frame);
    }
    res.end();
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rawBody = await readBody(req);
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    let body: unknown;
    let invalidJson = false;
    if (rawBody.length > 0) {
      try {
        body = JSON.parse(rawBody) as unknown;
      } catch {
        invalidJson = true;
      }
    }
    requests.push({
      method,
      path: url.pathname,
      url: req.url ?? '/',
      headers: flattenHeaders(req.headers),
      body,
      rawBody,
    });
    const n = ++seq;

    const stepIndex = script.findIndex(
      (s) => s.path === undefined || path === s.path || path.endsWith(s.path),
    );
    const step = stepIndex >= 0 ? script.splice(stepIndex, 1)[0] : undefined;
    if (step?.delayMs !== undefined && step.delayMs > 0) await sleep(step.delayMs);
    if (step?.status !== undefined && step.status >= 400) {
      const err = scriptedError({ ...step, status: step.status }, body);
      const extra: Record<string, string> = {};
      const retryAfter =
        step.retryAfterMs ?? (step.status === 429 || step.status >= 500 ? 0 : undefined);
      if (retryAfter !== undefined) extra['retry-after-ms'] = String(retryAfter);
      if (step.shouldRetry !== undefined) extra['x-should-retry'] = String(step.shouldRetry);
      sendJson(res, n, err.status, err.toJSON(), extra);
      return;
    }

    const route = `${method} ${path}`;
    if (route === 'GET /v1/models') {
      const data = MODELS.map((id) => ({ id, object: 'model', created, owned_by: 'system' }));
      sendJson(res, n, 200, { object: 'list', data });
      return;
    }
    const known = ['POST /v1/chat/completions', 'POST /v1/embeddings', 'POST /v1/responses'];
    if (!known.includes(route)) {
      sendJson(
        res,
        n,
        404,
        new FakeOpenAIError(404, `Invalid URL (${method} ${url.pathname})`).toJSON(),
      );
      return;
    }
    if (invalidJson || !isRecord(body)) {
      sendJson(res, n, 400, new FakeOpenAIError(400, INVALID_JSON).toJSON());
      return;
    }
    if (typeof body.model === 'string' && missingModels.has(body.model)) {
      const msg = `The model \`${body.model}\` does not exist`;
      sendJson(
        res,
        n,
        404,
        new FakeOpenAIError(404, msg, 'invalid_request_error', null, 'model_not_found').toJSON(),
      );
      return;
    }

    const ctx: BuildContext = {
      seq: n,
      created,
      cachedTokens: options.cachedTokens ?? 0,
      reasoningTokens: options.reasoningTokens ?? 64,
      contentOverride: step?.content,
    };
    const stream = body.stream === true;
    if (route === 'POST /v1/chat/completions') {
      validateChat(body);
      if (!stream) return sendJson(res, n, 200, buildChatCompletion(body, ctx));
      const frames = buildChatChunks(body, ctx).map((c) => `data: ${JSON.stringify(c)}\n\n`);
      return sendSse(res, n, [...frames, 'data: [DONE]\n\n']);
    }
    if (route === 'POST /v1/responses') {
      validateResponses(body);
      if (!stream) return sendJson(res, n, 200, buildResponse(body, ctx));
      const events = buildResponseEvents(body, ctx);
      return sendSse(
        res,
        n,
        events.map((e: Json) => `event: ${String(e.type)}\ndata: ${JSON.stringify(e)}\n\n`),
      );
    }
    sendJson(res, n, 200, buildEmbeddings(body, options.embeddingDimensions ?? 8));
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const e =
        err instanceof FakeOpenAIError
          ? err
          : new FakeOpenAIError(500, `fake-openai internal error: ${String(err)}`, 'server_error');
      sendJson(res, seq, e.status, e.toJSON());
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;

  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    setScript(steps: ScriptStep[]): void {
      script = [...steps];
    },
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
