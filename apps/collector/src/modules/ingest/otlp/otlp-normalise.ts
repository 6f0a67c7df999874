/**
 * Turns a decoded OTLP request — protobufjs `toObject` output (ids as Buffers, longs
 * as strings) or parsed OTLP/JSON (hex ids, longs as strings or numbers, enums as
 * ints or names) — into the normalised shape of otlp-types.ts.
 *
 * Structure errors above the span/log-record level throw `DecodeIssue` (the body is
 * not an OTLP request). Errors inside one span or record — bad ids, bad timestamps,
 * malformed or too-deep attribute values — reject only that item; a bad resource or
 * scope rejects the items below it.
 */
import type { JsonObject, JsonValue } from '../run-upsert.js';
import { MAX_JSON_DEPTH, setKey } from './otlp-json.js';
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
  SpanKindName,
  StatusCodeName,
} from './otlp-types.js';

export class DecodeIssue extends Error {
  override name = 'DecodeIssue';
}

/** Reasons kept per scope; the count stays exact, the messages are for humans. */
const MAX_ERRORS_PER_SCOPE = 20;
const MAX_U64 = (1n << 64n) - 1n;
const MIN_I64 = -(1n << 63n);
const MAX_I64 = (1n << 63n) - 1n;
const KINDS: readonly SpanKindName[] = [
  'UNSPECIFIED',
  'INTERNAL',
  'SERVER',
  'CLIENT',
  'PRODUCER',
  'CONSUMER',
];
const STATUS_CODES: readonly StatusCodeName[] = ['UNSET', 'OK', 'ERROR'];

type Rec = Record<string, unknown>;

function isRec(v: unknown): v is Rec {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/** OTLP/JSON uses lowerCamelCase; proto3 JSON parsers also accept the proto names. */
function pick(o: Rec, camel: string, snake?: string): unknown {
  const v = Object.prototype.hasOwnProperty.call(o, camel) ? o[camel] : undefined;
  if (v !== undefined && v !== null) return v;
  return snake !== undefined && Object.prototype.hasOwnProperty.call(o, snake)
    ? o[snake]
    : undefined;
}

/** Short, safe rendering of a bad value for an error message (values can be huge). */
function preview(v: unknown): string {
  if (typeof v === 'string')
    return v.length > 40 ? `${JSON.stringify(v.slice(0, 40))}...` : JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v;
}

function list(v: unknown, what: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new DecodeIssue(`${what} must be an array, got ${preview(v)}`);
  return v;
}

function str(v: unknown, what: string): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new DecodeIssue(`${what} must be a string, got ${preview(v)}`);
  return v;
}

function uint(v: unknown): number {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
  if (typeof v === 'string' && /^\d{1,10}$/.test(v)) return Number(v);
  return 0;
}

function reject(r: Rejections, message: string, count = 1): void {
  r.rejected += count;
  if (r.errors.length < MAX_ERRORS_PER_SCOPE) r.errors.push(message);
}

// ---- ids ----

const HEX_RE = /^[0-9a-fA-F]+$/;
const BASE64_RE = /^[A-Za-z0-9+/_-]+={0,2}$/;

/** Lower-case hex of an id, or null when absent/empty. Validates the byte length. */
function idHex(v: unknown, bytes: number, what: string): string | null {
  if (v === undefined || v === null) return null;
  if (v instanceof Uint8Array) {
    if (v.length === 0) return null;
    if (v.length !== bytes)
      throw new DecodeIssue(`${what} must be ${bytes} bytes, got ${v.length}`);
    return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex');
  }
  if (typeof v !== 'string')
    throw new DecodeIssue(`${what} must be a hex string, got ${preview(v)}`);
  if (v === '') return null;
  if (v.length === bytes * 2 && HEX_RE.test(v)) return v.toLowerCase();
  // Non-conformant emitters send proto3-JSON base64 ids; accept them only when the
  // string round-trips exactly, so hex typos are not reinterpreted as base64.
  if (BASE64_RE.test(v)) {
    const buf = Buffer.from(v, 'base64');
    const canonical = v.replace(/=+$/, '').replace(/-/g, '+').replace(/_/g, '/');
    if (buf.length === bytes && buf.toString('base64').replace(/=+$/, '') === canonical)
      return buf.toString('hex');
  }
  throw new DecodeIssue(`${what} must be ${bytes * 2} hex digits, got ${preview(v)}`);
}

function requiredId(v: unknown, bytes: number, what: string): string {
  const hex = idHex(v, bytes, what);
  if (hex === null) throw new DecodeIssue(`${what} is missing`);
  if (/^0+$/.test(hex)) throw new DecodeIssue(`${what} is all zeros`);
  return hex;
}

function optionalId(v: unknown, bytes: number, what: string): string | null {
  const hex = idHex(v, bytes, what);
  return hex === null || /^0+$/.test(hex) ? null : hex;
}

// ---- scalars ----

/** protobufjs decodes 64-bit fields as Long objects (from the `long` package). */
function isLong(
  v: unknown,
): v is { low: number; high: number; unsigned: boolean; toString(): string } {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as { low?: unknown }).low === 'number' &&
    typeof (v as { high?: unknown }).high === 'number'
  );
}

function nanos(v: unknown, what: string): string {
  if (v === undefined || v === null) return '0';
  // fixed64 from protobuf: an unsigned Long's decimal text is already canonical (hot path)
  if (isLong(v)) {
    if (v.unsigned) return v.toString();
    v = v.toString();
  }
  let n: bigint | undefined;
  if (typeof v === 'string' && /^\d{1,20}$/.test(v)) n = BigInt(v);
  else if (typeof v === 'number' && Number.isInteger(v) && v >= 0) n = BigInt(v);
  if (n === undefined || n > MAX_U64) {
    throw new DecodeIssue(`${what} must be unsigned integer nanoseconds, got ${preview(v)}`);
  }
  return n.toString();
}

/** int64 → number when exactly representable, else its decimal string. */
function int64(v: unknown): JsonValue {
  if (isLong(v)) v = v.toString();
  let n: bigint | undefined;
  if (typeof v === 'string' && /^-?\d{1,20}$/.test(v)) n = BigInt(v);
  // a JSON number above 2^53 has already lost digits; BigInt keeps the value it has,
  // which matches what protobuf gives for the same JS-originated integer
  else if (typeof v === 'number' && Number.isInteger(v)) n = BigInt(v);
  if (n === undefined || n < MIN_I64 || n > MAX_I64) {
    throw new DecodeIssue(`intValue must be a 64-bit integer, got ${preview(v)}`);
  }
  const asNum = Number(n);
  return Number.isSafeInteger(asNum) ? asNum : n.toString();
}

function double(v: unknown): JsonValue {
  // JSON cannot hold NaN/±Infinity: they travel as the proto3-JSON strings
  if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
  if (v === 'NaN' || v === 'Infinity' || v === '-Infinity') return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  throw new DecodeIssue(`doubleValue must be a number, got ${preview(v)}`);
}

function enumName<T extends string>(
  v: unknown,
  names: readonly T[],
  prefix: string,
  what: string,
): T {
  if (v === undefined || v === null) return names[0]!;
  if (typeof v === 'number') return names[v] ?? names[0]!;
  if (typeof v === 'string') {
    if (/^\d+$/.test(v)) return names[Number(v)] ?? names[0]!;
    const name = v.toUpperCase().replace(prefix, '');
    return names.find((n) => n === name) ?? names[0]!;
  }
  throw new DecodeIssue(`${what} must be an enum number or name, got ${preview(v)}`);
}

// ---- AnyValue / attributes ----

function anyValue(v: unknown, depth: number): JsonValue {
  if (depth > MAX_JSON_DEPTH) {
    throw new DecodeIssue(`attribute value nests deeper than ${MAX_JSON_DEPTH} levels`);
  }
  if (v === undefined || v === null) return null;
  if (!isRec(v)) throw new DecodeIssue(`AnyValue must be an object, got ${preview(v)}`);
  let x: unknown;
  if ((x = pick(v, 'stringValue', 'string_value')) != null) {
    if (typeof x !== 'string')
      throw new DecodeIssue(`stringValue must be a string, got ${preview(x)}`);
    return x;
  }
  if ((x = pick(v, 'boolValue', 'bool_value')) != null) {
    if (typeof x !== 'boolean')
      throw new DecodeIssue(`boolValue must be a boolean, got ${preview(x)}`);
    return x;
  }
  if ((x = pick(v, 'intValue', 'int_value')) != null) return int64(x);
  if ((x = pick(v, 'doubleValue', 'double_value')) != null) return double(x);
  if ((x = pick(v, 'arrayValue', 'array_value')) != null) {
    if (!isRec(x)) throw new DecodeIssue(`arrayValue must be an object, got ${preview(x)}`);
    return list(pick(x, 'values'), 'arrayValue.values').map((item) => anyValue(item, depth + 1));
  }
  if ((x = pick(v, 'kvlistValue', 'kvlist_value')) != null) {
    if (!isRec(x)) throw new DecodeIssue(`kvlistValue must be an object, got ${preview(x)}`);
    return keyValues(pick(x, 'values'), depth + 1, 'kvlistValue.values');
  }
  if ((x = pick(v, 'bytesValue', 'bytes_value')) != null) {
    if (x instanceof Uint8Array)
      return Buffer.from(x.buffer, x.byteOffset, x.byteLength).toString('base64');
    if (typeof x === 'string') return x; // OTLP/JSON: already base64
    throw new DecodeIssue(`bytesValue must be base64, got ${preview(x)}`);
  }
  return null;
}

/** `repeated KeyValue` → object; `depth` is the nesting level of the values. */
function keyValues(v: unknown, depth: number, what: string): JsonObject {
  const out: JsonObject = {};
  for (const kv of list(v, what)) {
    if (!isRec(kv)) throw new DecodeIssue(`${what} entries must be {key, value} objects`);
    const key = str(kv.key, 'attribute key');
    setKey(out, key, anyValue(kv.value, depth));
  }
  return out;
}

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
