import { getPayloadOptions, type RedactInfo } from './state.js';
import { reportError } from './report.js';
import { serializeJson } from './serialize.js';

/** Marker stored instead of a hidden payload, so a reviewer sees it was hidden on purpose. */
export const HIDDEN = { __loupe_hidden__: true };

/**
 * The JSON text for a run's inputs or outputs after hide → redact → serialise. Never
 * throws; a throwing redact hook hides the payload (fail closed: a redaction bug must
 * not leak what it was meant to remove).
 */
export function payloadJson(value: unknown, info: RedactInfo): string {
  const opts = getPayloadOptions();
  const hide = info.kind === 'inputs' ? opts.hideInputs : opts.hideOutputs;
  try {
    if (hide === true || (typeof hide === 'function' && hide(value, info)))
      return JSON.stringify(HIDDEN);
  } catch (error) {
    reportError(`hide${info.kind === 'inputs' ? 'Inputs' : 'Outputs'} callback threw`, error);
    return JSON.stringify(HIDDEN);
  }
  let v = value;
  if (opts.redact !== undefined) {
    try {
      v = opts.redact(value, info);
    } catch (error) {
      reportError('redact callback threw; payload hidden', error);
      return JSON.stringify(HIDDEN);
    }
    // spans are written synchronously, so an async redact cannot be awaited; its
    // Promise would serialise to {} and its eventual rejection would be unhandled
    if (isThenable(v)) {
      Promise.resolve(v).catch(() => undefined);
      reportError(
        'redact callback',
        new Error('returned a Promise (must be synchronous); payload hidden'),
      );
      return JSON.stringify(HIDDEN);
    }
  }
  return serializeJson(v, opts.limits);
}

function isThenable(v: unknown): boolean {
  try {
    return (
      (typeof v === 'object' || typeof v === 'function') &&
      v !== null &&
      typeof (v as { then?: unknown }).then === 'function'
    );
  } catch {
    return false;
  }
}
