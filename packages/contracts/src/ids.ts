/**
 * Run ids for OpenTelemetry spans, shared by the collector (which stores them) and the
 * SDK (whose getCurrentRunId() must return exactly the stored id). Dependency-free.
 */

/** Formats 32 hex digits as a UUID (8-4-4-4-12). */
export function hexToUuid(hex32: string): string {
  const h = hex32.toLowerCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/**
 * Deterministic run id of a span: the first 16 hex digits of the trace id followed by
 * the 16 hex digits of the span id. Re-sent spans map to the same id (idempotent
 * ingest); a child computes its parent's id before the parent has arrived.
 */
export function runIdFromOtel(traceIdHex: string, spanIdHex: string): string {
  return hexToUuid(traceIdHex.slice(0, 16) + spanIdHex);
}

/** The trace id of a span (32 hex digits) as a UUID. */
export function traceIdFromOtel(traceIdHex: string): string {
  return hexToUuid(traceIdHex);
}
