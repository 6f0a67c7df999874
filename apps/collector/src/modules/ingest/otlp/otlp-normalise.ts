/**
 * Turns a decoded OTLP request — a protobufjs message (ids as bytes, 64-bit fields as
 * Long objects; set fields are own properties) or parsed OTLP/JSON (hex ids, longs as strings or numbers, enums as
 * ints or names) — into the normalised shape of otlp-types.ts.
 *
 * Structure errors above the span/log-record level throw `DecodeIssue` (the body is
 * not an OTLP request). Errors inside one span or record — bad ids, bad timestamps,
 * malformed or too-deep attribute values — reject only that item; a bad resource or
 * scope rejects the items below it.
 */
import type { JsonObject } from '../run-upsert.js';
import {
  DecodeIssue,
  KINDS,
  STATUS_CODES,
  type Rec,
  anyValue,
  enumName,
  isRec,
  keyValues,
  list,
  nanos,
  optionalId,
  pick,
  reject,
  requiredId,
  str,
  uint,
} from './otlp-normalise-values.js';

export { DecodeIssue } from './otlp-normalise-values.js';
import type {
  NormalisedEvent,
  NormalisedLink,
  NormalisedLogRecord,
  NormalisedResource,
  NormalisedResourceLogs,
  NormalisedResourceSpans,
  NormalisedScope,
  NormalisedSpan,
  Rejections,
} from './otlp-types.js';

const attributes = (o: Rec, what: string): JsonObject =>
  keyValues(o.attributes, 1, `${what} attributes`);
const dropped = (o: Rec): number =>
  uint(pick(o, 'droppedAttributesCount', 'dropped_attributes_count'));

function resource(v: unknown): NormalisedResource {
  if (v === undefined || v === null) return { attributes: {}, droppedAttributesCount: 0 };
  if (!isRec(v)) throw new DecodeIssue('resource must be an object');
  return { attributes: attributes(v, 'resource'), droppedAttributesCount: dropped(v) };
}

function scope(v: unknown): NormalisedScope {
  if (v === undefined || v === null)
    return { name: '', version: '', attributes: {}, droppedAttributesCount: 0 };
  if (!isRec(v)) throw new DecodeIssue('scope must be an object');
  return {
    name: str(v.name, 'scope name'),
    version: str(v.version, 'scope version'),
    attributes: attributes(v, 'scope'),
    droppedAttributesCount: dropped(v),
  };
}

// ---- spans ----

function event(v: unknown): NormalisedEvent {
  if (!isRec(v)) throw new DecodeIssue('span event must be an object');
  return {
    name: str(v.name, 'event name'),
    timeUnixNano: nanos(pick(v, 'timeUnixNano', 'time_unix_nano'), 'event timeUnixNano'),
    attributes: attributes(v, 'event'),
    droppedAttributesCount: dropped(v),
  };
}

/** A link with unusable ids is dropped and counted like an SDK-dropped link. */
function link(v: unknown): NormalisedLink | null {
  if (!isRec(v)) throw new DecodeIssue('span link must be an object');
  let traceId: string;
  let spanId: string;
  try {
    traceId = requiredId(pick(v, 'traceId', 'trace_id'), 16, 'link traceId');
    spanId = requiredId(pick(v, 'spanId', 'span_id'), 8, 'link spanId');
  } catch (e) {
    if (e instanceof DecodeIssue) return null;
    throw e;
  }
  return {
    traceId,
    spanId,
    traceState: str(pick(v, 'traceState', 'trace_state'), 'link traceState'),
    attributes: attributes(v, 'link'),
    droppedAttributesCount: dropped(v),
    flags: uint(v.flags),
  };
}

function span(v: unknown): NormalisedSpan {
  if (!isRec(v)) throw new DecodeIssue('span must be an object');
  const traceId = requiredId(pick(v, 'traceId', 'trace_id'), 16, 'traceId');
  const spanId = requiredId(pick(v, 'spanId', 'span_id'), 8, 'spanId');
  const startTimeUnixNano = nanos(
    pick(v, 'startTimeUnixNano', 'start_time_unix_nano'),
    'startTimeUnixNano',
  );
  if (startTimeUnixNano === '0') throw new DecodeIssue('startTimeUnixNano is missing');
  const links: NormalisedLink[] = [];
  let badLinks = 0;
  for (const l of list(v.links, 'links')) {
    const n = link(l);
    if (n) links.push(n);
    else badLinks++;
  }
  const status = pick(v, 'status');
  if (status !== undefined && !isRec(status)) throw new DecodeIssue('status must be an object');
  return {
    traceId,
    spanId,
    parentSpanId: optionalId(pick(v, 'parentSpanId', 'parent_span_id'), 8, 'parentSpanId'),
    traceState: str(pick(v, 'traceState', 'trace_state'), 'traceState'),
    flags: uint(v.flags),
    name: str(v.name, 'span name'),
    kind: enumName(v.kind, KINDS, 'SPAN_KIND_', 'kind'),
    startTimeUnixNano,
    endTimeUnixNano: nanos(pick(v, 'endTimeUnixNano', 'end_time_unix_nano'), 'endTimeUnixNano'),
    attributes: attributes(v, 'span'),
    droppedAttributesCount: dropped(v),
    events: list(v.events, 'events').map(event),
    droppedEventsCount: uint(pick(v, 'droppedEventsCount', 'dropped_events_count')),
    links,
    droppedLinksCount: uint(pick(v, 'droppedLinksCount', 'dropped_links_count')) + badLinks,
    status: {
      code: enumName(status?.code, STATUS_CODES, 'STATUS_CODE_', 'status code'),
      message: str(status?.message, 'status message'),
    },
  };
}

function describe(v: unknown, index: number, idKey: string): string {
  let id = isRec(v) ? v[idKey] : undefined;
  if (id instanceof Uint8Array)
    id = Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString('hex');
  return typeof id === 'string' && id !== '' && id.length <= 64 ? `#${index} (${id})` : `#${index}`;
}

function message(e: unknown): string {
  if (e instanceof DecodeIssue) return e.message;
  // a RangeError here means a structure deep enough to exhaust the stack
  if (e instanceof RangeError) return `value too deeply nested (${e.message})`;
  throw e;
}

// ---- logs ----

function logRecord(v: unknown): NormalisedLogRecord {
  if (!isRec(v)) throw new DecodeIssue('log record must be an object');
  const severity = pick(v, 'severityNumber', 'severity_number');
  return {
    timeUnixNano: nanos(pick(v, 'timeUnixNano', 'time_unix_nano'), 'timeUnixNano'),
    observedTimeUnixNano: nanos(
      pick(v, 'observedTimeUnixNano', 'observed_time_unix_nano'),
      'observedTimeUnixNano',
    ),
    severityNumber: typeof severity === 'number' && Number.isInteger(severity) ? severity : 0,
    severityText: str(pick(v, 'severityText', 'severity_text'), 'severityText'),
    body: anyValue(v.body, 1),
    attributes: attributes(v, 'log record'),
    droppedAttributesCount: dropped(v),
    flags: uint(v.flags),
    traceId: optionalId(pick(v, 'traceId', 'trace_id'), 16, 'traceId'),
    spanId: optionalId(pick(v, 'spanId', 'span_id'), 8, 'spanId'),
    eventName: str(pick(v, 'eventName', 'event_name'), 'eventName'),
  };
}

interface Layout<T> {
  request: string;
  resources: [string, string];
  scopes: [string, string];
  items: [string, string];
  label: string;
  idKey: string;
  item: (v: unknown) => T;
}

interface Grouped<T> {
  resource: NormalisedResource;
  schemaUrl: string;
  scopes: Array<Rejections & { scope: NormalisedScope; schemaUrl: string; items: T[] }>;
}

/** resource → scope → items, shared by traces and logs (same nesting, other names). */
function normaliseRequest<T>(raw: unknown, l: Layout<T>): Array<Grouped<T>> {
  if (!isRec(raw)) throw new DecodeIssue(`body is not an OTLP ${l.request} object`);
  return list(pick(raw, ...l.resources), l.resources[0]).map((rRaw) => {
    if (!isRec(rRaw)) throw new DecodeIssue(`${l.resources[0]} entries must be objects`);
    // scope/item lists are checked before anything is rejected, so that a count
    // is always known and the request fails as a whole when it has no structure
    const scopesRaw = list(pick(rRaw, ...l.scopes), l.scopes[0]).map((sRaw) => {
      if (!isRec(sRaw)) throw new DecodeIssue(`${l.scopes[0]} entries must be objects`);
      return { sRaw, items: list(pick(sRaw, ...l.items), l.items[0]) };
    });
    let res: NormalisedResource = { attributes: {}, droppedAttributesCount: 0 };
    let resourceError: string | undefined;
    try {
      res = resource(rRaw.resource);
    } catch (e) {
      resourceError = `resource rejected: ${message(e)}`;
    }
    const scopes = scopesRaw.map(({ sRaw, items }) => {
      const out = {
        scope: scope(undefined),
        schemaUrl: '',
        items: [] as T[],
        rejected: 0,
        errors: [] as string[],
      };
      if (resourceError !== undefined) {
        if (items.length > 0) reject(out, resourceError, items.length);
        return out;
      }
      try {
        out.scope = scope(sRaw.scope);
        out.schemaUrl = str(pick(sRaw, 'schemaUrl', 'schema_url'), 'schemaUrl');
      } catch (e) {
        if (items.length > 0) reject(out, `scope rejected: ${message(e)}`, items.length);
        return out;
      }
      items.forEach((v, i) => {
        try {
          out.items.push(l.item(v));
        } catch (e) {
          reject(out, `${l.label} ${describe(v, i, l.idKey)}: ${message(e)}`);
        }
      });
      return out;
    });
    const schemaUrl = pick(rRaw, 'schemaUrl', 'schema_url');
    return { resource: res, schemaUrl: typeof schemaUrl === 'string' ? schemaUrl : '', scopes };
  });
}

export function normaliseTraceRequest(raw: unknown): NormalisedResourceSpans[] {
  const layout: Layout<NormalisedSpan> = {
    request: 'ExportTraceServiceRequest',
    resources: ['resourceSpans', 'resource_spans'],
    scopes: ['scopeSpans', 'scope_spans'],
    items: ['spans', 'spans'],
    label: 'span',
    idKey: 'spanId',
    item: span,
  };
  return normaliseRequest(raw, layout).map(({ resource: r, schemaUrl, scopes }) => ({
    resource: r,
    schemaUrl,
    scopeSpans: scopes.map(({ items, ...rest }) => ({ ...rest, spans: items })),
  }));
}

export function normaliseLogsRequest(raw: unknown): NormalisedResourceLogs[] {
  const layout: Layout<NormalisedLogRecord> = {
    request: 'ExportLogsServiceRequest',
    resources: ['resourceLogs', 'resource_logs'],
    scopes: ['scopeLogs', 'scope_logs'],
    items: ['logRecords', 'log_records'],
    label: 'log record',
    idKey: 'spanId',
    item: logRecord,
  };
  return normaliseRequest(raw, layout).map(({ resource: r, schemaUrl, scopes }) => ({
    resource: r,
    schemaUrl,
    scopeLogs: scopes.map(({ items, ...rest }) => ({ ...rest, logRecords: items })),
  }));
}
