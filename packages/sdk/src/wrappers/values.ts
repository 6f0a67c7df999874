/**
 * Defensive readers for provider request/response objects. The wrappers read what the
 * client was given and what the API returned as `unknown`: an SDK version we were not
 * built against, a proxy that adds or drops fields, or a caller passing `as any` params
 * must cost us an attribute, never an exception in the host's code path.
 */
import type { Attributes } from '@opentelemetry/api';

export type Rec = Record<string, unknown>;

export const isRec = (v: unknown): v is Rec =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export const num = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isFinite(v) ? v : undefined;

export const int = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isSafeInteger(v) ? v : undefined;

export const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

export const rec = (v: unknown): Rec => (isRec(v) ? v : {});

export function setStr(attrs: Attributes, key: string, v: unknown): void {
  if (typeof v === 'string' && v !== '') attrs[key] = v;
}

export function setNum(attrs: Attributes, key: string, v: unknown): void {
  if (typeof v === 'number' && Number.isFinite(v)) attrs[key] = v;
}

export function setInt(attrs: Attributes, key: string, v: unknown): void {
  if (typeof v === 'number' && Number.isSafeInteger(v)) attrs[key] = v;
}

/** `stop` may be one string or a list (OpenAI); the attribute is always a string[]. */
export function setStrings(attrs: Attributes, key: string, v: unknown): void {
  if (typeof v === 'string') attrs[key] = [v];
  else if (Array.isArray(v)) {
    const items = v.filter((x): x is string => typeof x === 'string');
    if (items.length > 0) attrs[key] = items;
  }
}

/**
 * Tool-call arguments travel as JSON text; the message schema prefers the parsed value.
 * Text that is not JSON (a model can emit anything) is kept as it came.
 */
export function parseArguments(text: unknown): unknown {
  if (typeof text !== 'string') return text ?? null;
  if (text === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** `data:<mime>;base64,<payload>` → its parts; anything else → undefined. */
export function dataUrl(url: string): { mimeType: string; base64: string } | undefined {
  if (!url.startsWith('data:')) return undefined;
  const comma = url.indexOf(',');
  const meta = url.slice(5, comma);
  if (comma < 0 || !meta.endsWith(';base64')) return undefined;
  return { mimeType: meta.slice(0, -';base64'.length), base64: url.slice(comma + 1) };
}

export function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (
    (typeof v === 'object' || typeof v === 'function') &&
    v !== null &&
    typeof (v as { then?: unknown }).then === 'function'
  );
}
