/**
 * Small JSON helpers shared by the OTLP decoder and mappers. Everything here is
 * defensive: attribute values come from arbitrary clients.
 */
import type { JsonObject, JsonValue } from '../run-upsert.js';

/**
 * Deepest nesting we accept in an attribute value or an embedded JSON string. Real
 * GenAI payloads nest < 10 levels; the limit exists so that recursive code (ours,
 * JSON.stringify, the database's JSON parser) can never run out of stack.
 */
export const MAX_JSON_DEPTH = 64;

export function isObject(value: unknown): value is JsonObject {
  return (
    typeof value === 'object' && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value)
  );
}

/** Own-property write that cannot touch the prototype (keys come from clients). */
export function setKey(target: JsonObject, key: string, value: JsonValue): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else {
    target[key] = value;
  }
}

export function getOwn(target: JsonObject, key: string): JsonValue | undefined {
  return Object.prototype.hasOwnProperty.call(target, key) ? target[key] : undefined;
}

/** Iterative depth check: a recursive one is exactly what a hostile payload breaks. */
export function depthWithin(value: unknown, limit: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth > limit) return false;
    const children = Array.isArray(v) ? (v as unknown[]) : Object.values(v);
    for (const child of children) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return true;
}

/**
 * Parses a JSON-string attribute leniently: anything that is not JSON (or nests too
 * deeply) is returned unchanged as the original string, so nothing is ever lost.
 */
export function parseJsonLenient(value: string): JsonValue {
  const t = value.trim();
  if (t === '') return value;
  const c = t[0];
  const looksJson =
    c === '{' ||
    c === '[' ||
    c === '"' ||
    t === 'null' ||
    t === 'true' ||
    t === 'false' ||
    /^-?\d/.test(t);
  if (!looksJson) return value;
  try {
    const parsed = JSON.parse(t) as JsonValue;
    return depthWithin(parsed, MAX_JSON_DEPTH) ? parsed : value;
  } catch {
    return value;
  }
}

/** A string attribute that should hold JSON → parsed; other values as they are. */
export function parseIfString(value: JsonValue): JsonValue {
  return typeof value === 'string' ? parseJsonLenient(value) : value;
}

/** Non-empty string, or a number rendered as a string (ids are often numeric). */
export function asText(value: JsonValue | undefined): string | undefined {
  if (typeof value === 'string') return value.length > 0 ? value : undefined;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

/** Token counts and the like: numbers or numeric strings → non-negative integers. */
export function asCount(value: JsonValue | undefined): number | undefined {
  let n: number | undefined;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(value)) n = Number(value);
  if (n === undefined || !Number.isFinite(n) || n < 0) return undefined;
  return Math.round(n);
}

export function asNumber(value: JsonValue | undefined): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && value.trim() !== '') {
    const n = Number(value);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

export function asBool(value: JsonValue | undefined): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (value === 'true') return true;
  if (value === 'false') return false;
  return undefined;
}

/** Wraps a non-object value so inputs/outputs are always objects (as in LangSmith). */
export function asObject(value: JsonValue, key: string): JsonObject {
  if (isObject(value)) return value;
  const out: JsonObject = {};
  setKey(out, key, value);
  return out;
}

/** Stable serialisation (sorted keys) for hashing. Values are depth-bounded. */
export function canonicalJson(value: JsonValue): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isObject(value)) {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k] ?? null)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * Unflattens dotted keys (`0.message.role`) into nested values; objects whose keys
 * are all array indices become arrays ordered by index (sparse indices are
 * compacted: `0` and `2` give a two-element array). Keys that collide with a
 * leaf already placed are skipped and returned, so the caller can leave them in
 * place rather than lose them.
 */
export function unflatten(entries: Array<[string, JsonValue]>): {
  value: JsonValue;
  skipped: string[];
} {
  const root: JsonObject = {};
  // only the nodes built here are rewritten; leaf values belong to the caller
  const built = new Set<JsonObject>([root]);
  const skipped: string[] = [];
  for (const [path, leaf] of entries) {
    const parts = path.split('.');
    // keys are client-chosen: a key with thousands of dots must not become a
    // thousands-deep object
    if (parts.length > MAX_JSON_DEPTH) {
      skipped.push(path);
      continue;
    }
    let node: JsonObject = root;
    let ok = true;
    for (let i = 0; i < parts.length - 1; i++) {
      const part = parts[i]!;
      const next = getOwn(node, part);
      if (next === undefined) {
        const created: JsonObject = {};
        built.add(created);
        setKey(node, part, created);
        node = created;
      } else if (isObject(next) && built.has(next)) {
        node = next;
      } else {
        ok = false;
        break;
      }
    }
    const last = parts[parts.length - 1]!;
    if (!ok || getOwn(node, last) !== undefined) {
      skipped.push(path);
      continue;
    }
    setKey(node, last, leaf);
  }
  return { value: indexObjectsToArrays(root, built), skipped };
}

function indexObjectsToArrays(value: JsonValue, built: Set<JsonObject>): JsonValue {
  if (!isObject(value) || !built.has(value)) return value;
  const keys = Object.keys(value);
  for (const k of keys) setKey(value, k, indexObjectsToArrays(value[k] ?? null, built));
  if (keys.length > 0 && keys.every((k) => /^\d+$/.test(k))) {
    return keys
      .map((k) => [Number(k), value[k] ?? null] as const)
      .sort((a, b) => a[0] - b[0])
      .map(([, v]) => v);
  }
  return value;
}
