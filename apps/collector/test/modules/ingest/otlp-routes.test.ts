import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import zlib from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../../src/app.js';
import { runIdFromOtel } from '../../../src/modules/ingest/ids.js';
import {
  createTestDatabase,
  testBackends,
  testConfig,
  TEST_API_KEY,
  type TestDatabase,
} from '../../../src/testing.js';

const TRACE = '5b8efff798038103d269b633813fc60c';
const span = (spanId: string, extra: Record<string, unknown> = {}) => ({
  traceId: TRACE,
  spanId,
  name: `op-${spanId.slice(0, 4)}`,
  kind: 1,
  startTimeUnixNano: '1795759490314000000',
  endTimeUnixNano: '1795759490914000000',
  attributes: [{ key: 'gen_ai.request.model', value: { stringValue: 'gpt-4o' } }],
  ...extra,
});
const body = (spans: unknown[], service = 'svc-a') => ({
  resourceSpans: [
    {
      resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
      scopeSpans: [{ scope: { name: 't' }, spans }],
    },
  ],
});

describe.each(testBackends())('OTLP routes on %s', (kind) => {
  let tdb: TestDatabase;
  let app: FastifyInstance;

  beforeAll(async () => {
    tdb = await createTestDatabase(kind);
    app = await buildApp(testConfig(tdb), { logger: false });
  });
  afterAll(async () => {
    await app?.close();
    await tdb?.drop();
  });

  const post = (payload: unknown, headers: Record<string, string> = {}, url = '/v1/traces') =>
    app.inject({
      method: 'POST',
      url,
      headers: { 'x-api-key': TEST_API_KEY, 'content-type': 'application/json', ...headers },
      payload: Buffer.isBuffer(payload) ? payload : JSON.stringify(payload),
    });

  it('answers 200 {} for a fully accepted JSON request, and stores under service.name', async () => {
    const res = await post(body([span('1111111111111111')]));
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.json()).toEqual({});
    const run = await app.inject({
      method: 'GET',
      url: `/api/loupe/v1/runs/${runIdFromOtel(TRACE, '1111111111111111')}`,
      headers: { 'x-api-key': TEST_API_KEY },
    });
    expect(run.statusCode).toBe(200);
    const list = await app.inject({
      method: 'GET',
      url: '/api/loupe/v1/runs?project=svc-a',
      headers: { 'x-api-key': TEST_API_KEY },
    });
    expect(list.json().runs).toHaveLength(1);
  });

  it('reports per-span rejects as partial success and stores the rest', async () => {
    const res = await post(
      body([span('2222222222222222'), span('nothex!!nothex!!'), span('3333333333333333')]),
    );
    expect(res.statusCode).toBe(200);
    const json = res.json();
    expect(json.partialSuccess.rejectedSpans).toBe(1);
    expect(String(json.partialSuccess.errorMessage)).toMatch(/span/i);
    for (const id of ['2222222222222222', '3333333333333333']) {
      const r = await app.inject({
        method: 'GET',
        url: `/api/loupe/v1/runs/${runIdFromOtel(TRACE, id)}`,
        headers: { 'x-api-key': TEST_API_KEY },
      });
      expect(r.statusCode).toBe(200);
    }
  });

  it('routes by the x-loupe-project / Langsmith-Project header over service.name', async () => {
    await post(body([span('4444444444444444')]), { 'x-loupe-project': 'from-header' });
    await post(body([span('5555555555555555')]), { 'langsmith-project': 'from-ls-header' });
    const a = await app.inject({
      method: 'GET',
      url: '/api/loupe/v1/runs?project=from-header',
      headers: { 'x-api-key': TEST_API_KEY },
    });
    const b = await app.inject({
      method: 'GET',
      url: '/api/loupe/v1/runs?project=from-ls-header',
      headers: { 'x-api-key': TEST_API_KEY },
    });
    expect(a.json().runs).toHaveLength(1);
    expect(b.json().runs).toHaveLength(1);
  });

  it('accepts gzip and deflate bodies, answers google.rpc.Status errors', async () => {
    const gz = await post(zlib.gzipSync(JSON.stringify(body([span('6666666666666666')]))), {
      'content-encoding': 'gzip',
    });
    expect(gz.statusCode).toBe(200);
    const df = await post(zlib.deflateSync(JSON.stringify(body([span('7777777777777777')]))), {
      'content-encoding': 'deflate',
    });
    expect(df.statusCode).toBe(200);
    const bad = await post(Buffer.from('{nope'));
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: 3 });
    expect(bad.json().message).toMatch(/LOUPE_ERR_UNDECODABLE_BODY/);
    const typ = await post(body([]), { 'content-type': 'text/plain' });
    expect(typ.statusCode).toBe(415);
    const enc = await post(Buffer.from('x'), { 'content-encoding': 'compress' });
    expect(enc.statusCode).toBe(415);
    const noKey = await app.inject({
      method: 'POST',
      url: '/v1/traces',
      headers: { 'content-type': 'application/x-protobuf' },
      payload: Buffer.alloc(0),
    });
    expect(noKey.statusCode).toBe(401);
    // protobuf request → protobuf Status body: field 1 (code, varint) = 16 UNAUTHENTICATED
    expect(noKey.headers['content-type']).toBe('application/x-protobuf');
    expect(noKey.rawPayload[0]).toBe(0x08);
    expect(noKey.rawPayload[1]).toBe(16);
  });

  it('an empty protobuf request is a valid empty export (200, empty body)', async () => {
    const res = await post(Buffer.alloc(0), { 'content-type': 'application/x-protobuf' });
    expect(res.statusCode).toBe(200);
    expect(res.rawPayload.length).toBe(0);
  });

  it('warns (partial success, 0 rejected) about log records that belong to no span', async () => {
    const res = await post(
      {
        resourceLogs: [
          {
            resource: { attributes: [] },
            scopeLogs: [
              {
                scope: { name: 'x' },
                logRecords: [{ timeUnixNano: '1', body: { stringValue: 'plain log line' } }],
              },
            ],
          },
        ],
      },
      {},
      '/v1/logs',
    );
    expect(res.statusCode).toBe(200);
    expect(res.json().partialSuccess).toMatchObject({
      errorMessage: expect.stringMatching(/without a trace\/span id/),
    });
    expect(res.json().partialSuccess.rejectedLogRecords ?? 0).toBe(0);
  });

  it('joins log records to their span whichever arrives first', async () => {
    const spanId = '8888888888888888';
    const logs = {
      resourceLogs: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc-logs' } }] },
          scopeLogs: [
            {
              scope: { name: '@opentelemetry/instrumentation-openai' },
              logRecords: [
                {
                  timeUnixNano: '1795759490400000000',
                  traceId: TRACE,
                  spanId,
                  attributes: [
                    { key: 'event.name', value: { stringValue: 'gen_ai.user.message' } },
                  ],
                  body: {
                    kvlistValue: {
                      values: [{ key: 'content', value: { stringValue: 'hello there' } }],
                    },
                  },
                },
                {
                  timeUnixNano: '1795759490500000000',
                  traceId: TRACE,
                  spanId,
                  attributes: [{ key: 'event.name', value: { stringValue: 'gen_ai.choice' } }],
                  body: {
                    kvlistValue: {
                      values: [
                        { key: 'index', value: { intValue: 0 } },
                        { key: 'finish_reason', value: { stringValue: 'stop' } },
                        {
                          key: 'message',
                          value: {
                            kvlistValue: {
                              values: [
                                { key: 'content', value: { stringValue: 'general kenobi' } },
                              ],
                            },
                          },
                        },
                      ],
                    },
                  },
                },
              ],
            },
          ],
        },
      ],
    };
    expect((await post(logs, {}, '/v1/logs')).statusCode).toBe(200);
    expect((await post(logs, {}, '/v1/logs')).statusCode).toBe(200); // re-delivery is idempotent
    expect(
      (
        await post(
          body(
            [
              span(spanId, {
                attributes: [{ key: 'gen_ai.operation.name', value: { stringValue: 'chat' } }],
              }),
            ],
            'svc-logs',
          ),
        )
      ).statusCode,
    ).toBe(200);
    const run = await app.inject({
      method: 'GET',
      url: `/api/loupe/v1/runs/${runIdFromOtel(TRACE, spanId)}`,
      headers: { 'x-api-key': TEST_API_KEY },
    });
    const json = run.json();
    expect(json.run_type).toBe('llm');
    expect(JSON.stringify(json.inputs)).toContain('hello there');
    expect(JSON.stringify(json.outputs)).toContain('general kenobi');
    expect(JSON.stringify(json.inputs).match(/hello there/g)).toHaveLength(1);
  });
});
