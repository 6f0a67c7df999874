/**
 * Small, dependency-free value parsers shared by the LangSmith mappers: timestamps
 * (ISO strings with µs or epoch-ms numbers), dotted orders, and JSON shape guards.
 * They never throw themselves; callers turn a `{ problem }` into a field-specific 400.
 */
import type { JsonObject, JsonValue } from '../run-upsert.js';

export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = <T>(problem: string): Parsed<T> => ({ ok: false, problem });

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Short, log-safe rendering of an offending value for error messages. */
export function describe(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

const ISO_RE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

/** Epoch-ms values below this (1973-03-03) are almost certainly epoch *seconds*. */
const MIN_PLAUSIBLE_EPOCH_MS = 1e11;
const MAX_DATE_MS = 8.64e15;

function isLeap(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/**
 * Parses a LangSmith timestamp. Accepts:
 * - ISO 8601 strings (`2026-11-27T05:56:06.770001Z`); a missing zone means UTC (LangSmith's
 *   own convention); fractional digits beyond milliseconds are truncated (JS `Date`).
 * - finite numbers: epoch **milliseconds** (what the JS SDK sends for `end_time`).
 * `null`/`undefined` → `undefined` (not carried).
 */
export function parseTimestamp(value: unknown): Parsed<Date | undefined> {
  if (value === undefined || value === null) return ok(undefined);
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0 || value > MAX_DATE_MS) {
      return fail(`must be epoch milliseconds or an ISO 8601 string; got ${describe(value)}`);
    }
    if (value < MIN_PLAUSIBLE_EPOCH_MS) {
      return fail(`must be epoch milliseconds; ${value} looks like epoch seconds`);
    }
    return ok(new Date(value));
  }
  if (typeof value !== 'string') {
    return fail(`must be an ISO 8601 string or epoch milliseconds; got ${describe(value)}`);
  }
  const m = ISO_RE.exec(value.trim());
  if (!m) return fail(`is not an ISO 8601 timestamp: ${describe(value)}`);
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone = 'Z'] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (
    month < 1 ||
    month > 12 ||
    day < 1 ||
    day > monthLength(year, month) ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  ) {
    return fail(`is not a valid date/time: ${describe(value)}`);
  }
  const ms = Number(frac.padEnd(3, '0').slice(0, 3));
  let offsetMinutes = 0;
  if (zone !== 'Z' && zone !== 'z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = digits.length > 2 ? Number(digits.slice(2, 4)) : 0;
    if (oh > 23 || om > 59) return fail(`has an invalid UTC offset: ${describe(value)}`);
    offsetMinutes = sign * (oh * 60 + om);
  }
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, ms);
  const time = date.getTime() - offsetMinutes * 60_000;
  if (!Number.isFinite(time)) return fail(`is out of range: ${describe(value)}`);
  return ok(new Date(time));
}

function monthLength(year: number, month: number): number {
  if (month === 2) return isLeap(year) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

export interface DottedSegment {
  /** `YYYYMMDDTHHMMSSffffffZ` */
  stamp: string;
  /** run id (lower-case UUID) */
  id: string;
}

const SEGMENT_RE =
  /^(\d{8}T\d{12}Z)([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;

/**
 * Splits a dotted order (`<stamp><run_id>` per ancestor, root first, joined by `.`).
 * Returns `undefined` when any segment is malformed.
 */
export function parseDottedOrder(value: string): DottedSegment[] | undefined {
  if (value.length === 0) return undefined;
  const segments: DottedSegment[] = [];
  for (const raw of value.split('.')) {
    const m = SEGMENT_RE.exec(raw);
    if (!m || m[1] === undefined || m[2] === undefined) return undefined;
    segments.push({ stamp: m[1], id: m[2].toLowerCase() });
  }
  return segments;
}

/** `YYYYMMDDTHHMMSSffffffZ` for a time; `orderMicros` (0-999) fills the sub-ms digits. */
export function dottedStamp(time: Date, orderMicros = 0): string {
  const iso = time.toISOString(); // 2026-11-27T05:56:06.770Z
  const micros = String(Math.max(0, Math.min(999, Math.trunc(orderMicros)))).padStart(3, '0');
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}${iso.slice(20, 23)}${micros}Z`;
}

/**
 * Builds a dotted order from a run's ancestry, root first, the run itself last. Offered
 * to the repository for runs that arrived without one (OTLP): only the repository knows
 * the ancestors, so it must supply the chain.
 */
export function buildDottedOrder(
  chainRootFirst: readonly { id: string; startTime: Date }[],
): string {
  return chainRootFirst.map((r) => `${dottedStamp(r.startTime)}${r.id.toLowerCase()}`).join('.');
}

/** ISO string with microseconds taken from a dotted-order stamp (`...T055606770001Z`). */
export function isoFromDottedStamp(stamp: string): string {
  return `${stamp.slice(0, 4)}-${stamp.slice(4, 6)}-${stamp.slice(6, 8)}T${stamp.slice(9, 11)}:${stamp.slice(11, 13)}:${stamp.slice(13, 15)}.${stamp.slice(15, 21)}Z`;
}

/** Non-negative finite number, or a numeric string (LangSmith serialises costs as strings). */
export function parseAmount(value: unknown): Parsed<number | undefined> {
  if (value === undefined || value === null) return ok(undefined);
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) {
    return fail(`must be a non-negative number; got ${describe(value)}`);
  }
  return ok(n);
}

/** Lenient variant for values found inside free-form metadata/outputs: junk is ignored. */
export function looseAmount(value: unknown): number | undefined {
  const parsed = parseAmount(value);
  return parsed.ok ? parsed.value : undefined;
}

export function asJson(value: unknown): JsonValue {
  return value as JsonValue;
}
