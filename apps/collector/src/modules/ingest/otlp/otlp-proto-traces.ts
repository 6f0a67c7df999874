/**
 * OTLP/protobuf trace requests read straight from the wire into the normalised shape
 * (otlp-types.ts), without first building protobufjs message objects. This is the hot
 * path of `POST /v1/traces`: it halved decoding time in bench:ingest. The wire reading
 * (protobufjs' Reader, strings, ids, timestamps, AnyValue) is in otlp-proto-wire.ts; this
 * file walks the trace messages' field numbers (see otlp.proto) and applies the same rules
 * as the generic normaliser (otlp-normalise.ts), which stays the reference for OTLP/JSON
 * and logs — a test decodes the same requests both ways and compares.
 *
 * Errors: a body that is not valid protobuf (truncated, bad wire type, strings that are
 * not UTF-8) throws `WireError` and the whole request is refused; a problem inside one
 * span (bad ids, no start time, attribute values nested too deeply) rejects that span
 * only; a bad resource or scope rejects the spans below it.
 */
import protobuf from 'protobufjs';
import { DecodeIssue, KINDS, STATUS_CODES, reject } from './otlp-normalise-values.js';
import {
  I32,
  I64,
  LEN,
  VARINT,
  WireError,
  attributesInto,
  fixed64Decimal,
  hexBytes,
  range,
  skip,
  string,
  tag,
  type Range,
  type Reader,
} from './otlp-proto-wire.js';
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
