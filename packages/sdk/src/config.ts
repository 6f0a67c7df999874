/**
 * Options of the setup/transport layer and how they are resolved: explicit option ›
 * environment variable › default. Invalid values never throw (the host must not crash
 * because of a typo in its tracing config): each is reported through the reporter
 * (counted in `internalErrors`) and replaced by the default.
 */
import { validateHeaderName, validateHeaderValue } from 'node:http';
import { reportError, reportWarning } from './internal/report.js';
import type { HideOption, PayloadOptions, Redact } from './internal/state.js';

export const DEFAULT_ENDPOINT = 'http://127.0.0.1:4318';

/** Where and how spans are sent. */
export interface LoupeTransportOptions {
  /** collector base URL (`/v1/traces` is appended); env LOUPE_ENDPOINT; default http://127.0.0.1:4318 */
  endpoint?: string;
  /** env LOUPE_API_KEY; sent as `x-api-key` */
  apiKey?: string;
  /**
   * env LOUPE_PROJECT; sent as `x-loupe-project`. The collector ranks that header above
   * span attributes, so it also overrides a run context's `project` (loupe.project).
   */
  project?: string;
  /** one HTTP request's budget, connect to last byte; default 10 000 */
  exportTimeoutMillis?: number;
  /** extra request headers (e.g. for a proxy in front of the collector) */
  headers?: Record<string, string>;
  /** first retry delay without Retry-After; doubles per attempt; default 1 000 */
  retryInitialDelayMillis?: number;
  /** cap of the exponential backoff; default 30 000 */
  retryMaxDelayMillis?: number;
}

/** The processor's queue. */
export interface LoupeQueueOptions {
  /** spans held (the batch in flight included); beyond it new spans are dropped and counted; default 2 048 */
  maxQueueSize?: number;
  /** spans per request; default 512 (clamped to maxQueueSize) */
  maxExportBatchSize?: number;
  /** how long a partial batch waits for company; default 1 000 */
  scheduledDelayMillis?: number;
  /**
   * how long forceFlush()/shutdown() keep trying, backoffs included; default 10 000 —
   * shorter than a typical orchestrator's stop grace period (Kubernetes: 30 s), so a
   * shutdown against a dead collector still ends before the process is killed
   */
  flushTimeoutMillis?: number;
}

/** What happens to run inputs/outputs before they leave the process (see internal/payload.ts). */
export interface LoupePayloadOptions {
  redact?: Redact;
  hideInputs?: HideOption;
  hideOutputs?: HideOption;
}

export interface ResolvedTransport {
  url: URL;
  headers: Record<string, string>;
  exportTimeoutMillis: number;
  retry: RetryPolicy;
}

export interface RetryPolicy {
  initialDelayMillis: number;
  maxDelayMillis: number;
}

export interface ResolvedQueue {
  maxQueueSize: number;
  maxExportBatchSize: number;
  scheduledDelayMillis: number;
  flushTimeoutMillis: number;
}

type Env = Record<string, string | undefined>;

function invalid(name: string, value: unknown, expected: string, fallback: unknown): void {
  let shown: string;
  try {
    shown = typeof value === 'string' ? JSON.stringify(value) : String(value);
  } catch {
    shown = typeof value;
  }
  reportError(`invalid option ${name}`, `${shown} is not ${expected}; using ${String(fallback)}`);
}

/** A number option; strings (from env) are parsed. `undefined`/empty means "not set". */
export function numberOption(
  name: string,
  value: unknown,
  fallback: number,
  ok: (n: number) => boolean,
  expected: string,
): number {
  if (value === undefined || value === null || value === '') return fallback;
  const n = typeof value === 'string' ? Number(value.trim()) : value;
  if (typeof n === 'number' && Number.isFinite(n) && ok(n)) return n;
  invalid(name, value, expected, fallback);
  return fallback;
}

const positiveInt = (n: number) => Number.isInteger(n) && n > 0;
const nonNegative = (n: number) => n >= 0;
const positive = (n: number) => n > 0;

function stringOption(
  name: string,
  value: unknown,
  envValue: string | undefined,
): string | undefined {
  if (value !== undefined && value !== null) {
    if (typeof value === 'string' && value.trim() !== '') return value.trim();
    invalid(name, value, 'a non-empty string', 'the environment or nothing');
  }
  const fromEnv = envValue?.trim();
  return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv;
}

function tracesUrl(value: string): URL | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  // the base URL is what users copy from the collector's banner; accept a full
  // OTLP traces URL too, since that is what OTEL_EXPORTER_OTLP_TRACES_ENDPOINT holds
  if (!/\/v1\/traces\/?$/.test(url.pathname)) {
    url.pathname = `${url.pathname.replace(/\/+$/, '')}/v1/traces`;
  }
  return url;
}

function safeHeader(name: string, value: string): boolean {
  try {
    validateHeaderName(name);
    validateHeaderValue(name, value);
    return true;
  } catch (error) {
    // an invalid header would make every http.request() throw: drop it once, here
    reportError(`invalid header ${JSON.stringify(name)} dropped`, error);
    return false;
  }
}

/** Endpoint, headers, timeouts. Never throws. */
export function resolveTransport(
  options: LoupeTransportOptions,
  env: Env = process.env,
): ResolvedTransport {
  const endpoint = stringOption('endpoint', options.endpoint, env.LOUPE_ENDPOINT);
  let url = endpoint === undefined ? undefined : tracesUrl(endpoint);
  if (url === undefined) {
    if (endpoint !== undefined) invalid('endpoint', endpoint, 'an http(s) URL', DEFAULT_ENDPOINT);
    url = tracesUrl(DEFAULT_ENDPOINT)!;
  }
  const headers: Record<string, string> = {};
  if (options.headers !== undefined && options.headers !== null) {
    if (typeof options.headers === 'object') {
      for (const [k, v] of Object.entries(options.headers)) {
        if (typeof v === 'string' && safeHeader(k, v)) headers[k.toLowerCase()] = v;
      }
    } else invalid('headers', options.headers, 'an object', '{}');
  }
  const apiKey = stringOption('apiKey', options.apiKey, env.LOUPE_API_KEY);
  if (apiKey === undefined) {
    reportWarning('no API key (option apiKey or LOUPE_API_KEY): the collector will refuse exports');
  } else if (safeHeader('x-api-key', apiKey)) headers['x-api-key'] = apiKey;
  const project = stringOption('project', options.project, env.LOUPE_PROJECT);
  if (project !== undefined && safeHeader('x-loupe-project', project)) {
    headers['x-loupe-project'] = project;
  }
  const initialDelayMillis = numberOption(
    'retryInitialDelayMillis',
    options.retryInitialDelayMillis,
    1_000,
    positive,
    'a positive number',
  );
  return {
    url,
    headers,
    exportTimeoutMillis: numberOption(
      'exportTimeoutMillis',
      options.exportTimeoutMillis,
      10_000,
      positive,
      'a positive number',
    ),
    retry: {
      initialDelayMillis,
      maxDelayMillis: numberOption(
        'retryMaxDelayMillis',
        options.retryMaxDelayMillis,
        Math.max(30_000, initialDelayMillis),
        (n) => n >= initialDelayMillis,
        `a number ≥ retryInitialDelayMillis (${initialDelayMillis})`,
      ),
    },
  };
}

/** Queue bounds and timings. Never throws. */
export function resolveQueue(options: LoupeQueueOptions): ResolvedQueue {
  const maxQueueSize = numberOption(
    'maxQueueSize',
    options.maxQueueSize,
    2_048,
    positiveInt,
    'a positive integer',
  );
  let maxExportBatchSize = numberOption(
    'maxExportBatchSize',
    options.maxExportBatchSize,
    512,
    positiveInt,
    'a positive integer',
  );
  if (maxExportBatchSize > maxQueueSize) {
    // a batch can never be larger than what the queue holds (same rule as OTel's BatchSpanProcessor)
    if (options.maxExportBatchSize !== undefined) {
      reportWarning(
        `maxExportBatchSize ${maxExportBatchSize} > maxQueueSize; using ${maxQueueSize}`,
      );
    }
    maxExportBatchSize = maxQueueSize;
  }
  return {
    maxQueueSize,
    maxExportBatchSize,
    scheduledDelayMillis: numberOption(
      'scheduledDelayMillis',
      options.scheduledDelayMillis,
      1_000,
      nonNegative,
      'a number ≥ 0',
    ),
    flushTimeoutMillis: numberOption(
      'flushTimeoutMillis',
      options.flushTimeoutMillis,
      10_000,
      positive,
      'a positive number',
    ),
  };
}

/** `LOUPE_SAMPLE_RATE` / `sampleRate`: the share of traces kept, in [0, 1]; default 1. */
export function resolveSampleRate(value: unknown, env: Env = process.env): number {
  const ok = (n: number) => n >= 0 && n <= 1;
  if (value !== undefined && value !== null)
    return numberOption('sampleRate', value, 1, ok, 'a number in [0, 1]');
  return numberOption('LOUPE_SAMPLE_RATE', env.LOUPE_SAMPLE_RATE, 1, ok, 'a number in [0, 1]');
}

const isHide = (v: unknown): v is HideOption => typeof v === 'boolean' || typeof v === 'function';

/** The payload options that were given and are valid (others are reported and left as they are). */
export function resolvePayload(options: LoupePayloadOptions): Partial<PayloadOptions> {
  const out: Partial<PayloadOptions> = {};
  if (options.redact !== undefined) {
    if (typeof options.redact === 'function') out.redact = options.redact;
    else invalid('redact', options.redact, 'a function', 'no redaction');
  }
  if (options.hideInputs !== undefined) {
    if (isHide(options.hideInputs)) out.hideInputs = options.hideInputs;
    else invalid('hideInputs', options.hideInputs, 'a boolean or a function', false);
  }
  if (options.hideOutputs !== undefined) {
    if (isHide(options.hideOutputs)) out.hideOutputs = options.hideOutputs;
    else invalid('hideOutputs', options.hideOutputs, 'a boolean or a function', false);
  }
  return out;
}

/** Options from untyped JavaScript may be anything; treat a non-object as "no options". */
export function asOptions<T extends object>(options: unknown, where: string): T {
  if (options === undefined || options === null) return {} as T;
  if (typeof options === 'object') return options as T;
  invalid(`${where} options`, options, 'an object', 'defaults');
  return {} as T;
}
