/**
 * OTLP/HTTP protobuf exporter for the Loupe collector.
 *
 * Two entry points over one HTTP attempt:
 * - `send()` — one request, classified (success / retryable / permanent). The Loupe
 *   span processor uses it and owns retries, because it can put a failed batch back in
 *   its bounded queue instead of holding it in a retry loop.
 * - `export()` — the standard `SpanExporter` contract for apps that keep their own OTel
 *   pipeline (e.g. a BatchSpanProcessor). It retries in place, like OTel's own OTLP
 *   exporters: at most 5 attempts inside `exportTimeoutMillis`.
 *
 * Retry rule (same as the OTLP spec and otel-js `retrying-transport.ts`): only 429, 502,
 * 503, 504 and network-level failures (refused, reset, timeout) are retried; anything
 * else would fail the same way again.
 */
import http from 'node:http';
import https from 'node:https';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { reportError, reportWarning } from './internal/report.js';
import {
  asOptions,
  resolveTransport,
  type LoupeTransportOptions,
  type ResolvedTransport,
  type RetryPolicy,
} from './config.js';
import { ExportCounters, registerStatsSource } from './stats.js';

export type LoupeExporterOptions = LoupeTransportOptions;

export type SendOutcome =
  | { kind: 'success'; rejected: number; message: string }
  | { kind: 'retryable'; retryAfterMillis: number | undefined; reason: string }
  | { kind: 'permanent'; reason: string };

export interface SendOptions {
  /**
   * Keep the event loop alive while the request runs. The processor sends with `false`
   * (a background export must not hold the host process open; a flush that the app
   * awaits holds it with its own timer instead).
   */
  ref?: boolean;
  timeoutMillis?: number;
}

const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);
/** Read at most this much of a response: enough for a google.rpc.Status, bounded memory. */
const MAX_RESPONSE_BYTES = 64 * 1024;
/** A Retry-After beyond this is a misconfiguration; waiting it out would only fill the queue. */
const MAX_RETRY_AFTER_MILLIS = 5 * 60_000;
const STANDALONE_MAX_ATTEMPTS = 5;

/** `Retry-After` as milliseconds from now: delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: unknown, now = Date.now()): number | undefined {
  const text = Array.isArray(value) ? (value[0] as unknown) : value;
  if (typeof text !== 'string' || text.trim() === '') return undefined;
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Math.min(Number(t) * 1000, MAX_RETRY_AFTER_MILLIS);
  // an HTTP date always names a month; without this, Date.parse('-1') is year −1
  if (!/[a-z]/i.test(t)) return undefined;
  const date = Date.parse(t);
  if (Number.isNaN(date)) return undefined;
  return Math.min(Math.max(0, date - now), MAX_RETRY_AFTER_MILLIS);
}

/**
 * Delay before retry number `attempt` (1-based). With Retry-After: at least what the
 * server asked (+0–20 % jitter so a fleet of clients does not come back in lockstep),
 * never under 100 ms (a "Retry-After: 0" must not become a hot loop). Without:
 * exponential backoff from `initialDelayMillis`, capped, ±20 % jitter.
 */
export function retryDelayMillis(
  attempt: number,
  retryAfterMillis: number | undefined,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number {
  if (retryAfterMillis !== undefined) return Math.max(retryAfterMillis, 100) * (1 + 0.2 * random());
  const base = Math.min(
    policy.maxDelayMillis,
    policy.initialDelayMillis * 2 ** Math.min(Math.max(attempt - 1, 0), 30),
  );
  return base * (0.8 + 0.4 * random());
}

/** The message of a google.rpc.Status (field 2) from protobuf bytes, or the text of a JSON one. */
function statusMessage(body: Buffer, contentType: string | undefined): string {
  if (body.length === 0) return '';
  if (contentType?.includes('json')) {
    try {
      const parsed = JSON.parse(body.toString('utf8')) as { message?: unknown };
      if (typeof parsed.message === 'string') return parsed.message;
    } catch {
      // not JSON after all: fall through to the raw text below
    }
    return body.toString('utf8', 0, 500);
  }
  // minimal protobuf walk: Status is {1: code varint, 2: message string, 3: details}
  let i = 0;
  const varint = (): number => {
    let result = 0;
    let shift = 0;
    while (i < body.length && shift < 35) {
      const b = body[i++]!;
      result += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return result;
      shift += 7;
    }
    return result;
  };
  while (i < body.length) {
    const tag = varint();
    const wire = tag & 7;
    if (wire === 0) varint();
    else if (wire === 2) {
      const len = varint();
      if (tag >>> 3 === 2) return body.toString('utf8', i, Math.min(i + len, body.length));
      i += len;
    } else break;
  }
  return '';
}

function rejectedSpans(
  body: Buffer,
  contentType: string | undefined,
): { n: number; message: string } {
  if (body.length === 0) return { n: 0, message: '' };
  const partial = contentType?.includes('json')
    ? (
        JSON.parse(body.toString('utf8')) as {
          partialSuccess?: { rejectedSpans?: unknown; errorMessage?: unknown };
        }
      ).partialSuccess
    : ProtobufTraceSerializer.deserializeResponse(body).partialSuccess;
  const n = Number(partial?.rejectedSpans ?? 0);
  const message = typeof partial?.errorMessage === 'string' ? partial.errorMessage : '';
  return { n: Number.isFinite(n) && n > 0 ? n : 0, message };
}

function classify(status: number, headers: http.IncomingHttpHeaders, body: Buffer): SendOutcome {
  const contentType = headers['content-type'];
  if (status >= 200 && status < 300) {
    try {
      const { n, message } = rejectedSpans(body, contentType);
      return { kind: 'success', rejected: n, message };
    } catch (error) {
      // the spans were committed (2xx); an unreadable body only loses the reject count
      reportError('could not decode the collector response', error);
      return { kind: 'success', rejected: 0, message: '' };
    }
  }
  const message = statusMessage(body, contentType);
  const reason = `HTTP ${status}${message === '' ? '' : `: ${message}`}`;
  if (RETRYABLE_STATUS.has(status)) {
    return { kind: 'retryable', retryAfterMillis: parseRetryAfter(headers['retry-after']), reason };
  }
  return { kind: 'permanent', reason };
}

const errorText = (error: unknown): string =>
  error instanceof Error
    ? `${(error as NodeJS.ErrnoException).code ?? error.name}: ${error.message}`
    : String(error);

export class LoupeExporter implements SpanExporter {
  private readonly transport: ResolvedTransport;
  private readonly agent: http.Agent;
  private readonly requests = new Set<http.ClientRequest>();
  private readonly pendingExports = new Set<Promise<void>>();
  private readonly waits = new Set<() => void>();
  private readonly counters = new ExportCounters();
  private retire: (() => void) | undefined;
  private isShutdown = false;

  constructor(options: LoupeExporterOptions = {}) {
    this.transport = resolveTransport(asOptions<LoupeExporterOptions>(options, 'LoupeExporter'));
    // keep-alive: one TCP/TLS handshake for a stream of batches; the agent unrefs idle sockets
    const Agent = this.transport.url.protocol === 'https:' ? https.Agent : http.Agent;
    this.agent = new Agent({ keepAlive: true, maxSockets: 2 });
  }

  /** The backoff settings (the Loupe processor retries with the same ones). */
  get retryPolicy(): RetryPolicy {
    return this.transport.retry;
  }

  /** The resolved `…/v1/traces` URL (for diagnostics). */
  get url(): string {
    return this.transport.url.toString();
  }

  /** One POST of `spans`, classified. Never rejects. */
  async send(spans: ReadableSpan[], options: SendOptions = {}): Promise<SendOutcome> {
    if (this.isShutdown) return { kind: 'permanent', reason: 'exporter is shut down' };
    let body: Uint8Array | undefined;
    try {
      body = ProtobufTraceSerializer.serializeRequest(spans);
    } catch (error) {
      return { kind: 'permanent', reason: `could not serialise spans: ${errorText(error)}` };
    }
    if (body === undefined) return { kind: 'permanent', reason: 'could not serialise spans' };
    return this.post(
      body,
      options.ref ?? false,
      options.timeoutMillis ?? this.transport.exportTimeoutMillis,
    );
  }

  private post(body: Uint8Array, ref: boolean, timeoutMillis: number): Promise<SendOutcome> {
    return new Promise<SendOutcome>((resolve) => {
      const client = this.transport.url.protocol === 'https:' ? https : http;
      let req: http.ClientRequest;
      try {
        req = client.request(this.transport.url, {
          method: 'POST',
          agent: this.agent,
          headers: {
            ...this.transport.headers,
            'content-type': 'application/x-protobuf',
            'content-length': String(body.byteLength),
          },
        });
      } catch (error) {
        resolve({ kind: 'permanent', reason: `could not start the request: ${errorText(error)}` });
        return;
      }
      this.requests.add(req);
      let settled = false;
      const finish = (outcome: SendOutcome) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.requests.delete(req);
        resolve(outcome);
      };
      // the whole exchange, connect to last byte; the socket (when ref'd) keeps the loop alive
      const timer = setTimeout(() => {
        finish({
          kind: 'retryable',
          retryAfterMillis: undefined,
          reason: `timed out after ${timeoutMillis} ms`,
        });
        req.destroy();
      }, timeoutMillis);
      timer.unref();
      if (!ref) req.on('socket', (socket) => socket.unref());
      let answered = false;
      req.on('response', (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size <= MAX_RESPONSE_BYTES) chunks.push(chunk);
        });
        res.on('end', () =>
          finish(classify(res.statusCode ?? 0, res.headers, Buffer.concat(chunks))),
        );
        res.on('error', (error) =>
          finish({ kind: 'retryable', retryAfterMillis: undefined, reason: errorText(error) }),
        );
        res.on('close', () =>
          finish({ kind: 'retryable', retryAfterMillis: undefined, reason: 'response cut off' }),
        );
      });
      req.on('error', (error) =>
        finish({ kind: 'retryable', retryAfterMillis: undefined, reason: errorText(error) }),
      );
      // destroyed before any answer (shutdown, timeout) without an 'error' event
      req.on('close', () => {
        if (!answered)
          finish({ kind: 'retryable', retryAfterMillis: undefined, reason: 'request aborted' });
      });
      req.end(body);
    });
  }

  /** SpanExporter: send with in-place retries; the callback is called exactly once. */
  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    this.retire ??= registerStatsSource({ counters: this.counters, queued: () => 0 });
    const done = this.exportWithRetries(spans).then(
      (result) => {
        try {
          resultCallback(result);
        } catch (error) {
          reportError('export result callback threw', error);
        }
      },
      (error: unknown) => reportError('export', error),
    );
    this.pendingExports.add(done);
    void done.finally(() => this.pendingExports.delete(done));
  }

  private async exportWithRetries(spans: ReadableSpan[]): Promise<ExportResult> {
    const n = spans.length;
    const deadline = Date.now() + this.transport.exportTimeoutMillis;
    for (let attempt = 1; ; attempt++) {
      // ref'd like OTel's own exporters: a pipeline the app flushes must finish its request
      const outcome = await this.send(spans, {
        ref: true,
        timeoutMillis: Math.max(1, deadline - Date.now()),
      });
      if (outcome.kind === 'success') {
        this.counters.exported += n - Math.min(outcome.rejected, n);
        this.counters.dropped += Math.min(outcome.rejected, n);
        if (outcome.rejected > 0) {
          reportWarning(`collector rejected ${outcome.rejected} of ${n} spans: ${outcome.message}`);
        }
        return { code: ExportResultCode.SUCCESS };
      }
      const delay =
        outcome.kind === 'retryable'
          ? retryDelayMillis(attempt, outcome.retryAfterMillis, this.transport.retry)
          : 0;
      const giveUp =
        outcome.kind === 'permanent' ||
        attempt >= STANDALONE_MAX_ATTEMPTS ||
        this.isShutdown ||
        Date.now() + delay >= deadline;
      if (giveUp) {
        this.counters.failedExports++;
        this.counters.dropped += n;
        const reason =
          outcome.kind === 'permanent' ? outcome.reason : `${outcome.reason} (gave up)`;
        reportWarning(`export of ${n} spans failed: ${reason}`);
        return { code: ExportResultCode.FAILED, error: new Error(reason) };
      }
      this.counters.retries++;
      await this.wait(delay);
    }
  }

  /**
   * A backoff pause of the standalone path. Ref'd on purpose (an app awaiting its
   * provider's shutdown must not exit mid-retry) and bounded: the whole export() stays
   * inside exportTimeoutMillis, and shutdown() wakes every pause at once.
   */
  private wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.waits.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.waits.add(wake);
    });
  }

  /** Waits for `export()` calls in progress. */
  async forceFlush(): Promise<void> {
    await Promise.allSettled([...this.pendingExports]);
  }

  /** Aborts requests in flight and closes sockets. Idempotent. */
  async shutdown(): Promise<void> {
    if (this.isShutdown) return;
    this.isShutdown = true;
    for (const wake of [...this.waits]) wake();
    for (const req of [...this.requests]) req.destroy();
    await Promise.allSettled([...this.pendingExports]);
    this.agent.destroy();
    this.retire?.();
  }
}
