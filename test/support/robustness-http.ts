// HTTP helpers for the robustness suites: an exporter-like client that retries the
// way OTLP clients do (429/502/503/504 and connection errors, honouring Retry-After),
// and a reader of every run id through the native query API.
import { setTimeout as sleep } from 'node:timers/promises';

export interface Attempt {
  /** HTTP status, or 0 for a connection-level failure (refused, reset, timeout) */
  status: number;
  at: number;
  retryAfter?: string | null;
  /** for status 0: the error; for 503s: the response body */
  detail?: string;
  body?: Buffer;
  contentType?: string | null;
}

export interface PostOptions {
  apiKey: string;
  contentType: string;
  path?: string;
  timeoutMs?: number;
  headers?: Record<string, string>;
}

export function errorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: unknown }).cause;
  const c =
    cause instanceof Error ? ` (${(cause as { code?: string }).code ?? ''} ${cause.message})` : '';
  return `${error.message}${c}`;
}

/** One POST; connection failures come back as status 0 instead of throwing. */
export async function postOnce(baseUrl: string, body: Buffer, opts: PostOptions): Promise<Attempt> {
  const at = Date.now();
  try {
    const res = await fetch(`${baseUrl}${opts.path ?? '/v1/traces'}`, {
      method: 'POST',
      headers: { 'content-type': opts.contentType, 'x-api-key': opts.apiKey, ...opts.headers },
      body,
      signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000),
    });
    const resBody = Buffer.from(await res.arrayBuffer());
    return {
      status: res.status,
      at,
      retryAfter: res.headers.get('retry-after'),
      contentType: res.headers.get('content-type'),
      body: resBody,
    };
  } catch (error) {
    return { status: 0, at, detail: errorText(error) };
  }
}

const RETRYABLE = new Set([0, 429, 502, 503, 504]);

export interface DeliveryResult {
  ok: boolean;
  attempts: Attempt[];
}

/**
 * Sends until a 200, like an OTLP exporter: retryable failures back off (Retry-After
 * when given, else 100 ms × 1.5ⁿ up to 2 s); any other status stops at once.
 */
export async function deliver(
  baseUrl: () => string,
  body: Buffer,
  opts: PostOptions & {
    deadline: number;
    /** gives up early (e.g. the server process died) */
    shouldStop?: () => boolean;
    onSend?: () => void;
    onAttempt?: (a: Attempt) => void;
  },
): Promise<DeliveryResult> {
  const attempts: Attempt[] = [];
  let backoff = 100;
  while (Date.now() < opts.deadline && opts.shouldStop?.() !== true) {
    opts.onSend?.();
    const attempt = await postOnce(baseUrl(), body, opts);
    attempts.push(attempt);
    opts.onAttempt?.(attempt);
    if (attempt.status === 200) return { ok: true, attempts };
    if (!RETRYABLE.has(attempt.status)) return { ok: false, attempts };
    const retryAfter = Number(attempt.retryAfter ?? NaN);
    const wait = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : backoff;
    backoff = Math.min(2_000, backoff * 1.5);
    await sleep(Math.min(wait, Math.max(0, opts.deadline - Date.now())));
  }
  return { ok: false, attempts };
}

/** Every run id visible through GET /api/loupe/v1/runs (all projects), page by page. */
export async function listRunIds(baseUrl: string, apiKey: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 10_000; page++) {
    const qs = new URLSearchParams({ limit: '1000' });
    if (cursor !== null) qs.set('cursor', cursor);
    const res = await fetch(`${baseUrl}/api/loupe/v1/runs?${qs.toString()}`, {
      headers: { 'x-api-key': apiKey },
      signal: AbortSignal.timeout(60_000),
    });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`GET /api/loupe/v1/runs → ${res.status}: ${text}`);
    const json = JSON.parse(text) as { runs: { id: string }[]; next_cursor: string | null };
    ids.push(...json.runs.map((r) => r.id));
    cursor = json.next_cursor;
    if (cursor === null) return ids;
  }
  throw new Error('run listing did not end after 10 000 pages');
}

/** Ids expected vs. stored: what is missing, what is there twice, what is unexpected. */
export function compareIds(expected: Iterable<string>, stored: string[]) {
  const want = new Set(expected);
  const seen = new Map<string, number>();
  for (const id of stored) seen.set(id, (seen.get(id) ?? 0) + 1);
  return {
    expected: want.size,
    stored: stored.length,
    missing: [...want].filter((id) => !seen.has(id)),
    duplicated: [...seen].filter(([, n]) => n > 1).map(([id]) => id),
    unexpected: [...seen.keys()].filter((id) => !want.has(id)),
  };
}

/** Polls `check` until it returns true or `timeoutMs` passes. */
export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(50);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
