/**
 * Shared plumbing of the LangSmith SDK end-to-end suites: a request log around the
 * SDK's fetch, polling for data the SDK sends in the background, and typed calls of
 * the native query API.
 */
import { Client, type ClientConfig } from 'langsmith';
import type { RunDetail, RunListResponse, TraceResponse } from '@loupe/contracts';

export const NATIVE = '/api/loupe/v1';

export interface RecordedRequest {
  method: string;
  /** path + query, without the origin */
  path: string;
  headers: Record<string, string>;
  status: number;
}

export interface FetchOptions {
  /** rewrite a JSON response of the server before the SDK sees it (e.g. `/info`) */
  rewriteJson?: (path: string, body: unknown) => unknown;
}

function headersOf(init: RequestInit | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  new Headers(init?.headers).forEach((v, k) => {
    out[k] = v;
  });
  return out;
}

/** `fetch` that records every request the SDK makes (and can rewrite JSON answers). */
export function recordingFetch(log: RecordedRequest[], opts: FetchOptions = {}): typeof fetch {
  return async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const path = `${url.pathname}${url.search}`;
    const res = await fetch(input, init);
    log.push({ method: init?.method ?? 'GET', path, headers: headersOf(init), status: res.status });
    if (opts.rewriteJson === undefined || !res.ok) return res;
    const type = res.headers.get('content-type') ?? '';
    if (!type.includes('application/json')) return res;
    const body = opts.rewriteJson(url.pathname, await res.json());
    return new Response(JSON.stringify(body), {
      status: res.status,
      statusText: res.statusText,
      headers: { 'content-type': 'application/json' },
    });
  };
}

export interface SdkClient {
  client: Client;
  requests: RecordedRequest[];
}

/** A LangSmith SDK client whose requests are recorded. `apiUrl` is the full base URL. */
export function sdkClient(
  apiUrl: string,
  apiKey: string,
  config: Partial<ClientConfig> = {},
  fetchOpts: FetchOptions = {},
): SdkClient {
  const requests: RecordedRequest[] = [];
  const client = new Client({
    apiUrl,
    apiKey,
    fetchImplementation: recordingFetch(requests, fetchOpts),
    // nothing the server answers here is worth retrying; a retry only hides a bug
    callerOptions: { maxRetries: 0 },
    ...config,
  });
  return { client, requests };
}

/** Runs `fn` with some environment variables set (the SDK reads some at construction). */
export function withEnv<T>(vars: Record<string, string | undefined>, fn: () => T): T {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const apply = (v: Record<string, string | undefined>) => {
    for (const [k, val] of Object.entries(v)) {
      if (val === undefined) delete process.env[k];
      else process.env[k] = val;
    }
  };
  apply(vars);
  try {
    return fn();
  } finally {
    apply(saved);
  }
}

/**
 * Calls `fn` until it returns something other than `undefined` (every 50 ms). On timeout
 * the error names what was awaited and what the last attempt returned or threw.
 */
export async function poll<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value !== undefined) return value;
      last = 'undefined';
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      const detail = last instanceof Error ? last.message : String(last);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${detail}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    where: string,
  ) {
    super(`${where} → ${status}: ${body}`);
  }
}

/** JSON request with the API key; non-2xx throws HttpError carrying status and body. */
export async function httpJson<T>(
  baseUrl: string,
  apiKey: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      'x-api-key': apiKey,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (!res.ok) throw new HttpError(res.status, text, `${method} ${path}`);
  return JSON.parse(text) as T;
}

/** Typed calls of the native query API. */
export function nativeApi(baseUrl: string, apiKey: string) {
  const get = <T>(path: string) => httpJson<T>(baseUrl, apiKey, 'GET', `${NATIVE}${path}`);
  return {
    run: (id: string) => get<RunDetail>(`/runs/${id}`),
    trace: (traceId: string) => get<TraceResponse>(`/traces/${traceId}`),
    runs: (query: Record<string, string | string[]>) => {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(query))
        for (const one of Array.isArray(v) ? v : [v]) params.append(k, one);
      return get<RunListResponse>(`/runs?${params.toString()}`);
    },
  };
}

export type NativeApi = ReturnType<typeof nativeApi>;

/** Status of an awaited promise's rejection, as the SDK's errors carry it (or parse it). */
export async function rejectionStatus(promise: Promise<unknown>): Promise<number | undefined> {
  try {
    await promise;
  } catch (error) {
    const e = error as { status?: unknown; message?: unknown };
    if (typeof e.status === 'number') return e.status;
    const m = /status \[(\d{3})\]/.exec(String(e.message));
    return m ? Number(m[1]) : undefined;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

/** Collects an async iterable (the SDK's list methods). */
export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}
