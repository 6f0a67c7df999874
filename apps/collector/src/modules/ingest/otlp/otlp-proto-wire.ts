/**
 * Protobuf wire reading shared by Loupe's OTLP decoders: field walking on protobufjs'
 * Reader, strings (UTF-8 checked, as proto3 requires), ids as hex, fixed64 timestamps as
 * exact decimals, and OTLP's AnyValue / KeyValue into plain JSON (the rules of the generic
 * normaliser in otlp-normalise-values.ts). The message structure lives in the decoders
 * (otlp-proto-traces.ts).
 */
import { isUtf8 } from 'node:buffer';
import type protobuf from 'protobufjs';
import type { JsonObject, JsonValue } from '../run-upsert.js';
import { MAX_JSON_DEPTH, setKey } from './otlp-json.js';
import { DecodeIssue } from './otlp-normalise-values.js';

/** The body is not protobuf (or not UTF-8 where the schema says string). */
export class WireError extends Error {
  override name = 'WireError';
}

export type Reader = protobuf.Reader;

export const VARINT = 0;
export const I64 = 1;
export const LEN = 2;
export const I32 = 5;

export interface Range {
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

export function tag(r: Reader): number {
  const t = r.uint32();
  if (t >>> 3 === 0) throw new WireError(`illegal tag at offset ${r.pos}`);
  return t;
}

/**
 * Reads a length prefix and returns where the field ends; the reader stays at the
 * field's first byte (callers decode up to the end, then set `pos` to it).
 */
export function fieldEnd(r: Reader): number {
  const len = r.uint32();
  const end = r.pos + len;
  if (end > r.len) throw new WireError(`index out of range: ${r.pos} + ${len} > ${r.len}`);
  return end;
}

/** The byte range of a length-delimited field; the reader moves past it. */
export function range(r: Reader): Range {
  const end = fieldEnd(r);
  const out = { start: r.pos, end };
  r.pos = end;
  return out;
}

export function skip(r: Reader, t: number): void {
  try {
    r.skipType(t & 7, 0, t >>> 3);
  } catch (e) {
    throw new WireError(e instanceof Error ? e.message : String(e));
  }
}

/** Short strings (attribute keys, names) are checked for ASCII in place: no allocation. */
const SHORT = 64;

export function string(r: Reader): string {
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
export function hexBytes(r: Reader): string {
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
export function fixed64Decimal(r: Reader): string {
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
export function attributesInto(r: Reader, target: JsonObject): void {
  keyValue(r, target, 1);
}
