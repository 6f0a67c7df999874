// A corpus of bad requests over real HTTP. For each: the exact status, the error body
// format (OTLP: google.rpc.Status in the request's encoding; elsewhere the Loupe
// envelope), that nothing of a rejected request was written (also when part of it was
// valid), and that the server still takes a valid request afterwards. Bodies are
// capped at 1 MiB after decompression; compression bombs must not inflate in memory.
import { randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runIdFromOtel } from '@loupe/collector';
import { startTestServer, testBackends, type TestServer } from '@loupe/collector/testing';
import {
  decodeRpcStatus,
  deepAnyValue,
  generateOtlpBatches,
  GRPC_CODE_FOR_HTTP,
  spanMessage,
  traceRequest,
  type OtlpBatch,
} from '../../support/robustness-otlp.js';
import { compareIds, listRunIds } from '../../support/robustness-http.js';

const MAX_BODY = 1024 * 1024;
const PROTOBUF = 'application/x-protobuf';
const JSON_CT = 'application/json';
const BOMB_BYTES = 200 * 1024 * 1024;

// ---- body builders ----

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

interface JsonSpan {
  span: Record<string, unknown>;
  runId: string;
}

/** A valid OTLP/JSON span with fresh ids. */
function okSpan(): JsonSpan {
  const traceId = hex(16);
  const spanId = hex(8);
  const now = BigInt(Date.now()) * 1_000_000n;
  return {
    span: {
      traceId,
      spanId,
      name: 'valid sibling',
      kind: 1,
      startTimeUnixNano: now.toString(),
      endTimeUnixNano: (now + 1_000_000n).toString(),
    },
    runId: runIdFromOtel(traceId, spanId),
  };
}

const jsonTrace = (spans: unknown[]) =>
  Buffer.from(JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans }] }] }));

/** A JSON trace request whose first span has an attribute nested `levels` deep. */
function deepJsonTrace(levels: number, sibling: JsonSpan): Buffer {
  const deep = { ...okSpan().span, attributes: '@DEEP@' };
  const value =
    '{"kvlistValue":{"values":[{"key":"k","value":'.repeat(levels) +
    '{"stringValue":"leaf"}' +
    '}]}}'.repeat(levels);
  const text = JSON.stringify({
    resourceSpans: [{ scopeSpans: [{ spans: [deep, sibling.span] }] }],
  });
  return Buffer.from(text.replace('"@DEEP@"', `[{"key":"deep","value":${value}}]`));
}

interface RawProtoSpan {
  message: Buffer;
  runId: string;
}

function protoSpan(name: Buffer, attributeValue?: Buffer): RawProtoSpan {
  const traceId = randomBytes(16);
  const spanId = randomBytes(8);
  return {
    message: spanMessage({
      traceId,
      spanId,
      name,
      ...(attributeValue === undefined ? {} : { attributeValue }),
    }),
    runId: runIdFromOtel(traceId.toString('hex'), spanId.toString('hex')),
  };
}

function multipart(parts: { name: string; json: string }[]): { body: Buffer; type: string } {
  const boundary = `----loupe-robustness-${hex(6)}`;
  const chunks = parts.map(
    (p) =>
      `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"\r\n` +
      `Content-Type: application/json\r\n\r\n${p.json}\r\n`,
  );
  return {
    body: Buffer.from(`${chunks.join('')}--${boundary}--\r\n`),
    type: `multipart/form-data; boundary=${boundary}`,
  };
}

function lsRun(id: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id,
    name: 'robustness run',
    run_type: 'chain',
    start_time: new Date().toISOString(),
    inputs: { question: 'q' },
    ...overrides,
  };
}

/** `bytes` zeros compressed by a streaming compressor (never held uncompressed). */
async function bomb(compressor: zlib.Gzip | zlib.Deflate | zlib.BrotliCompress): Promise<Buffer> {
  const zeros = Buffer.alloc(1024 * 1024);
  const out: Buffer[] = [];
  compressor.on('data', (c: Buffer) => out.push(c));
  const done = new Promise<void>((resolve, reject) => {
    compressor.on('end', resolve).on('error', reject);
  });
  for (let written = 0; written < BOMB_BYTES; written += zeros.length) {
    if (!compressor.write(zeros)) await new Promise((r) => compressor.once('drain', r));
  }
  compressor.end();
  await done;
  return Buffer.concat(out);
}

// ---- the corpus ----

type Expectation =
  /** whole request rejected; nothing written */
  | { status: number; body: 'otlp-status' | 'envelope'; message?: RegExp; code?: string }
  /** 200 with partial_success: only `written` stored */
  | { status: 200; body: 'partial'; rejected: number; message?: RegExp };

interface Case {
  name: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer | (() => Readable);
  expect: Expectation;
  /** run ids that a correct server stores from this request (partial success only) */
  written?: string[];
  /** run ids present in the request that must not be stored */
  notWritten?: string[];
}

const KEY = 'KEY'; // replaced by the server's key

function corpus(valid: () => OtlpBatch, bombs: Record<'gzip' | 'deflate' | 'br', Buffer>): Case[] {
  const cases: Case[] = [];
  const otlp = (
    name: string,
    contentType: string | undefined,
    body: Case['body'],
    expectation: Expectation,
    extra: Partial<Case> = {},
  ) =>
    cases.push({
      name,
      path: '/v1/traces',
      headers: {
        'x-api-key': KEY,
        ...(contentType === undefined ? {} : { 'content-type': contentType }),
      },
      body,
      expect: expectation,
      ...extra,
    });

  // -- undecodable protobuf --
  otlp('malformed protobuf bytes', PROTOBUF, Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff]), {
    status: 400,
    body: 'otlp-status',
    message: /protobuf/i,
  });
  otlp('text sent as protobuf', PROTOBUF, Buffer.from('this is not a protobuf message'), {
    status: 400,
    body: 'otlp-status',
  });
  {
    const b = valid();
    otlp(
      'truncated protobuf (a real SDK body cut short)',
      PROTOBUF,
      b.body.subarray(0, Math.floor(b.body.length * 0.6)),
      {
        status: 400,
        body: 'otlp-status',
      },
      { notWritten: b.runIds },
    );
  }
  {
    const ok = protoSpan(Buffer.from('valid sibling'));
    const bad = protoSpan(Buffer.from([0x66, 0xff, 0xfe, 0x80]));
    otlp(
      'invalid UTF-8 in a protobuf string field, next to a valid span',
      PROTOBUF,
      traceRequest([ok.message, bad.message]),
      {
        status: 400,
        body: 'otlp-status',
      },
      { notWritten: [ok.runId, bad.runId] },
    );
  }
  {
    const ok = protoSpan(Buffer.from('valid sibling'));
    const deep = protoSpan(Buffer.from('deep'), deepAnyValue(5_000));
    otlp(
      'AnyValue nested 5000 levels in protobuf, next to a valid span',
      PROTOBUF,
      traceRequest([ok.message, deep.message]),
      // as in OTLP/JSON: the too-deep span is rejected, its valid sibling kept
      { status: 200, body: 'partial', rejected: 1, message: /deeper than 64 levels/ },
      { written: [ok.runId], notWritten: [deep.runId] },
    );
  }
  otlp(
    'malformed protobuf on /v1/logs',
    PROTOBUF,
    Buffer.from([0x0a, 0x05, 0x01]),
    {
      status: 400,
      body: 'otlp-status',
    },
    { path: '/v1/logs' },
  );

  // -- undecodable / wrongly typed JSON --
  otlp('invalid JSON', JSON_CT, Buffer.from('{"resourceSpans": ['), {
    status: 400,
    body: 'otlp-status',
    message: /JSON/,
  });
  otlp(
    'invalid UTF-8 in a JSON body',
    JSON_CT,
    Buffer.concat([
      Buffer.from('{"resourceSpans":[],"x":"'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('"}'),
    ]),
    {
      status: 400,
      body: 'otlp-status',
      message: /UTF-8/,
    },
  );
  otlp('{"resourceSpans":5}', JSON_CT, Buffer.from('{"resourceSpans":5}'), {
    status: 400,
    body: 'otlp-status',
    message: /resourceSpans must be an array/,
  });
  otlp('a JSON array instead of a request object', JSON_CT, Buffer.from('[]'), {
    status: 400,
    body: 'otlp-status',
  });
  {
    const ok = okSpan();
    const body = Buffer.from(
      JSON.stringify({
        resourceSpans: [{ scopeSpans: [{ spans: [ok.span] }] }, { scopeSpans: { spans: [] } }],
      }),
    );
    otlp(
      'a valid resource next to a malformed one (scopeSpans not an array)',
      JSON_CT,
      body,
      {
        status: 400,
        body: 'otlp-status',
        message: /scopeSpans/,
      },
      { notWritten: [ok.runId] },
    );
  }

  // -- per-span problems: partial success, the rest of the request is kept --
  {
    const ok = okSpan();
    const bad = { ...okSpan().span, traceId: 12345 };
    otlp(
      'a span with a numeric traceId',
      JSON_CT,
      jsonTrace([bad, ok.span]),
      {
        status: 200,
        body: 'partial',
        rejected: 1,
        message: /traceId/,
      },
      { written: [ok.runId] },
    );
  }
  {
    const ok = okSpan();
    const bad = okSpan();
    bad.span.traceId = 'zz'.repeat(16);
    bad.span.spanId = 'abc';
    otlp(
      'a span with non-hex / wrong-length ids',
      JSON_CT,
      jsonTrace([bad.span, ok.span]),
      {
        status: 200,
        body: 'partial',
        rejected: 1,
        message: /traceId/,
      },
      { written: [ok.runId], notWritten: [bad.runId] },
    );
  }
  {
    const ok = okSpan();
    otlp(
      'AnyValue nested 10000 levels in JSON, next to a valid span',
      JSON_CT,
      deepJsonTrace(10_000, ok),
      {
        status: 200,
        body: 'partial',
        rejected: 1,
        message: /deeper than/,
      },
      { written: [ok.runId] },
    );
  }

  // -- size limits and compression --
  otlp('body over LOUPE_MAX_BODY_BYTES (Content-Length)', PROTOBUF, randomBytes(MAX_BODY * 2), {
    status: 413,
    body: 'otlp-status',
  });
  otlp(
    'body over LOUPE_MAX_BODY_BYTES (chunked, no Content-Length)',
    PROTOBUF,
    () =>
      Readable.from(
        (function* () {
          for (let i = 0; i < 40; i++) yield randomBytes(64 * 1024);
        })(),
      ),
    {
      status: 413,
      body: 'otlp-status',
    },
  );
  for (const [encoding, compressed] of Object.entries(bombs)) {
    otlp(
      `${encoding} bomb (200 MB of zeros)`,
      PROTOBUF,
      compressed,
      {
        status: 413,
        body: 'otlp-status',
        message: /LOUPE_MAX_BODY_BYTES/,
      },
      { headers: { 'x-api-key': KEY, 'content-type': PROTOBUF, 'content-encoding': encoding } },
    );
  }
  {
    const b = valid();
    const gz = zlib.gzipSync(b.body);
    otlp(
      'corrupt gzip (truncated stream)',
      PROTOBUF,
      gz.subarray(0, Math.floor(gz.length / 2)),
      {
        status: 400,
        body: 'otlp-status',
        message: /gzip/,
      },
      {
        headers: { 'x-api-key': KEY, 'content-type': PROTOBUF, 'content-encoding': 'gzip' },
        notWritten: b.runIds,
      },
    );
  }

  // -- media types, encodings, auth --
  otlp('wrong content type (text/plain)', 'text/plain', Buffer.from('hello'), {
    status: 415,
    body: 'otlp-status',
    message: /Content-Type/,
  });
  otlp('no content type', undefined, valid().body, { status: 415, body: 'otlp-status' });
  {
    const b = valid();
    otlp(
      'unknown Content-Encoding',
      PROTOBUF,
      b.body,
      {
        status: 415,
        body: 'otlp-status',
        message: /Content-Encoding/,
      },
      {
        headers: { 'x-api-key': KEY, 'content-type': PROTOBUF, 'content-encoding': 'snappy' },
        notWritten: b.runIds,
      },
    );
  }
  {
    const b = valid();
    otlp(
      'missing API key',
      PROTOBUF,
      b.body,
      { status: 401, body: 'otlp-status', message: /API key/ },
      {
        headers: { 'content-type': PROTOBUF },
        notWritten: b.runIds,
      },
    );
  }
  {
    const b = valid();
    otlp(
      'invalid API key (x-api-key)',
      PROTOBUF,
      b.body,
      { status: 401, body: 'otlp-status' },
      {
        headers: { 'content-type': PROTOBUF, 'x-api-key': 'lp_wrong_0123456789abcdef' },
        notWritten: b.runIds,
      },
    );
  }
  {
    const b = valid();
    otlp(
      'invalid API key (Bearer), JSON',
      JSON_CT,
      b.body,
      { status: 401, body: 'otlp-status' },
      {
        headers: { 'content-type': JSON_CT, authorization: 'Bearer lp_wrong_0123456789abcdef' },
        notWritten: b.runIds,
      },
    );
  }

  // -- LangSmith --
  const ls = (
    name: string,
    path: string,
    contentType: string | undefined,
    body: Buffer,
    expectation: Expectation,
    extra: Partial<Case> = {},
  ) =>
    cases.push({
      name: `LangSmith: ${name}`,
      path,
      headers: {
        'x-api-key': KEY,
        ...(contentType === undefined ? {} : { 'content-type': contentType }),
      },
      body,
      expect: expectation,
      ...extra,
    });
  {
    const good = randomUUID();
    const bad = randomUUID();
    const m = multipart([
      { name: `post.${good}`, json: JSON.stringify(lsRun(good)) },
      { name: `post.${bad}`, json: '{"name": "broken", "run_type": ' },
    ]);
    ls(
      'multipart with a malformed JSON part after a valid one',
      '/api/v1/runs/multipart',
      m.type,
      m.body,
      {
        status: 400,
        body: 'envelope',
        message: new RegExp(`post\\.${bad}.*not valid JSON`),
      },
      { notWritten: [good, bad] },
    );
  }
  {
    const good = randomUUID();
    const bad = randomUUID();
    const m = multipart([
      { name: `post.${good}`, json: JSON.stringify(lsRun(good)) },
      { name: `post.${bad}`, json: JSON.stringify(lsRun(bad, { run_type: 'banana' })) },
    ]);
    ls(
      'multipart with an invalid run_type',
      '/api/v1/runs/multipart',
      m.type,
      m.body,
      {
        status: 400,
        body: 'envelope',
        message: /run_type.*banana/,
      },
      { notWritten: [good, bad] },
    );
  }
  ls(
    'multipart with an empty body',
    '/api/v1/runs/multipart',
    'multipart/form-data; boundary=xyz',
    Buffer.alloc(0),
    {
      status: 400,
      body: 'envelope',
      message: /empty/,
    },
  );
  {
    const id = randomUUID();
    const m = multipart([{ name: `post.${id}`, json: JSON.stringify(lsRun(id)) }]);
    ls(
      'multipart gzip bomb',
      '/api/v1/runs/multipart',
      m.type,
      bombs.gzip,
      {
        status: 413,
        body: 'envelope',
        code: 'LOUPE_ERR_BODY_TOO_LARGE',
      },
      { headers: { 'x-api-key': KEY, 'content-type': m.type, 'content-encoding': 'gzip' } },
    );
  }
  ls('batch with invalid JSON', '/api/v1/runs/batch', JSON_CT, Buffer.from('{"post": [{"id": '), {
    status: 400,
    body: 'envelope',
    message: /not valid JSON/,
  });
  ls('batch with "post" not an array', '/api/v1/runs/batch', JSON_CT, Buffer.from('{"post": 5}'), {
    status: 400,
    body: 'envelope',
    message: /'post' must be an array/,
  });
  {
    const good = randomUUID();
    const bad = randomUUID();
    ls(
      'batch with one valid run and one invalid run_type',
      '/api/v1/runs/batch',
      JSON_CT,
      Buffer.from(JSON.stringify({ post: [lsRun(good), lsRun(bad, { run_type: 7 })] })),
      {
        status: 400,
        body: 'envelope',
        message: /run_type/,
      },
      { notWritten: [good, bad] },
    );
  }
  {
    const id = randomUUID();
    ls(
      'batch without an API key',
      '/api/v1/runs/batch',
      JSON_CT,
      Buffer.from(JSON.stringify({ post: [lsRun(id)] })),
      {
        status: 401,
        body: 'envelope',
        code: 'LOUPE_ERR_UNAUTHENTICATED',
      },
      { headers: { 'content-type': JSON_CT }, notWritten: [id] },
    );
  }
  ls('batch as text/plain', '/api/v1/runs/batch', 'text/plain', Buffer.from('{"post": []}'), {
    status: 415,
    body: 'envelope',
  });
  ls(
    'batch over LOUPE_MAX_BODY_BYTES',
    '/api/v1/runs/batch',
    JSON_CT,
    Buffer.from(`{"post": [], "pad": "${'x'.repeat(MAX_BODY + 10)}"}`),
    {
      status: 413,
      body: 'envelope',
      code: 'LOUPE_ERR_BODY_TOO_LARGE',
    },
  );
  return cases;
}

// ---- the tests ----

interface Response {
  status: number;
  contentType: string;
  body: Buffer;
}

describe.each(testBackends())('bad input over HTTP (%s)', (kind) => {
  let server: TestServer;
  let validBatches: OtlpBatch[];
  let nextValid = 0;
  let cases: Case[];
  let bombs: Record<'gzip' | 'deflate' | 'br', Buffer>;

  const valid = () => {
    const b = validBatches[nextValid++];
    if (b === undefined) throw new Error('out of valid batches');
    return b;
  };

  beforeAll(async () => {
    server = await startTestServer(kind, { LOUPE_MAX_BODY_BYTES: String(MAX_BODY) });
    validBatches = await generateOtlpBatches({
      batches: 120,
      spansPerBatch: 3,
      format: 'protobuf',
    });
    bombs = {
      gzip: await bomb(zlib.createGzip({ level: 9 })),
      deflate: await bomb(zlib.createDeflate({ level: 9 })),
      br: await bomb(
        zlib.createBrotliCompress({ params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 5 } }),
      ),
    };
    for (const b of Object.values(bombs)) expect(b.length).toBeLessThan(MAX_BODY); // passes the wire cap
    cases = corpus(valid, bombs);
  });
  afterAll(async () => {
    await server?.close();
  });

  async function send(c: Case): Promise<Response> {
    const headers = Object.fromEntries(
      Object.entries(c.headers).map(([k, v]) => [k, v === KEY ? server.apiKey : v]),
    );
    const body = typeof c.body === 'function' ? c.body() : c.body;
    const res = await fetch(`${server.url}${c.path}`, {
      method: 'POST',
      headers,
      body: body instanceof Readable ? Readable.toWeb(body) : body,
      ...(body instanceof Readable ? { duplex: 'half' } : {}),
      signal: AbortSignal.timeout(60_000),
    });
    return {
      status: res.status,
      contentType: res.headers.get('content-type') ?? '',
      body: Buffer.from(await res.arrayBuffer()),
    };
  }

  async function expectStillServes(): Promise<void> {
    const b = valid();
    const res = await send({
      name: 'valid',
      path: '/v1/traces',
      headers: { 'x-api-key': KEY, 'content-type': b.contentType },
      body: b.body,
      expect: { status: 200, body: 'otlp-status' },
    });
    expect(res.status, res.body.toString()).toBe(200);
    expect(res.body.length).toBe(0); // full success: empty ExportTraceServiceResponse
    const stored = new Set(await listRunIds(server.url, server.apiKey));
    expect(b.runIds.filter((id) => !stored.has(id))).toEqual([]);
  }

  function checkErrorBody(c: Case, res: Response): void {
    const e = c.expect;
    if (e.body === 'envelope') {
      expect(res.contentType).toMatch(/^application\/json/);
      const env = JSON.parse(res.body.toString('utf8')) as Record<string, unknown>;
      expect(Object.keys(env).sort()).toEqual([
        'code',
        'error',
        'message',
        'requestId',
        'statusCode',
      ]);
      expect(env.statusCode).toBe(res.status);
      expect(env.code).toMatch(/^LOUPE_ERR_/);
      expect(env.requestId).toEqual(expect.any(String));
      if (e.code !== undefined) expect(env.code).toBe(e.code);
      if (e.message !== undefined) expect(env.message).toMatch(e.message);
      return;
    }
    if (e.body !== 'otlp-status') return;
    const requestType = (c.headers['content-type'] ?? '').split(';')[0]!.trim();
    let status: { code: number; message: string };
    if (requestType === PROTOBUF) {
      expect(res.contentType).toMatch(/^application\/x-protobuf/);
      status = decodeRpcStatus(res.body);
    } else {
      // JSON requests, and requests whose content type is unusable, get JSON
      expect(res.contentType).toMatch(/^application\/json/);
      const parsed = JSON.parse(res.body.toString('utf8')) as Record<string, unknown>;
      expect(Object.keys(parsed).sort()).toEqual(['code', 'message']);
      status = parsed as unknown as { code: number; message: string };
    }
    expect(status.code).toBeGreaterThan(0);
    const canonical = GRPC_CODE_FOR_HTTP[res.status];
    if (canonical !== undefined) expect(status.code).toBe(canonical);
    expect(status.message.length).toBeGreaterThan(0);
    if (e.message !== undefined) expect(status.message).toMatch(e.message);
  }

  it('rejects every request of the corpus correctly and writes nothing it rejected', async () => {
    const failures: string[] = [];
    for (const c of cases) {
      const before = await listRunIds(server.url, server.apiKey);
      const res = await send(c);
      const after = await listRunIds(server.url, server.apiKey);
      try {
        expect(res.status, res.body.toString('utf8').slice(0, 500)).toBe(c.expect.status);
        if (c.expect.body === 'partial') {
          // the answer is in the request's encoding; protobuf is read by the OTel SDK's own decoder
          const protobuf = (c.headers['content-type'] ?? '').startsWith(PROTOBUF);
          expect(res.contentType).toMatch(
            protobuf ? /^application\/x-protobuf/ : /^application\/json/,
          );
          const parsed = (
            protobuf
              ? ProtobufTraceSerializer.deserializeResponse(new Uint8Array(res.body))
              : JSON.parse(res.body.toString('utf8'))
          ) as {
            partialSuccess?: { rejectedSpans?: number | string; errorMessage?: string };
          };
          expect(Number(parsed.partialSuccess?.rejectedSpans)).toBe(c.expect.rejected);
          if (c.expect.message !== undefined)
            expect(parsed.partialSuccess?.errorMessage).toMatch(c.expect.message);
          // exactly the valid spans were added
          const cmp = compareIds([...before, ...(c.written ?? [])], after);
          expect(cmp).toMatchObject({ missing: [], duplicated: [], unexpected: [] });
        } else {
          checkErrorBody(c, res);
          expect(after.length, 'runs written by a rejected request').toBe(before.length);
          expect(compareIds(before, after)).toMatchObject({ missing: [], unexpected: [] });
        }
        const stored = new Set(after);
        expect((c.notWritten ?? []).filter((id) => stored.has(id))).toEqual([]);
        await expectStillServes();
      } catch (error) {
        failures.push(`${c.name}: ${(error as Error).message.split('\n').slice(0, 6).join(' | ')}`);
      }
    }
    expect(failures).toEqual([]);
  }, 300_000);

  it('does not inflate compression bombs in memory', async () => {
    const sendBomb = (encoding: string, body: Buffer) =>
      send({
        name: 'bomb',
        path: '/v1/traces',
        headers: { 'x-api-key': KEY, 'content-type': PROTOBUF, 'content-encoding': encoding },
        body,
        expect: { status: 413, body: 'otlp-status' },
      });
    // warm up once so lazy allocations are not counted
    expect((await sendBomb('gzip', bombs.gzip)).status).toBe(413);
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 2);
    try {
      for (let i = 0; i < 3; i++) {
        for (const [encoding, body] of Object.entries(bombs)) {
          expect((await sendBomb(encoding, body)).status).toBe(413);
        }
      }
      // concurrent bombs too
      const all = await Promise.all(
        Object.entries(bombs).flatMap(([encoding, body]) => [
          sendBomb(encoding, body),
          sendBomb(encoding, body),
        ]),
      );
      expect(all.map((r) => r.status)).toEqual(all.map(() => 413));
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, process.memoryUsage().rss);
    const growthMb = (peak - baseline) / (1024 * 1024);
    console.info(
      `[bad-input ${kind}] RSS growth while decoding 15 × 200 MB bombs: ${growthMb.toFixed(1)} MB`,
    );
    // one inflated bomb alone would be 200 MB
    expect(growthMb).toBeLessThan(64);
    await expectStillServes();
  }, 120_000);
});
