/**
 * Scalar and value converters of the OTLP normaliser: ids, nanoseconds, int64, AnyValue,
 * key-value lists. Shared by both encodings (protobuf messages and OTLP/JSON).
 */
import type { JsonObject, JsonValue } from '../run-upsert.js';
import { MAX_JSON_DEPTH, setKey } from './otlp-json.js';
import type { Rejections, SpanKindName, StatusCodeName } from './otlp-types.js';

export class DecodeIssue extends Error {
  override name = 'DecodeIssue';
}

/** Reasons kept per scope; the count stays exact, the messages are for humans. */
export const MAX_ERRORS_PER_SCOPE = 20;
export const MAX_U64 = (1n << 64n) - 1n;
export const MIN_I64 = -(1n << 63n);
export const MAX_I64 = (1n << 63n) - 1n;
export const KINDS: readonly SpanKindName[] = [
  'UNSPECIFIED',
  'INTERNAL',
  'SERVER',
  'CLIENT',
  'PRODUCER',
  'CONSUMER',
];
export const STATUS_CODES: readonly StatusCodeName[] = ['UNSET', 'OK', 'ERROR'];

export type Rec = Record<string, unknown>;

export function isRec(v: unknown): v is Rec {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/** OTLP/JSON uses lowerCamelCase; proto3 JSON parsers also accept the proto names. */
export function pick(o: Rec, camel: string, snake?: string): unknown {
  const v = Object.prototype.hasOwnProperty.call(o, camel) ? o[camel] : undefined;
  if (v !== undefined && v !== null) return v;
  return snake !== undefined && Object.prototype.hasOwnProperty.call(o, snake)
    ? o[snake]
    : undefined;
}

/** Short, safe rendering of a bad value for an error message (values can be huge). */
export function preview(v: unknown): string {
  if (typeof v === 'string')
    return v.length > 40 ? `${JSON.stringify(v.slice(0, 40))}...` : JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v;
}

export function list(v: unknown, what: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new DecodeIssue(`${what} must be an array, got ${preview(v)}`);
  return v;
}

export function str(v: unknown, what: string): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new DecodeIssue(`${what} must be a string, got ${preview(v)}`);
  return v;
}

export function uint(v: unknown): number {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
  if (typeof v === 'string' && /^\d{1,10}$/.test(v)) return Number(v);
  return 0;
}

export function reject(r: Rejections, message: string, count = 1): void {
  r.rejected += count;
  if (r.errors.length < MAX_ERRORS_PER_SCOPE) r.errors.push(message);
}

// ---- ids ----

export const HEX_RE = /^[0-9a-fA-F]+$/;
export const BASE64_RE = /^[A-Za-z0-9+/_-]+={0,2}$/;

/** Lower-case hex of an id, or null when absent/empty. Validates the byte length. */
export function idHex(v: unknown, bytes: number, what: string): string | null {
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

export function requiredId(v: unknown, bytes: number, what: string): string {
  const hex = idHex(v, bytes, what);
  if (hex === null) throw new DecodeIssue(`${what} is missing`);
  if (/^0+$/.test(hex)) throw new DecodeIssue(`${what} is all zeros`);
  return hex;
}

export function optionalId(v: unknown, bytes: number, what: string): string | null {
  const hex = idHex(v, bytes, what);
  return hex === null || /^0+$/.test(hex) ? null : hex;
}

// ---- scalars ----

/** protobufjs decodes 64-bit fields as Long objects (from the `long` package). */
export function isLong(
  v: unknown,
): v is { low: number; high: number; unsigned: boolean; toString(): string } {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as { low?: unknown }).low === 'number' &&
    typeof (v as { high?: unknown }).high === 'number'
  );
}

export function nanos(v: unknown, what: string): string {
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
export function int64(v: unknown): JsonValue {
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

export function double(v: unknown): JsonValue {
  // JSON cannot hold NaN/±Infinity: they travel as the proto3-JSON strings
  if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
  if (v === 'NaN' || v === 'Infinity' || v === '-Infinity') return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  throw new DecodeIssue(`doubleValue must be a number, got ${preview(v)}`);
}

export function enumName<T extends string>(
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

export function anyValue(v: unknown, depth: number): JsonValue {
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
export function keyValues(v: unknown, depth: number, what: string): JsonObject {
  const out: JsonObject = {};
  for (const kv of list(v, what)) {
    if (!isRec(kv)) throw new DecodeIssue(`${what} entries must be {key, value} objects`);
    const key = str(kv.key, 'attribute key');
    setKey(out, key, anyValue(kv.value, depth));
  }
  return out;
}
