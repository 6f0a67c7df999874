// OTLP bodies for the robustness suites: real SDK-serialised batches (generated in a
// child process, see robustness-otlp-gen.ts), a minimal protobuf writer for hand-made
// malformed bodies, and a reader for google.rpc.Status error bodies.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runIdFromOtel } from '@loupe/collector';
import type { GenRequest, GenResponse } from './robustness-otlp-gen.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const GENERATOR = fileURLToPath(new URL('./robustness-otlp-gen.ts', import.meta.url));

export interface OtlpBatch {
  /** a position label, unique within one generate call */
  index: number;
  body: Buffer;
  contentType: string;
  /** Loupe run ids of every span in the body */
  runIds: string[];
}

/** Serialises `batches` request bodies with the real OTel JS SDK (each span unique). */
export async function generateOtlpBatches(request: GenRequest): Promise<OtlpBatch[]> {
  const stdout = await new Promise<string>((resolve, reject) => {
    const child = execFile(
      process.execPath,
      ['--import', 'tsx', GENERATOR],
      {
        cwd: REPO_ROOT,
        // a clean Node: none of the test runner's --conditions / loaders
        env: { PATH: process.env.PATH ?? '', NODE_OPTIONS: '' },
        maxBuffer: 512 * 1024 * 1024,
        timeout: 120_000,
      },
      (error, out, err) => {
        if (error) reject(new Error(`OTLP generator failed: ${error.message}\n${err}`));
        else resolve(out);
      },
    );
    child.stdin?.end(JSON.stringify(request));
  });
  const response = JSON.parse(stdout) as GenResponse;
  const contentType = request.format === 'protobuf' ? 'application/x-protobuf' : 'application/json';
  return response.batches.map((b, index) => ({
    index,
    body: Buffer.from(b.body, 'base64'),
    contentType,
    runIds: b.spans.map((s) => runIdFromOtel(s.traceId, s.spanId)),
  }));
}

// ---- a minimal protobuf writer (wire types 0 and 2) ----

export function varint(value: number | bigint): Buffer {
  let n = BigInt(value);
  const bytes: number[] = [];
  while (n > 127n) {
    bytes.push(Number(n & 127n) | 128);
    n >>= 7n;
  }
  bytes.push(Number(n));
  return Buffer.from(bytes);
}

/** A length-delimited field. */
export function lenField(fieldNo: number, payload: Buffer): Buffer {
  return Buffer.concat([varint((fieldNo << 3) | 2), varint(payload.length), payload]);
}

/** A varint field. */
export function intField(fieldNo: number, value: number | bigint): Buffer {
  return Buffer.concat([varint(fieldNo << 3), varint(value)]);
}

/** A fixed64 field (wire type 1), as OTLP uses for timestamps. */
export function fixed64Field(fieldNo: number, value: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(value);
  return Buffer.concat([varint((fieldNo << 3) | 1), b]);
}

export interface RawSpan {
  traceId: Buffer;
  spanId: Buffer;
  /** raw bytes of Span.name (so tests can put invalid UTF-8 there) */
  name: Buffer;
  /** raw bytes of one attribute's AnyValue message (Span.attributes[0].value) */
  attributeValue?: Buffer;
}

/** Span message bytes (trace_id=1, span_id=2, name=5, start=7, end=8, attributes=9). */
export function spanMessage(span: RawSpan): Buffer {
  const now = BigInt(Date.now()) * 1_000_000n;
  return Buffer.concat([
    lenField(1, span.traceId),
    lenField(2, span.spanId),
    lenField(5, span.name),
    fixed64Field(7, now),
    fixed64Field(8, now + 1_000_000n),
    ...(span.attributeValue === undefined
      ? []
      : [
          lenField(
            9,
            Buffer.concat([lenField(1, Buffer.from('deep')), lenField(2, span.attributeValue)]),
          ),
        ]),
  ]);
}

/** ExportTraceServiceRequest{resource_spans{scope_spans{spans…}}} from span messages. */
export function traceRequest(spans: Buffer[]): Buffer {
  const scopeSpans = Buffer.concat(spans.map((s) => lenField(2, s)));
  return lenField(1, lenField(2, scopeSpans));
}

/** An AnyValue nested `levels` deep through kvlist_value (built inside out, linear). */
export function deepAnyValue(levels: number): Buffer {
  let inner = lenField(1, Buffer.from('leaf')); // AnyValue{string_value}
  for (let i = 0; i < levels; i++) {
    const keyValue = Buffer.concat([lenField(1, Buffer.from('k')), lenField(2, inner)]);
    inner = lenField(6, lenField(1, keyValue)); // AnyValue{kvlist_value{values:[keyValue]}}
  }
  return inner;
}

// ---- google.rpc.Status ----

export interface RpcStatus {
  code: number;
  message: string;
}

function readVarint(buf: Buffer, pos: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  for (let i = pos; i < buf.length && i < pos + 10; i++) {
    const byte = buf[i]!;
    result |= BigInt(byte & 127) << shift;
    shift += 7n;
    if ((byte & 128) === 0) return [result, i + 1];
  }
  throw new Error('truncated varint in Status body');
}

/** Decodes a protobuf google.rpc.Status {int32 code = 1; string message = 2; details = 3}. */
export function decodeRpcStatus(buf: Buffer): RpcStatus {
  const status: RpcStatus = { code: 0, message: '' };
  let pos = 0;
  while (pos < buf.length) {
    const [tag, afterTag] = readVarint(buf, pos);
    const fieldNo = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    if (wire === 0) {
      const [v, next] = readVarint(buf, afterTag);
      if (fieldNo === 1) status.code = Number(v);
      pos = next;
    } else if (wire === 2) {
      const [len, start] = readVarint(buf, afterTag);
      const end = start + Number(len);
      if (end > buf.length) throw new Error('truncated field in Status body');
      if (fieldNo === 2) status.message = buf.subarray(start, end).toString('utf8');
      pos = end;
    } else {
      throw new Error(`unexpected wire type ${wire} in Status body`);
    }
  }
  return status;
}

/** The canonical google.rpc.Code for the HTTP statuses whose meaning is unambiguous. */
export const GRPC_CODE_FOR_HTTP: Partial<Record<number, number>> = {
  400: 3, // INVALID_ARGUMENT
  401: 16, // UNAUTHENTICATED
  503: 14, // UNAVAILABLE
};
