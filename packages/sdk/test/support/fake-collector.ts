// A stand-in for the collector's OTLP endpoint: a node:http server on 127.0.0.1:0 that
// records every request (arrival time, headers, decoded spans) and answers from a script,
// so transport tests can produce 503s, hangs and resets on cue. Bodies are decoded with a
// minimal protobuf walk (the SDK must not depend on the collector's decoder).
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface DecodedSpan {
  traceId: string;
  spanId: string;
  name: string;
  attributes: Record<string, unknown>;
}

export interface RecordedRequest {
  at: number;
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  spans: DecodedSpan[];
  resource: Record<string, unknown>;
}

/** What to do with request number `i` (0-based). */
export type Reply =
  | { status: number; headers?: Record<string, string>; body?: Uint8Array; delayMs?: number }
  | 'hang'
  | 'reset';

export interface FakeCollector {
  url: string;
  requests: RecordedRequest[];
  /** highest number of requests open at the same time */
  maxConcurrent(): number;
  spanIds(): string[];
  close(): Promise<void>;
}

// ---- protobuf ----

interface Field {
  no: number;
  wire: number;
  int: bigint;
  bytes: Buffer;
}

function fields(buf: Buffer): Field[] {
  const out: Field[] = [];
  let i = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = buf[i++]!;
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return result;
      shift += 7n;
    }
  };
  while (i < buf.length) {
    const tag = Number(varint());
    const wire = tag & 7;
    const field: Field = { no: tag >>> 3, wire, int: 0n, bytes: Buffer.alloc(0) };
    if (wire === 0) field.int = varint();
    else if (wire === 1) {
      field.bytes = buf.subarray(i, i + 8);
      i += 8;
    } else if (wire === 2) {
      const len = Number(varint());
      field.bytes = buf.subarray(i, i + len);
      i += len;
    } else if (wire === 5) {
      field.bytes = buf.subarray(i, i + 4);
      i += 4;
    } else throw new Error(`wire type ${wire}`);
    out.push(field);
  }
  return out;
}

function anyValue(buf: Buffer): unknown {
  for (const f of fields(buf)) {
    if (f.no === 1) return f.bytes.toString('utf8');
    if (f.no === 2) return f.int !== 0n;
    if (f.no === 3) return Number(f.int);
    if (f.no === 4) return f.bytes.readDoubleLE(0);
    if (f.no === 5) return fields(f.bytes).map((v) => anyValue(v.bytes));
  }
  return undefined;
}

function keyValues(list: Field[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of list) {
    const parts = fields(kv.bytes);
    const key = parts.find((p) => p.no === 1)?.bytes.toString('utf8') ?? '';
    const value = parts.find((p) => p.no === 2);
    out[key] = value === undefined ? undefined : anyValue(value.bytes);
  }
  return out;
}

export function decodeTraceRequest(body: Buffer): {
  spans: DecodedSpan[];
  resource: Record<string, unknown>;
} {
  const spans: DecodedSpan[] = [];
  let resource: Record<string, unknown> = {};
  for (const rs of fields(body).filter((f) => f.no === 1)) {
    for (const part of fields(rs.bytes)) {
      if (part.no === 1) resource = keyValues(fields(part.bytes).filter((f) => f.no === 1));
      if (part.no !== 2) continue;
      for (const s of fields(part.bytes).filter((f) => f.no === 2)) {
        const sf = fields(s.bytes);
        spans.push({
          traceId: sf.find((f) => f.no === 1)!.bytes.toString('hex'),
          spanId: sf.find((f) => f.no === 2)!.bytes.toString('hex'),
          name: sf.find((f) => f.no === 5)?.bytes.toString('utf8') ?? '',
          attributes: keyValues(sf.filter((f) => f.no === 9)),
        });
      }
    }
  }
  return { spans, resource };
}

function varint(n: number): Buffer {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}

const lenField = (no: number, payload: Buffer) =>
  Buffer.concat([varint((no << 3) | 2), varint(payload.length), payload]);

/** google.rpc.Status{code, message}, as the collector sends with 4xx. */
export function rpcStatus(code: number, message: string): Buffer {
  return Buffer.concat([varint(1 << 3), varint(code), lenField(2, Buffer.from(message))]);
}

/** ExportTraceServiceResponse with partial_success{rejected_spans, error_message}. */
export function partialSuccess(rejected: number, message: string): Buffer {
  const inner = Buffer.concat([
    varint(1 << 3),
    varint(rejected),
    lenField(2, Buffer.from(message)),
  ]);
  return lenField(1, inner);
}

// ---- server ----

export async function startFakeCollector(
  reply: (i: number) => Reply = () => ({ status: 200 }),
): Promise<FakeCollector> {
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  let open = 0;
  let maxOpen = 0;
  const server = createServer((req, res) => {
    const i = requests.length;
    const at = Date.now();
    open++;
    maxOpen = Math.max(maxOpen, open);
    res.on('close', () => open--);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const decoded = body.length > 0 ? decodeTraceRequest(body) : { spans: [], resource: {} };
      requests.push({
        at,
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        ...decoded,
      });
      const r = reply(i);
      if (r === 'hang') return;
      if (r === 'reset') {
        req.socket.destroy();
        return;
      }
      const send = () => {
        res.writeHead(r.status, { 'content-type': 'application/x-protobuf', ...r.headers });
        res.end(r.body ?? Buffer.alloc(0));
      };
      if (r.delayMs !== undefined) setTimeout(send, r.delayMs);
      else send();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    maxConcurrent: () => maxOpen,
    spanIds: () => requests.flatMap((r) => r.spans.map((s) => s.spanId)),
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Polls until `check()` is true or fails after `timeoutMs`. */
export async function until(
  check: () => boolean,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
