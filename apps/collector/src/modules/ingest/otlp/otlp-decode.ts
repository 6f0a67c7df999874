/**
 * OTLP/HTTP bodies in and out. Protobuf trace requests are read straight from the wire
 * (otlp-proto-traces.ts, the ingest hot path); protobuf log requests go through
 * protobufjs reflection over our own minimal schema (otlp.proto); OTLP/JSON is parsed
 * with JSON.parse — never with a generic proto3-JSON reader, which would base64-decode
 * the hex ids. All produce the normalised shape of otlp-types.ts, so the encodings give
 * identical output (tests decode the same requests every way and compare).
 */
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { undecodable } from '../../../errors.js';
import { DecodeIssue, normaliseLogsRequest, normaliseTraceRequest } from './otlp-normalise.js';
import { decodeTraceProtobuf } from './otlp-proto-traces.js';
import { WireError } from './otlp-proto-wire.js';
import type { NormalisedResourceLogs, NormalisedResourceSpans } from './otlp-types.js';

export type OtlpFormat = 'protobuf' | 'json';

export interface PartialSuccess {
  rejected: number;
  errorMessage: string;
}

const root = protobuf.loadSync(fileURLToPath(new URL('./otlp.proto', import.meta.url)));
const type = (name: string) => root.lookupType(`loupe.otlp.v1.${name}`);
const TraceResponse = type('ExportTraceServiceResponse');
const LogsRequest = type('ExportLogsServiceRequest');
const LogsResponse = type('ExportLogsServiceResponse');
const RpcStatus = type('RpcStatus');

/** Clients read at most 4 MiB of a response; our messages stay far below that. */
const MAX_ERROR_MESSAGE_CHARS = 16 * 1024;

function decodeProtobuf(t: protobuf.Type, body: Buffer): unknown {
  try {
    // The decoded message goes to the normaliser as is: its set fields are own
    // properties (unset ones live on the prototype, which the normaliser never reads),
    // so the toObject() copy of the whole tree that protobufjs offers is pure overhead —
    // measured at about a third of decoding time plus the garbage it leaves behind.
    return t.decode(body);
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    // protobufjs stops at 100 nested messages (like protoc); say what that means here
    const detail = /max depth/i.test(reason)
      ? 'messages nested too deeply (attribute values too deep)'
      : reason;
    throw undecodable(`invalid OTLP protobuf ${t.name}: ${detail}`, e);
  }
}

function decodeJson(body: Buffer, what: string): unknown {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch (e) {
    throw undecodable(`invalid OTLP/JSON ${what}: body is not valid UTF-8`, e);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw undecodable(
      `invalid OTLP/JSON ${what}: ${e instanceof Error ? e.message : String(e)}`,
      e,
    );
  }
}

function normalise<T>(raw: unknown, fn: (raw: unknown) => T, what: string): T {
  try {
    return fn(raw);
  } catch (e) {
    if (e instanceof DecodeIssue) throw undecodable(`invalid OTLP ${what}: ${e.message}`, e);
    throw e;
  }
}

/**
 * Per-span validation failures do not throw: they are counted in each scope's
 * `rejected`/`errors` (see otlp-types.ts) for the `partial_success` answer.
 * @throws LoupeError UNDECODABLE (400) when the body is not an OTLP trace request.
 */
export function decodeTraceRequest(body: Buffer, format: OtlpFormat): NormalisedResourceSpans[] {
  const what = 'ExportTraceServiceRequest';
  if (format === 'protobuf') {
    // the hot path: straight from the wire, no message objects (otlp-proto-traces.ts)
    try {
      return decodeTraceProtobuf(body);
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      throw undecodable(`invalid OTLP protobuf ${what}: ${e.message}`, e);
    }
  }
  return normalise(decodeJson(body, what), normaliseTraceRequest, what);
}

/** @throws LoupeError UNDECODABLE (400) when the body is not an OTLP logs request. */
export function decodeLogsRequest(body: Buffer, format: OtlpFormat): NormalisedResourceLogs[] {
  const what = 'ExportLogsServiceRequest';
  const raw = format === 'protobuf' ? decodeProtobuf(LogsRequest, body) : decodeJson(body, what);
  return normalise(raw, normaliseLogsRequest, what);
}

function truncate(message: string): string {
  return message.length > MAX_ERROR_MESSAGE_CHARS
    ? `${message.slice(0, MAX_ERROR_MESSAGE_CHARS - 1)}…`
    : message;
}

function encode(format: OtlpFormat, t: protobuf.Type, json: Record<string, unknown>): Buffer {
  if (format === 'json') return Buffer.from(JSON.stringify(json), 'utf8');
  const bytes = t.encode(t.fromObject(json)).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function encodeResponse(
  format: OtlpFormat,
  t: protobuf.Type,
  countKey: string,
  partial?: PartialSuccess,
): Buffer {
  // full success MUST leave partial_success unset: 0 bytes / `{}`
  if (!partial) return format === 'json' ? Buffer.from('{}', 'utf8') : Buffer.alloc(0);
  const partialSuccess = {
    [countKey]: partial.rejected,
    errorMessage: truncate(partial.errorMessage),
  };
  return encode(format, t, { partialSuccess });
}

/** ExportTraceServiceResponse in the request's encoding; `partial` → partial_success. */
export function encodeTraceResponse(format: OtlpFormat, partial?: PartialSuccess): Buffer {
  return encodeResponse(format, TraceResponse, 'rejectedSpans', partial);
}

/** ExportLogsServiceResponse in the request's encoding; `partial` → partial_success. */
export function encodeLogsResponse(format: OtlpFormat, partial?: PartialSuccess): Buffer {
  return encodeResponse(format, LogsResponse, 'rejectedLogRecords', partial);
}

/** google.rpc.Status error body (4xx/5xx answers) in the request's encoding. */
export function encodeStatus(format: OtlpFormat, code: number, message: string): Buffer {
  return encode(format, RpcStatus, { code, message: truncate(message) });
}
