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

export type Ruled = { hidden: true } | { hidden: false; value: unknown };

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
  if (opts.redact === undefined) return { hidden: false, value };
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
  return { hidden: false, value: redacted };
}

export const HIDDEN_JSON = JSON.stringify(HIDDEN);

/** Serialises with the configured size limits. */
export function toJson(value: unknown): string {
  return serializeJson(value, getPayloadOptions().limits);
}
