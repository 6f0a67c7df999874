// A local, deterministic Anthropic Messages API for tests (node:http, 127.0.0.1, ephemeral port).
//
//   const fake = await startFakeAnthropic();
//   const client = new Anthropic({ baseURL: fake.baseURL, apiKey: 'test' });
//   ...
//   await fake.close();
//
// Behaviour (builders in fake-anthropic-fixtures.ts):
// - POST /v1/messages   `echo: <last user text>`; with `tools` and a trailing user turn, a short
//   text block then a `tool_use` of the first (or forced) tool; after `tool_result` blocks,
//   `tool result: <contents>`; `thinking: {type:'enabled'}` adds a thinking block. `stream: true`
//   gives SSE (message_start, ping, content_block_start/delta/stop incl. input_json_delta and
//   thinking_delta, message_delta with cumulative usage, message_stop).
// - usage reports `cache_read_input_tokens` / `cache_creation_input_tokens` from the options.
// - model `bad-model` → 404 not_found_error; missing model/max_tokens/messages → 400;
//   unknown route → 404; bad JSON → 400 — all in Anthropic's error envelope.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  FakeAnthropicError,
  buildMessage,
  buildMessageEvents,
  validateMessages,
  type AnthropicBuildContext,
  type Json,
} from './fake-anthropic-fixtures.js';

export { FakeAnthropicError, THINKING_TEXT } from './fake-anthropic-fixtures.js';

export interface RecordedAnthropicRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: unknown;
}

export interface FakeAnthropicOptions {
  /** reported `cache_read_input_tokens`; default 0 */
  cacheReadTokens?: number;
  /** reported `cache_creation_input_tokens`; default 0 */
  cacheCreationTokens?: number;
  /** `output_tokens_details.thinking_tokens` when thinking is enabled; default 32 */
  thinkingTokens?: number;
  /** delay between SSE events; default 0 */
  chunkDelayMs?: number;
  /** models that answer 404; default ['bad-model'] */
  missingModels?: string[];
}

export interface FakeAnthropic {
  /** origin without `/v1` (the Anthropic client appends the path), e.g. http://127.0.0.1:5432 */
  baseURL: string;
  /** every request received, in arrival order (live array) */
  requests: RecordedAnthropicRequest[];
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const requestId = (n: number): string => `req_fake${n.toString().padStart(6, '0')}`;

export async function startFakeAnthropic(
  options: FakeAnthropicOptions = {},
): Promise<FakeAnthropic> {
  const requests: RecordedAnthropicRequest[] = [];
  const missing = new Set(options.missingModels ?? ['bad-model']);
  const chunkDelayMs = options.chunkDelayMs ?? 0;
  let seq = 0;

  function sendJson(res: ServerResponse, n: number, status: number, payload: unknown): void {
    const text = JSON.stringify(payload);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(text)),
      'request-id': requestId(n),
    });
    res.end(text);
  }

  async function sendSse(
    res: ServerResponse,
    n: number,
    events: Array<[string, Json]>,
  ): Promise<void> {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'request-id': requestId(n),
    });
    for (const [i, [name, data]] of events.entries()) {
      if (res.destroyed) return;
      if (i > 0 && chunkDelayMs > 0) await sleep(chunkDelayMs);
      res.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
    }
    res.end();
  }

  async function handle(req: IncomingMessage, res: ServerResponse, n: number): Promise<void> {
    const raw = await readBody(req);
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    let body: unknown;
    let invalidJson = false;
    try {
      body = raw === '' ? undefined : (JSON.parse(raw) as unknown);
    } catch {
      invalidJson = true;
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers))
      if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    requests.push({ method: req.method ?? 'GET', path, headers, body });

    if (`${req.method} ${path}` !== 'POST /v1/messages')
      throw new FakeAnthropicError(404, 'not_found_error', 'Not Found');
    if (invalidJson || typeof body !== 'object' || body === null || Array.isArray(body))
      throw new FakeAnthropicError(
        400,
        'invalid_request_error',
        'There was an error parsing the body',
      );
    const json = body as Json;
    validateMessages(json);
    if (missing.has(String(json.model)))
      throw new FakeAnthropicError(404, 'not_found_error', `model: ${String(json.model)}`);
    const ctx: AnthropicBuildContext = {
      seq: n,
      cacheReadTokens: options.cacheReadTokens ?? 0,
      cacheCreationTokens: options.cacheCreationTokens ?? 0,
      thinkingTokens: options.thinkingTokens ?? 32,
    };
    if (json.stream === true) await sendSse(res, n, buildMessageEvents(json, ctx));
    else sendJson(res, n, 200, buildMessage(json, ctx));
  }

  const server = createServer((req, res) => {
    const n = ++seq;
    handle(req, res, n).catch((error: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const e =
        error instanceof FakeAnthropicError
          ? error
          : new FakeAnthropicError(
              500,
              'api_error',
              `fake-anthropic internal error: ${String(error)}`,
            );
      sendJson(res, n, e.status, e.toJSON(requestId(n)));
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
    baseURL: `http://127.0.0.1:${port}`,
    requests,
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
