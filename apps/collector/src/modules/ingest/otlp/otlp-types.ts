/**
 * The one normalised shape both OTLP encodings (protobuf, JSON) decode into. Ids are
 * lower-case hex, timestamps are decimal strings of unix nanoseconds ("0" = unset),
 * attribute values are plain JSON (kvlist → object, array → array, int64 beyond
 * 2^53 → decimal string, bytes → base64 string, empty AnyValue → null).
 */
import type { JsonObject, JsonValue } from '../run-upsert.js';

export type SpanKindName =
  'UNSPECIFIED' | 'INTERNAL' | 'SERVER' | 'CLIENT' | 'PRODUCER' | 'CONSUMER';
export type StatusCodeName = 'UNSET' | 'OK' | 'ERROR';

export interface NormalisedResource {
  attributes: JsonObject;
  droppedAttributesCount: number;
}

export interface NormalisedScope {
  name: string;
  version: string;
  attributes: JsonObject;
  droppedAttributesCount: number;
}

export interface NormalisedEvent {
  name: string;
  timeUnixNano: string;
  attributes: JsonObject;
  droppedAttributesCount: number;
}

export interface NormalisedLink {
  traceId: string;
  spanId: string;
  traceState: string;
  attributes: JsonObject;
  droppedAttributesCount: number;
  flags: number;
}

export interface NormalisedSpan {
  traceId: string;
  spanId: string;
  /** null for a root span (absent, empty or all-zero parent id) */
  parentSpanId: string | null;
  traceState: string;
  flags: number;
  name: string;
  kind: SpanKindName;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: JsonObject;
  droppedAttributesCount: number;
  events: NormalisedEvent[];
  droppedEventsCount: number;
  links: NormalisedLink[];
  droppedLinksCount: number;
  status: { code: StatusCodeName; message: string };
}

/**
 * Items that failed validation are not in `spans`/`logRecords`; they are counted in
 * `rejected` with reasons in `errors`, so the receiver can answer `partial_success`.
 */
export interface Rejections {
  rejected: number;
  errors: string[];
}

export interface NormalisedScopeSpans extends Rejections {
  scope: NormalisedScope;
  schemaUrl: string;
  spans: NormalisedSpan[];
}

export interface NormalisedResourceSpans {
  resource: NormalisedResource;
  schemaUrl: string;
  scopeSpans: NormalisedScopeSpans[];
}

export interface NormalisedLogRecord {
  timeUnixNano: string;
  observedTimeUnixNano: string;
  severityNumber: number;
  severityText: string;
  body: JsonValue;
  attributes: JsonObject;
  droppedAttributesCount: number;
  flags: number;
  /** null when the record is not correlated with a trace */
  traceId: string | null;
  spanId: string | null;
  eventName: string;
}

export interface NormalisedScopeLogs extends Rejections {
  scope: NormalisedScope;
  schemaUrl: string;
  logRecords: NormalisedLogRecord[];
}

export interface NormalisedResourceLogs {
  resource: NormalisedResource;
  schemaUrl: string;
  scopeLogs: NormalisedScopeLogs[];
}
