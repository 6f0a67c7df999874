/**
 * Hand-built OTLP/JSON requests (the wire shape of §5.5 of the reference), for
 * mapping fixtures and malformed-input cases the real SDK would never produce.
 */
import {
  decodeLogsRequest,
  decodeTraceRequest,
} from '../../../../src/modules/ingest/otlp/otlp-decode.js';
import { mapSpans, type MapContext } from '../../../../src/modules/ingest/otlp/otlp-map.js';
import type { RunUpsert } from '../../../../src/modules/ingest/run-upsert.js';

export const TRACE_ID = 'fd2b4d68d647cb5359cb6ce5effdc4c0';
export const START = '1795759490314000123';
export const END = '1795759490382630000';

/** JS value → OTLP/JSON AnyValue, like the OTel JS transformer does. */
export function anyValue(v: unknown): unknown {
  if (v === null || v === undefined) return {};
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (typeof v === 'number') return Number.isInteger(v) ? { intValue: v } : { doubleValue: v };
  if (Buffer.isBuffer(v)) return { bytesValue: v.toString('base64') };
  if (Array.isArray(v)) return { arrayValue: { values: v.map(anyValue) } };
  return { kvlistValue: { values: keyValues(v as Record<string, unknown>) } };
}

export function keyValues(attrs: Record<string, unknown>): unknown[] {
  return Object.entries(attrs).map(([key, value]) => ({ key, value: anyValue(value) }));
}

export interface TestSpan {
  traceId?: string;
  spanId?: string;
  parentSpanId?: string;
  name?: string;
  kind?: number | string;
  start?: string;
  end?: string;
  attributes?: Record<string, unknown>;
  events?: Array<{ name: string; time?: string; attributes?: Record<string, unknown> }>;
  status?: { code?: number | string; message?: string };
}

let counter = 0;
export const nextSpanId = (): string => (++counter).toString(16).padStart(16, 'a');

export function spanJson(s: TestSpan): Record<string, unknown> {
  return {
    traceId: s.traceId ?? TRACE_ID,
    spanId: s.spanId ?? nextSpanId(),
    ...(s.parentSpanId === undefined ? {} : { parentSpanId: s.parentSpanId }),
    name: s.name ?? 'span',
    kind: s.kind ?? 1,
    startTimeUnixNano: s.start ?? START,
    endTimeUnixNano: s.end ?? END,
    attributes: keyValues(s.attributes ?? {}),
    events: (s.events ?? []).map((e) => ({
      name: e.name,
      timeUnixNano: e.time ?? START,
      attributes: keyValues(e.attributes ?? {}),
    })),
    status: s.status ?? { code: 0 },
  };
}

export interface RequestOptions {
  resource?: Record<string, unknown>;
  scope?: { name: string; version?: string };
}

export function traceBody(
  spans: Array<TestSpan | Record<string, unknown>>,
  o: RequestOptions = {},
  raw = false,
): Buffer {
  return Buffer.from(
    JSON.stringify({
      resourceSpans: [
        {
          resource: { attributes: keyValues(o.resource ?? { 'service.name': 'probe' }) },
          scopeSpans: [
            {
              scope: o.scope ?? { name: 'test-scope', version: '1.0.0' },
              spans: raw ? spans : spans.map((s) => spanJson(s as TestSpan)),
            },
          ],
        },
      ],
    }),
  );
}

export interface TestLog {
  traceId?: string | null;
  spanId?: string | null;
  time?: string;
  eventName?: string;
  body?: unknown;
  attributes?: Record<string, unknown>;
}

export function logsBody(records: TestLog[], o: RequestOptions = {}): Buffer {
  return Buffer.from(
    JSON.stringify({
      resourceLogs: [
        {
          resource: { attributes: keyValues(o.resource ?? { 'service.name': 'probe' }) },
          scopeLogs: [
            {
              scope: o.scope ?? { name: 'test-scope' },
              logRecords: records.map((r) => ({
                timeUnixNano: r.time ?? START,
                observedTimeUnixNano: r.time ?? START,
                severityNumber: 9,
                ...(r.eventName === undefined ? {} : { eventName: r.eventName }),
                ...(r.body === undefined ? {} : { body: anyValue(r.body) }),
                attributes: keyValues(r.attributes ?? {}),
                ...(r.traceId === null ? {} : { traceId: r.traceId ?? TRACE_ID }),
                ...(r.spanId === null || r.spanId === undefined ? {} : { spanId: r.spanId }),
              })),
            },
          ],
        },
      ],
    }),
  );
}

export const decodeJsonSpans = (spans: TestSpan[], o?: RequestOptions) =>
  decodeTraceRequest(traceBody(spans, o), 'json');
export const decodeJsonLogs = (records: TestLog[], o?: RequestOptions) =>
  decodeLogsRequest(logsBody(records, o), 'json');

/** Decodes and maps one span; fails the test if it was rejected. */
export function mapOne(span: TestSpan, o?: RequestOptions, ctx: MapContext = {}): RunUpsert {
  const result = mapSpans(decodeJsonSpans([span], o), ctx);
  if (result.rejected > 0 || result.runs.length !== 1)
    throw new Error(`span not mapped: ${result.errors.join('; ')}`);
  return result.runs[0]!;
}
