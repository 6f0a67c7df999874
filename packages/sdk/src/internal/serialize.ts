/**
 * How values become run inputs/outputs (JSON). Rules, in order:
 * - Error → {name, message, stack}; Date → ISO string; BigInt → decimal string;
 *   Buffer/TypedArray → {type, byteLength, base64 (first 1 KiB)}; Map → object (string
 *   keys) or [[k, v], …]; Set → array; function → "[Function name]"; symbol → its
 *   description; undefined → omitted in objects, null in arrays; circular → "[Circular]";
 *   objects deeper than MAX_DEPTH → "[Depth limit]".
 * - Strings longer than maxStringChars are cut and end with "…[truncated N chars]".
 * - If the whole JSON is still longer than maxChars it is replaced by
 *   {"__loupe_truncated__": true, "length": N, "preview": "<first chars>"}.
 * Never throws: a value that cannot be serialised becomes "[Unserializable]".
 */
export interface SerializeLimits {
  maxChars: number;
  maxStringChars: number;
}

export const DEFAULT_LIMITS: SerializeLimits = { maxChars: 256 * 1024, maxStringChars: 64 * 1024 };
const MAX_DEPTH = 32;
const BINARY_PREVIEW = 1024;

export const TRUNCATED_KEY = '__loupe_truncated__';

function cutString(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max)}…[truncated ${s.length - max} chars]`;
}

function toPlain(
  value: unknown,
  limits: SerializeLimits,
  seen: WeakSet<object>,
  depth: number,
): unknown {
  switch (typeof value) {
    case 'string':
      return cutString(value, limits.maxStringChars);
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'boolean':
      return value;
    case 'bigint':
      return value.toString();
    case 'undefined':
      return undefined;
    case 'symbol':
      return value.description ?? 'Symbol()';
    case 'function':
      return `[Function ${value.name || 'anonymous'}]`;
  }
  if (value === null) return null;
  const obj = value as object;
  if (seen.has(obj)) return '[Circular]';
  if (depth >= MAX_DEPTH) return '[Depth limit]';
  if (obj instanceof Date) return Number.isNaN(obj.getTime()) ? 'Invalid Date' : obj.toISOString();
  if (obj instanceof Error) {
    const out: Record<string, unknown> = { name: obj.name, message: obj.message };
    if (obj.stack !== undefined) out.stack = cutString(obj.stack, 4096);
    return out;
  }
  if (ArrayBuffer.isView(obj) || obj instanceof ArrayBuffer) {
    const bytes =
      obj instanceof ArrayBuffer
        ? new Uint8Array(obj)
        : new Uint8Array(obj.buffer, obj.byteOffset, obj.byteLength);
    return {
      type: Buffer.isBuffer(obj) ? 'Buffer' : obj.constructor.name,
      byteLength: bytes.byteLength,
      base64: Buffer.from(bytes.subarray(0, BINARY_PREVIEW)).toString('base64'),
      ...(bytes.byteLength > BINARY_PREVIEW ? { truncated: true } : {}),
    };
  }
  seen.add(obj);
  try {
    if (obj instanceof Map) {
      const entries = [...obj.entries()];
      if (entries.every(([k]) => typeof k === 'string')) {
        const out: Record<string, unknown> = {};
        for (const [k, v] of entries) out[k as string] = toPlain(v, limits, seen, depth + 1);
        return out;
      }
      return entries.map(([k, v]) => [
        toPlain(k, limits, seen, depth + 1),
        toPlain(v, limits, seen, depth + 1),
      ]);
    }
    if (obj instanceof Set) return [...obj].map((v) => toPlain(v, limits, seen, depth + 1) ?? null);
    if (Array.isArray(obj)) return obj.map((v) => toPlain(v, limits, seen, depth + 1) ?? null);
    const json = (obj as { toJSON?: unknown }).toJSON;
    if (typeof json === 'function')
      return toPlain((json as () => unknown).call(obj), limits, seen, depth + 1);
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(obj)) {
      const v = toPlain((obj as Record<string, unknown>)[key], limits, seen, depth + 1);
      if (v !== undefined) out[key] = v;
    }
    return out;
  } finally {
    seen.delete(obj);
  }
}

/** JSON text for a span attribute; never throws. */
export function serializeJson(value: unknown, limits: SerializeLimits = DEFAULT_LIMITS): string {
  let text: string;
  try {
    text = JSON.stringify(toPlain(value, limits, new WeakSet(), 0) ?? null);
  } catch {
    return JSON.stringify('[Unserializable]');
  }
  if (text.length <= limits.maxChars) return text;
  return JSON.stringify({
    [TRUNCATED_KEY]: true,
    length: text.length,
    preview: text.slice(0, Math.min(4096, limits.maxChars)),
  });
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * Inputs of a call: one plain-object argument is the inputs; one other argument is
 * {input: x}; none is {}; several are {args: [...]} (LangSmith's convention, so runs
 * from both SDKs look alike).
 */
export function inputsFromArgs(args: readonly unknown[]): unknown {
  if (args.length === 0) return {};
  if (args.length === 1) return isPlainObject(args[0]) ? args[0] : { input: args[0] };
  return { args };
}

/** Outputs of a call: a plain object is the outputs; anything else is {output: x}. */
export function outputsFromResult(result: unknown): unknown {
  return isPlainObject(result) ? result : { output: result };
}
