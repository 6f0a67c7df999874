/**
 * OTLP/protobuf trace requests read straight from the wire into the normalised shape
 * (otlp-types.ts), without first building protobufjs message objects. This is the hot
 * path of `POST /v1/traces`: it halved decoding time in bench:ingest. protobufjs'
 * Reader still does the wire work (varints, fixed-width numbers, bounds); this file only
 * walks the OTLP field numbers (see otlp.proto) and applies the same rules as the
 * generic normaliser (otlp-normalise.ts), which stays the reference for OTLP/JSON and
 * logs — a test decodes the same requests both ways and compares.
 *
 * Errors: a body that is not valid protobuf (truncated, bad wire type, strings that are
 * not UTF-8) throws `WireError` and the whole request is refused; a problem inside one
 * span (bad ids, no start time, attribute values nested too deeply) rejects that span
 * only; a bad resource or scope rejects the spans below it.
 */
import { isUtf8 } from 'node:buffer';
import protobuf from 'protobufjs';
import type { JsonObject, JsonValue } from '../run-upsert.js';
import { MAX_JSON_DEPTH, setKey } from './otlp-json.js';
import { DecodeIssue, KINDS, STATUS_CODES, reject } from './otlp-normalise-values.js';
import type {
  NormalisedEvent,
  NormalisedLink,
  NormalisedResource,
  NormalisedResourceSpans,
  NormalisedScope,
  NormalisedScopeSpans,
  NormalisedSpan,
  StatusCodeName,
} from './otlp-types.js';

/** The body is not protobuf (or not UTF-8 where the schema says string). */
export class WireError extends Error {
  override name = 'WireError';
}

type Reader = protobuf.Reader;

const VARINT = 0;
const I64 = 1;
const LEN = 2;
const I32 = 5;

interface Range {
  start: number;
  end: number;
}

/**
 * Node's Buffer has per-encoding slice methods (what `toString(encoding, start, end)`
 * dispatches to; protobufjs uses them too). Calling them directly skips the dispatch,
 * measured at a tenth of decoding time; `toString` remains the fallback.
 */
type Slice = (this: Buffer, start: number, end: number) => string;
const bufferMethods = Buffer.prototype as unknown as Record<string, Slice | undefined>;
const sliceOf = (method: string, encoding: BufferEncoding): Slice =>
  bufferMethods[method] ??
  function (this: Buffer, start: number, end: number) {
    return this.toString(encoding, start, end);
  };
const utf8Slice = sliceOf('utf8Slice', 'utf8');
const latin1Slice = sliceOf('latin1Slice', 'latin1');
const hexSlice = sliceOf('hexSlice', 'hex');

function tag(r: Reader): number {
  const t = r.uint32();
  if (t >>> 3 === 0) throw new WireError(`illegal tag at offset ${r.pos}`);
  return t;
}

/**
 * Reads a length prefix and returns where the field ends; the reader stays at the
 * field's first byte (callers decode up to the end, then set `pos` to it).
 */
function fieldEnd(r: Reader): number {
  const len = r.uint32();
  const end = r.pos + len;
  if (end > r.len) throw new WireError(`index out of range: ${r.pos} + ${len} > ${r.len}`);
  return end;
}

/** The byte range of a length-delimited field; the reader moves past it. */
function range(r: Reader): Range {
  const end = fieldEnd(r);
  const out = { start: r.pos, end };
  r.pos = end;
  return out;
}

function skip(r: Reader, t: number): void {
  try {
    r.skipType(t & 7, 0, t >>> 3);
  } catch (e) {
    throw new WireError(e instanceof Error ? e.message : String(e));
  }
}

/** Short strings (attribute keys, names) are checked for ASCII in place: no allocation. */
const SHORT = 64;

function string(r: Reader): string {
  const end = fieldEnd(r);
  const start = r.pos;
  r.pos = end;
  if (start === end) return '';
  const buf = r.buf as Buffer;
  if (end - start < SHORT) {
    let ascii = true;
    for (let i = start; i < end; i++) {
      if (buf[i]! >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) return latin1Slice.call(buf, start, end);
  }
  if (!isUtf8(buf.subarray(start, end))) throw new WireError('invalid UTF-8 in a string field');
  return utf8Slice.call(buf, start, end);
}

/** An id's bytes as lower-case hex; '' when empty. Length is checked by the caller. */
function hexBytes(r: Reader): string {
  const end = fieldEnd(r);
  const start = r.pos;
  r.pos = end;
  return start === end ? '' : hexSlice.call(r.buf as Buffer, start, end);
}

/**
 * fixed64 → canonical decimal string without BigInt (hot: two per span). With
 * n = hi·2³² + lo and hi = a·10⁶ + b: n = (a·2³² + c)·10⁶ + d where b·2³² + lo =
 * c·10⁶ + d; every intermediate stays below 2⁵³.
 */
function fixed64Decimal(r: Reader): string {
  const lo = r.fixed32();
  const hi = r.fixed32();
  if (hi < 0x200000) return String(hi * 4294967296 + lo);
  const a = Math.floor(hi / 1e6);
  const rest = (hi - a * 1e6) * 4294967296 + lo;
  const c = Math.floor(rest / 1e6);
  const d = rest - c * 1e6;
  return String(a * 4294967296 + c) + String(d).padStart(6, '0');
}

// ---- AnyValue ----

function anyValue(r: Reader, end: number, depth: number): JsonValue {
  if (depth > MAX_JSON_DEPTH) {
    throw new DecodeIssue(`attribute value nests deeper than ${MAX_JSON_DEPTH} levels`);
  }
  let value: JsonValue = null;
  while (r.pos < end) {
    const t = tag(r);
    switch (t) {
      case (1 << 3) | LEN:
        value = string(r);
        break;
      case (2 << 3) | VARINT:
        value = r.bool();
        break;
      case (3 << 3) | VARINT: {
        const l = r.int64() as unknown as { toNumber(): number; toString(): string } | number;
        if (typeof l === 'number') value = l;
        else {
          const n = l.toNumber();
          value = Number.isSafeInteger(n) ? n : l.toString();
        }
        break;
      }
      case (4 << 3) | I64: {
        const d = r.double();
        value = Number.isFinite(d) ? d : String(d);
        break;
      }
      case (5 << 3) | LEN: {
        const arrEnd = fieldEnd(r);
        const items: JsonValue[] = [];
        while (r.pos < arrEnd) {
          const it = tag(r);
          if (it === ((1 << 3) | LEN)) {
            const itemEnd = fieldEnd(r);
            items.push(anyValue(r, itemEnd, depth + 1));
            r.pos = itemEnd;
          } else skip(r, it);
        }
        r.pos = arrEnd;
        value = items;
        break;
      }
      case (6 << 3) | LEN: {
        const kvEnd = fieldEnd(r);
        value = keyValueList(r, kvEnd, 1, depth + 1);
        r.pos = kvEnd;
        break;
      }
      case (7 << 3) | LEN: {
        const bEnd = fieldEnd(r);
        value = (r.buf as Buffer).toString('base64', r.pos, bEnd);
        r.pos = bEnd;
        break;
      }
      default:
        skip(r, t);
    }
  }
  return value;
}

/** Reads `repeated KeyValue` entries with field number `field` up to `end` into an object. */
function keyValueList(r: Reader, end: number, field: number, depth: number): JsonObject {
  const out: JsonObject = {};
  while (r.pos < end) {
    const t = tag(r);
    if (t === ((field << 3) | LEN)) keyValue(r, out, depth);
    else skip(r, t);
  }
  return out;
}

function keyValue(r: Reader, out: JsonObject, depth: number): void {
  const end = fieldEnd(r);
  let key = '';
  let value: JsonValue = null;
  while (r.pos < end) {
    const t = tag(r);
    if (t === ((1 << 3) | LEN)) key = string(r);
    else if (t === ((2 << 3) | LEN)) {
      const valueEnd = fieldEnd(r);
      value = anyValue(r, valueEnd, depth);
      r.pos = valueEnd;
    } else skip(r, t);
  }
  r.pos = end;
  setKey(out, key, value);
}

/** Attributes met once per message: several `attributes` fields merge in wire order. */
function attributesInto(r: Reader, target: JsonObject): void {
  keyValue(r, target, 1);
}

// ---- resource / scope ----

function resource(r: Reader, rg: Range): NormalisedResource {
  const out: NormalisedResource = { attributes: {}, droppedAttributesCount: 0 };
  r.pos = rg.start;
  while (r.pos < rg.end) {
    const t = tag(r);
    if (t === ((1 << 3) | LEN)) attributesInto(r, out.attributes);
    else if (t === ((2 << 3) | VARINT)) out.droppedAttributesCount = r.uint32();
    else skip(r, t);
  }
  return out;
}

function emptyScope(): NormalisedScope {
  return { name: '', version: '', attributes: {}, droppedAttributesCount: 0 };
}

function scope(r: Reader, rg: Range): NormalisedScope {
  const out = emptyScope();
  r.pos = rg.start;
  while (r.pos < rg.end) {
    const t = tag(r);
    if (t === ((1 << 3) | LEN)) out.name = string(r);
    else if (t === ((2 << 3) | LEN)) out.version = string(r);
    else if (t === ((3 << 3) | LEN)) attributesInto(r, out.attributes);
    else if (t === ((4 << 3) | VARINT)) out.droppedAttributesCount = r.uint32();
    else skip(r, t);
  }
  return out;
}

// ---- spans ----

function idOrIssue(hex: string, bytes: number, what: string, required: boolean): string | null {
  if (hex === '') {
    if (required) throw new DecodeIssue(`${what} is missing`);
    return null;
  }
  if (hex.length !== bytes * 2)
    throw new DecodeIssue(`${what} must be ${bytes} bytes, got ${hex.length / 2}`);
  if (/^0+$/.test(hex)) {
    if (required) throw new DecodeIssue(`${what} is all zeros`);
    return null;
  }
  return hex;
}

function event(r: Reader, rg: Range): NormalisedEvent {
  const out: NormalisedEvent = {
    name: '',
    timeUnixNano: '0',
    attributes: {},
    droppedAttributesCount: 0,
  };
  r.pos = rg.start;
  while (r.pos < rg.end) {
    const t = tag(r);
    if (t === ((1 << 3) | I64)) out.timeUnixNano = fixed64Decimal(r);
    else if (t === ((2 << 3) | LEN)) out.name = string(r);
    else if (t === ((3 << 3) | LEN)) attributesInto(r, out.attributes);
    else if (t === ((4 << 3) | VARINT)) out.droppedAttributesCount = r.uint32();
    else skip(r, t);
  }
  return out;
}

/** A link with unusable ids is dropped (null) and counted like an SDK-dropped link. */
function link(r: Reader, rg: Range): NormalisedLink | null {
  let traceId = '';
  let spanId = '';
  const out: NormalisedLink = {
    traceId: '',
    spanId: '',
    traceState: '',
    attributes: {},
    droppedAttributesCount: 0,
    flags: 0,
  };
  r.pos = rg.start;
  while (r.pos < rg.end) {
    const t = tag(r);
    if (t === ((1 << 3) | LEN)) traceId = hexBytes(r);
    else if (t === ((2 << 3) | LEN)) spanId = hexBytes(r);
    else if (t === ((3 << 3) | LEN)) out.traceState = string(r);
    else if (t === ((4 << 3) | LEN)) attributesInto(r, out.attributes);
    else if (t === ((5 << 3) | VARINT)) out.droppedAttributesCount = r.uint32();
    else if (t === ((6 << 3) | I32)) out.flags = r.fixed32();
    else skip(r, t);
  }
  try {
    out.traceId = idOrIssue(traceId, 16, 'link traceId', true)!;
    out.spanId = idOrIssue(spanId, 8, 'link spanId', true)!;
  } catch (e) {
    if (e instanceof DecodeIssue) return null;
    throw e;
  }
  return out;
}

function status(r: Reader, rg: Range): { code: StatusCodeName; message: string } {
  let code: StatusCodeName = 'UNSET';
  let message = '';
  r.pos = rg.start;
  while (r.pos < rg.end) {
    const t = tag(r);
    if (t === ((2 << 3) | LEN)) message = string(r);
    else if (t === ((3 << 3) | VARINT)) code = STATUS_CODES[r.int32()] ?? 'UNSET';
    else skip(r, t);
  }
  return { code, message };
}

function span(r: Reader, rg: Range): NormalisedSpan {
  let traceId = '';
  let spanId = '';
  let parentSpanId = '';
  let statusRange: Range | undefined;
  const eventRanges: Range[] = [];
  const linkRanges: Range[] = [];
  const out: NormalisedSpan = {
    traceId: '',
    spanId: '',
    parentSpanId: null,
    traceState: '',
    flags: 0,
    name: '',
    kind: 'UNSPECIFIED',
    startTimeUnixNano: '0',
    endTimeUnixNano: '0',
    attributes: {},
    droppedAttributesCount: 0,
    events: [],
    droppedEventsCount: 0,
    links: [],
    droppedLinksCount: 0,
    status: { code: 'UNSET', message: '' },
  };
  r.pos = rg.start;
  while (r.pos < rg.end) {
    const t = tag(r);
    switch (t) {
      case (1 << 3) | LEN:
        traceId = hexBytes(r);
        break;
      case (2 << 3) | LEN:
        spanId = hexBytes(r);
        break;
      case (3 << 3) | LEN:
        out.traceState = string(r);
        break;
      case (4 << 3) | LEN:
        parentSpanId = hexBytes(r);
        break;
      case (5 << 3) | LEN:
        out.name = string(r);
        break;
      case (6 << 3) | VARINT:
        out.kind = KINDS[r.int32()] ?? 'UNSPECIFIED';
        break;
      case (7 << 3) | I64:
        out.startTimeUnixNano = fixed64Decimal(r);
        break;
      case (8 << 3) | I64:
        out.endTimeUnixNano = fixed64Decimal(r);
        break;
      case (9 << 3) | LEN:
        attributesInto(r, out.attributes);
        break;
      case (10 << 3) | VARINT:
        out.droppedAttributesCount = r.uint32();
        break;
      case (11 << 3) | LEN:
        eventRanges.push(range(r));
        break;
      case (12 << 3) | VARINT:
        out.droppedEventsCount = r.uint32();
        break;
      case (13 << 3) | LEN:
        linkRanges.push(range(r));
        break;
      case (14 << 3) | VARINT:
        out.droppedLinksCount = r.uint32();
        break;
      case (15 << 3) | LEN:
        statusRange = range(r);
        break;
      case (16 << 3) | I32:
        out.flags = r.fixed32();
        break;
      default:
        skip(r, t);
    }
  }
  out.traceId = idOrIssue(traceId, 16, 'traceId', true)!;
  out.spanId = idOrIssue(spanId, 8, 'spanId', true)!;
  if (out.startTimeUnixNano === '0') throw new DecodeIssue('startTimeUnixNano is missing');
  for (const lr of linkRanges) {
    const l = link(r, lr);
    if (l) out.links.push(l);
    else out.droppedLinksCount++;
  }
  if (statusRange) out.status = status(r, statusRange);
  out.parentSpanId = idOrIssue(parentSpanId, 8, 'parentSpanId', false);
  for (const er of eventRanges) out.events.push(event(r, er));
  return out;
}

/** `#index (spanIdHex)` for rejection messages; the span id is looked up again on error. */
function describeSpan(r: Reader, rg: Range, index: number): string {
  try {
    r.pos = rg.start;
    let id = '';
    while (r.pos < rg.end) {
      const t = tag(r);
      if (t === ((2 << 3) | LEN)) id = hexBytes(r);
      else skip(r, t);
    }
    return id !== '' && id.length <= 64 ? `#${index} (${id})` : `#${index}`;
  } catch {
    return `#${index}`;
  }
}

function issueText(e: unknown): string {
  if (e instanceof DecodeIssue) return e.message;
  throw e;
}

function scopeSpans(r: Reader, rg: Range, resourceError: string | undefined): NormalisedScopeSpans {
  // index the message first: the span count must be known before anything is rejected
  let scopeRange: Range | undefined;
  const spanRanges: Range[] = [];
  let schemaUrl = '';
  r.pos = rg.start;
  while (r.pos < rg.end) {
    const t = tag(r);
    if (t === ((1 << 3) | LEN)) scopeRange = range(r);
    else if (t === ((2 << 3) | LEN)) spanRanges.push(range(r));
    else if (t === ((3 << 3) | LEN)) schemaUrl = string(r);
    else skip(r, t);
  }
  const out: NormalisedScopeSpans = {
    scope: emptyScope(),
    schemaUrl: '',
    spans: [],
    rejected: 0,
    errors: [],
  };
  if (resourceError !== undefined) {
    if (spanRanges.length > 0) reject(out, resourceError, spanRanges.length);
    return out;
  }
  try {
    if (scopeRange) out.scope = scope(r, scopeRange);
    out.schemaUrl = schemaUrl;
  } catch (e) {
    const text = issueText(e);
    out.scope = emptyScope();
    if (spanRanges.length > 0) reject(out, `scope rejected: ${text}`, spanRanges.length);
    return out;
  }
  spanRanges.forEach((sr, i) => {
    try {
      out.spans.push(span(r, sr));
    } catch (e) {
      const text = issueText(e);
      reject(out, `span ${describeSpan(r, sr, i)}: ${text}`);
    }
  });
  return out;
}

function resourceSpans(r: Reader, rg: Range): NormalisedResourceSpans {
  let resourceRange: Range | undefined;
  const scopeRanges: Range[] = [];
  let schemaUrl = '';
  r.pos = rg.start;
  while (r.pos < rg.end) {
    const t = tag(r);
    if (t === ((1 << 3) | LEN)) resourceRange = range(r);
    else if (t === ((2 << 3) | LEN)) scopeRanges.push(range(r));
    else if (t === ((3 << 3) | LEN)) schemaUrl = string(r);
    else skip(r, t);
  }
  let res: NormalisedResource = { attributes: {}, droppedAttributesCount: 0 };
  let resourceError: string | undefined;
  try {
    if (resourceRange) res = resource(r, resourceRange);
  } catch (e) {
    resourceError = `resource rejected: ${issueText(e)}`;
  }
  return {
    resource: res,
    schemaUrl,
    scopeSpans: scopeRanges.map((sr) => scopeSpans(r, sr, resourceError)),
  };
}

/**
 * ExportTraceServiceRequest bytes → normalised resource spans.
 * @throws WireError when the body is not a protobuf message of that shape.
 */
export function decodeTraceProtobuf(body: Buffer): NormalisedResourceSpans[] {
  const r = protobuf.Reader.create(body);
  const ranges: Range[] = [];
  try {
    while (r.pos < r.len) {
      const t = tag(r);
      if (t === ((1 << 3) | LEN)) ranges.push(range(r));
      else skip(r, t);
    }
    return ranges.map((rg) => resourceSpans(r, rg));
  } catch (e) {
    if (e instanceof WireError || e instanceof DecodeIssue) throw e;
    // protobufjs' reader signals truncated varints / fixed fields with RangeError
    throw new WireError(e instanceof Error ? e.message : String(e));
  }
}
