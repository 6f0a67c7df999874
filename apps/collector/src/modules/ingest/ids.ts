/** Formats 32 hex digits as a UUID (8-4-4-4-12). */
export function hexToUuid(hex32: string): string {
  const h = hex32.toLowerCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/**
 * Deterministic run id for an OTLP span: the first 16 hex digits of the trace id
 * followed by the 16 hex digits of the span id. Re-sent spans map to the same id, so
 * ingest is idempotent; a child computes its parent's id the same way before the
 * parent has arrived.
 */
export function runIdFromOtel(traceIdHex: string, spanIdHex: string): string {
  return hexToUuid(traceIdHex.slice(0, 16) + spanIdHex);
}

/** OTLP trace id (32 hex) as a UUID string. */
export function traceIdFromOtel(traceIdHex: string): string {
  return hexToUuid(traceIdHex);
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID_RE.test(value);
}
