/**
 * `LoupeClient`: typed calls to the collector's native API (`/api/loupe/v1`) for
 * projects, runs, traces and feedback. Unlike tracing, these are explicit calls the app
 * makes and waits for, so they reject with a `LoupeApiError` (HTTP status, `LOUPE_ERR_*`
 * code, message, request id) instead of swallowing failures. For end-user feedback from
 * a request path, use `createFeedback` (feedback.ts), which never rejects.
 *
 * Wire types come from `@loupe/contracts` (type-only: no TypeBox at runtime).
 */
import { randomUUID } from 'node:crypto';
import type {
  ErrorEnvelope,
  FeedbackCreate,
  FeedbackItem,
  Project,
  ProjectList,
  ProjectStats,
  ProjectStatsQuery,
  RunDetail,
  RunListQuery,
  RunListResponse,
  RunSummary,
  TraceResponse,
} from '@loupe/contracts';
import { DEFAULT_ENDPOINT } from './config.js';
import { getConnection } from './internal/state.js';

const API_PATH = 'api/loupe/v1/';
export const DEFAULT_CLIENT_TIMEOUT_MS = 10_000;

export interface LoupeClientOptions {
  /** collector base URL; env LOUPE_ENDPOINT; default http://127.0.0.1:4318 (an OTLP `…/v1/traces` URL is accepted too) */
  endpoint?: string;
  /** env LOUPE_API_KEY; sent as `x-api-key` */
  apiKey?: string;
  /** per request, connect to last byte; default 10 000 */
  timeoutMs?: number;
  /** extra request headers (e.g. for a proxy in front of the collector) */
  headers?: Record<string, string>;
}

/**
 * Codes without an HTTP answer behind them (status 0); HTTP errors carry the collector's
 * `LOUPE_ERR_*` code from its error envelope.
 */
export type LoupeClientErrorCode =
  | 'LOUPE_ERR_NETWORK'
  | 'LOUPE_ERR_TIMEOUT'
  | 'LOUPE_ERR_ABORTED'
  | 'LOUPE_ERR_BAD_RESPONSE'
  | 'LOUPE_ERR_INVALID_ARGUMENT';

export class LoupeApiError extends Error {
  override readonly name = 'LoupeApiError';

  constructor(
    /** HTTP status; 0 when no response was received or the request was never sent */
    readonly status: number,
    /** `LOUPE_ERR_*`: the collector's code, or a LoupeClientErrorCode */
    readonly code: string,
    message: string,
    /** the `x-request-id` sent (the collector logs under it); undefined if nothing was sent */
    readonly requestId: string | undefined,
    options?: { cause?: unknown; retryAfterMs?: number },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.retryAfterMs = options?.retryAfterMs;
  }

  /** from a 429/503 answer's `Retry-After`, when it had one */
  readonly retryAfterMs: number | undefined;
}

/** Feedback on one run. `runId` is what `getCurrentRunId()` returns inside the run. */
export interface FeedbackInput {
  runId: string;
  /** what is rated, e.g. "thumbs", "correctness" */
  key: string;
  /** a number (booleans are stored as 1/0) */
  score?: number | boolean | null;
  /** a non-numeric verdict (label, JSON) */
  value?: unknown;
  comment?: string | null;
  /** what the output should have been */
  correction?: unknown;
  /** who gave it; the collector stores `{type: "api"}` when absent */
  source?: FeedbackCreate['source'];
  /** the feedback's id; a second call with the same id updates it instead of adding one */
  id?: string;
}

/** Per call: an AbortSignal to cancel it (the client's timeout applies as well). */
export interface CallOptions {
  signal?: AbortSignal;
}

/** Query of `GET /runs` without paging (listRuns pages by itself). */
export type RunFilters = Omit<RunListQuery, 'cursor'>;

type Query = Record<string, string | number | boolean | readonly string[] | undefined>;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `…/api/loupe/v1/` under the endpoint, keeping a path prefix (reverse proxy) if any. */
function apiBase(endpoint: string): URL {
  const url = new URL(endpoint);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError('not http(s)');
  // init() accepts the OTLP traces URL as endpoint; the native API sits beside it
  const path = url.pathname.replace(/\/v1\/traces\/?$/, '').replace(/\/+$/, '');
  url.pathname = `${path}/${API_PATH}`;
  url.search = '';
  url.hash = '';
  return url;
}

function envValue(name: string): string | undefined {
  const v = process.env[name]?.trim();
  return v === undefined || v === '' ? undefined : v;
}

/** The body of a wire `FeedbackCreate` from the camel-cased input. */
export function feedbackBody(input: FeedbackInput): FeedbackCreate {
  const body: FeedbackCreate = { run_id: input.runId, key: input.key };
  if (input.id !== undefined) body.id = input.id;
  if (input.score !== undefined) body.score = input.score;
  if (input.value !== undefined) body.value = input.value;
  if (input.comment !== undefined) body.comment = input.comment;
  if (input.correction !== undefined) body.correction = input.correction;
  if (input.source !== undefined) body.source = input.source;
  return body;
}

export class LoupeClient {
  private readonly base: URL;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;

  /** Throws a LoupeApiError (LOUPE_ERR_INVALID_ARGUMENT) for an endpoint that is not an http(s) URL. */
  constructor(options: LoupeClientOptions = {}) {
    const configured = getConnection();
    const endpoint =
      options.endpoint ?? configured.endpoint ?? envValue('LOUPE_ENDPOINT') ?? DEFAULT_ENDPOINT;
    try {
      this.base = apiBase(endpoint);
    } catch (error) {
      throw new LoupeApiError(
        0,
        'LOUPE_ERR_INVALID_ARGUMENT',
        `endpoint ${JSON.stringify(endpoint)} is not an http(s) URL`,
        undefined,
        { cause: error },
      );
    }
    const apiKey = options.apiKey ?? configured.apiKey ?? envValue('LOUPE_API_KEY');
    this.headers = {
      ...options.headers,
      accept: 'application/json',
      ...(apiKey === undefined ? {} : { 'x-api-key': apiKey }),
    };
    const t = options.timeoutMs;
    this.timeoutMs =
      typeof t === 'number' && Number.isFinite(t) && t > 0 ? t : DEFAULT_CLIENT_TIMEOUT_MS;
  }

  /** Projects of the API key's workspace, with their root-run counts. */
  async listProjects(options?: CallOptions): Promise<Project[]> {
    return (await this.request<ProjectList>('GET', 'projects', options)).projects;
  }

  /** Run count, error rate, latency p50/p95, tokens and cost of a project (id or name). */
  projectStats(
    project: string,
    query: ProjectStatsQuery = {},
    options?: CallOptions,
  ): Promise<ProjectStats> {
    return this.request('GET', `projects/${encodeURIComponent(project)}/stats`, {
      ...options,
      query,
    });
  }

  /** One page of runs, newest first; pass `next_cursor` back as `cursor` for the next one. */
  listRunsPage(query: RunListQuery = {}, options?: CallOptions): Promise<RunListResponse> {
    return this.request('GET', 'runs', { ...options, query });
  }

  /**
   * Every run matching `filters`, newest first, fetching pages lazily as the iteration
   * goes on (`limit` is the page size). Stop early with `break`.
   */
  async *listRuns(
    filters: RunFilters = {},
    options?: CallOptions,
  ): AsyncGenerator<RunSummary, void, undefined> {
    let cursor: string | undefined;
    do {
      const query = { ...filters, ...(cursor === undefined ? {} : { cursor }) };
      const page = await this.listRunsPage(query, options);
      yield* page.runs;
      cursor = page.next_cursor ?? undefined;
    } while (cursor !== undefined);
  }

  /** One run with inputs, outputs, attachments (names) and feedback. */
  getRun(runId: string, options?: CallOptions): Promise<RunDetail> {
    return this.request('GET', `runs/${encodeURIComponent(runId)}`, options);
  }

  /** A trace (UUID, as `getCurrentTraceId()` returns it) as a tree of runs. */
  getTrace(traceId: string, options?: CallOptions): Promise<TraceResponse> {
    return this.request('GET', `traces/${encodeURIComponent(traceId)}`, options);
  }

  /** Attaches feedback to a run; 404 (LOUPE_ERR_NOT_FOUND) while the run is not ingested yet. */
  createFeedback(input: FeedbackInput, options?: CallOptions): Promise<FeedbackItem> {
    if (!isRecord(input)) {
      return Promise.reject(
        new LoupeApiError(0, 'LOUPE_ERR_INVALID_ARGUMENT', 'feedback must be an object', undefined),
      );
    }
    return this.request('POST', 'feedback', { ...options, body: feedbackBody(input) });
  }

  private async request<T>(
    method: 'GET' | 'POST',
    path: string,
    { query, body, signal }: { query?: Query; body?: unknown; signal?: AbortSignal } = {},
  ): Promise<T> {
    const url = new URL(path, this.base);
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value === undefined) continue;
      if (Array.isArray(value))
        for (const v of value as readonly string[]) url.searchParams.append(key, v);
      else url.searchParams.set(key, String(value));
    }
    const requestId = randomUUID();
    const headers: Record<string, string> = { ...this.headers, 'x-request-id': requestId };
    let payload: string | undefined;
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      try {
        payload = JSON.stringify(body);
      } catch (error) {
        // a BigInt or a cycle in `value`/`correction`: the caller's data, not the network
        throw new LoupeApiError(
          0,
          'LOUPE_ERR_INVALID_ARGUMENT',
          `request body is not JSON-serialisable: ${error instanceof Error ? error.message : String(error)}`,
          undefined,
          { cause: error },
        );
      }
    }
    let status = 0;
    let retryAfter: string | null;
    let text: string;
    try {
      const res = await fetch(url, {
        method,
        headers,
        ...(payload === undefined ? {} : { body: payload }),
        // AbortSignal.timeout's timer does not keep the process alive
        signal:
          signal === undefined
            ? AbortSignal.timeout(this.timeoutMs)
            : AbortSignal.any([signal, AbortSignal.timeout(this.timeoutMs)]),
      });
      status = res.status;
      retryAfter = res.headers.get('retry-after');
      text = await res.text();
    } catch (error) {
      throw transportError(error, method, url, status, requestId);
    }
    if (status < 200 || status >= 300) throw httpError(status, text, requestId, retryAfter);
    try {
      return JSON.parse(text) as T;
    } catch (error) {
      throw new LoupeApiError(
        status,
        'LOUPE_ERR_BAD_RESPONSE',
        `${method} ${url.pathname}: response is not JSON`,
        requestId,
        { cause: error },
      );
    }
  }
}

function transportError(
  error: unknown,
  method: string,
  url: URL,
  status: number,
  requestId: string,
): LoupeApiError {
  // fetch rejects with the signal's reason: TimeoutError from AbortSignal.timeout,
  // AbortError (by default) from the caller's AbortController
  const name = error instanceof Error ? error.name : '';
  const where = `${method} ${url.origin}${url.pathname}`;
  if (name === 'TimeoutError')
    return new LoupeApiError(status, 'LOUPE_ERR_TIMEOUT', `${where} timed out`, requestId, {
      cause: error,
    });
  if (name === 'AbortError')
    return new LoupeApiError(status, 'LOUPE_ERR_ABORTED', `${where} was aborted`, requestId, {
      cause: error,
    });
  // undici's "fetch failed" says nothing; the cause has ECONNREFUSED and the like
  const reason =
    error instanceof Error
      ? ((error.cause instanceof Error ? error.cause.message : undefined) ?? error.message)
      : String(error);
  return new LoupeApiError(status, 'LOUPE_ERR_NETWORK', `${where} failed: ${reason}`, requestId, {
    cause: error,
  });
}

/** The collector's envelope when there is one; otherwise the status and a bit of the body. */
function httpError(
  status: number,
  text: string,
  requestId: string,
  retryAfter: string | null,
): LoupeApiError {
  let envelope: Partial<ErrorEnvelope> | undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    if (isRecord(parsed)) envelope = parsed;
  } catch {
    // not JSON (a proxy's HTML page, an empty body): described below
  }
  const code = typeof envelope?.code === 'string' ? envelope.code : `LOUPE_ERR_HTTP_${status}`;
  const message =
    typeof envelope?.message === 'string'
      ? envelope.message
      : `HTTP ${status}${text.trim() === '' ? '' : `: ${text.trim().slice(0, 200)}`}`;
  const id = typeof envelope?.requestId === 'string' ? envelope.requestId : requestId;
  return new LoupeApiError(status, code, message, id, { retryAfterMs: retryAfterMs(retryAfter) });
}

/** `Retry-After`: delay-seconds or an HTTP date. */
function retryAfterMs(header: string | null): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}
