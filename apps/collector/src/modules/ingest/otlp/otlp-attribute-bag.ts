import type { JsonObject, JsonValue } from '../run-upsert.js';
import { setKey, unflatten } from './otlp-json.js';

/**
 * Span attributes with "consumed" bookkeeping: extractors mark exactly the keys whose
 * values they mapped to a run field, and everything else ends up in
 * `otel.attributes` — a value that lost a precedence contest is kept, not dropped.
 */
export class AttributeBag {
  private readonly used = new Set<string>();
  /** Keys listed once: extractors ask for a dozen prefixes per span (hot in bench:ingest). */
  private readonly keys: string[];
  /**
   * The extractors ask for ~60 keys per span, most of them absent: a Map answers those
   * without the prototype-safe own-property check (measured: a third of the lookups' cost).
   */
  private readonly values = new Map<string, JsonValue>();

  constructor(readonly attrs: JsonObject) {
    this.keys = Object.keys(attrs);
    for (const k of this.keys) {
      const v = attrs[k];
      if (v !== null && v !== undefined) this.values.set(k, v);
    }
  }

  get(key: string): JsonValue | undefined {
    return this.values.get(key);
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  use(...keys: string[]): void {
    for (const k of keys) this.used.add(k);
  }

  /** Converts the value; marks the key consumed only when conversion succeeded. */
  take<T>(key: string, convert: (v: JsonValue) => T | undefined): T | undefined {
    const v = this.get(key);
    if (v === undefined) return undefined;
    const out = convert(v);
    if (out !== undefined) this.used.add(key);
    return out;
  }

  /** First key (in precedence order) whose value converts. */
  first<T>(keys: readonly string[], convert: (v: JsonValue) => T | undefined): T | undefined {
    for (const k of keys) {
      const out = this.take(k, convert);
      if (out !== undefined) return out;
    }
    return undefined;
  }

  /** `[suffix, value]` for every key under `prefix` (not marked). */
  entries(prefix: string): Array<[string, JsonValue]> {
    const out: Array<[string, JsonValue]> = [];
    for (const k of this.keys) {
      if (k.length > prefix.length && k.startsWith(prefix)) {
        const v = this.values.get(k);
        if (v !== undefined) out.push([k.slice(prefix.length), v]);
      }
    }
    return out;
  }

  hasPrefix(prefix: string): boolean {
    return this.keys.some((k) => k.length > prefix.length && k.startsWith(prefix));
  }

  /**
   * Flattened `prefix.0.a.b` keys as one nested value, plus the keys it placed, for
   * the caller to `use` once the value has actually been mapped.
   */
  unflatten(prefix: string): { value: JsonValue; keys: string[] } | undefined {
    const entries = this.entries(prefix);
    if (entries.length === 0) return undefined;
    const { value, skipped } = unflatten(entries);
    const skip = new Set(skipped);
    const keys = entries.filter(([suffix]) => !skip.has(suffix)).map(([suffix]) => prefix + suffix);
    return { value, keys };
  }

  leftovers(): JsonObject {
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(this.attrs)) if (!this.used.has(k)) setKey(out, k, v);
    return out;
  }
}
