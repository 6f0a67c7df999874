/**
 * hide → redact for LLM call content, with the rules of `internal/payload.ts`
 * (`payloadJson`): a hidden payload is replaced by the HIDDEN marker, a throwing or
 * asynchronous hook hides the payload (fail closed: a redaction bug must not leak what
 * it was meant to remove). The difference: an LLM call's inputs end up in several
 * attributes (`gen_ai.input.messages`, `gen_ai.system_instructions`), so this returns
 * the redacted value for the caller to split and serialise, instead of one JSON text.
 */
import { HIDDEN } from '../internal/payload.js';
import { reportError } from '../internal/report.js';
import { serializeJson } from '../internal/serialize.js';
import { getPayloadOptions, type RedactInfo } from '../internal/state.js';
import { isThenable } from './values.js';

/** `redacted`: a hook returned `value`, which may hold anything (Maps, class instances…). */
export type Ruled = { hidden: true } | { hidden: false; value: unknown; redacted: boolean };

const HIDDEN_RESULT: Ruled = { hidden: true };

export function applyPayloadRules(value: unknown, info: RedactInfo): Ruled {
  const opts = getPayloadOptions();
  const hide = info.kind === 'inputs' ? opts.hideInputs : opts.hideOutputs;
  if (hide === true) return HIDDEN_RESULT;
  if (typeof hide === 'function') {
    try {
      if (hide(value, info)) return HIDDEN_RESULT;
    } catch (error) {
      reportError(`hide${info.kind === 'inputs' ? 'Inputs' : 'Outputs'} callback threw`, error);
      return HIDDEN_RESULT;
    }
  }
  if (opts.redact === undefined) return { hidden: false, value, redacted: false };
  let redacted: unknown;
  try {
    redacted = opts.redact(value, info);
  } catch (error) {
    reportError('redact callback threw; payload hidden', error);
    return HIDDEN_RESULT;
  }
  if (isThenable(redacted)) {
    // spans are written synchronously: an async redact cannot be awaited
    Promise.resolve(redacted).catch(() => undefined);
    reportError(
      'redact callback',
      new Error('returned a Promise (must be synchronous); payload hidden'),
    );
    return HIDDEN_RESULT;
  }
  return { hidden: false, value: redacted, redacted: true };
}

export const HIDDEN_JSON = JSON.stringify(HIDDEN);

/**
 * Serialises with the configured size limits. Unredacted message content is built from
 * request and response bodies, which the provider SDK itself sends and parses as JSON, so
 * plain `JSON.stringify` is both faithful (it is what went over the wire) and ~3× faster
 * than the general serializer's walk (measured: 0.8 vs 2.3 µs for a two-message chat).
 * The walk runs for whatever a redact hook returned, and whenever the fast result could
 * need its rules: a value JSON cannot express (cycle, BigInt), or text long enough that a
 * string or the whole might exceed the limits.
 */
export function toJson(value: unknown, fromWire: boolean): string {
  const limits = getPayloadOptions().limits;
  if (fromWire) {
    let text: string | undefined;
    try {
      text = JSON.stringify(value);
    } catch {
      text = undefined;
    }
    if (
      text !== undefined &&
      text.length <= limits.maxChars &&
      text.length <= limits.maxStringChars
    )
      return text;
  }
  return serializeJson(value, limits);
}
