import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  decodeLogsRequest,
  decodeTraceRequest,
  encodeLogsResponse,
  encodeStatus,
  encodeTraceResponse,
} from '../../../../src/modules/ingest/otlp/otlp-decode.js';
import type {
  NormalisedResourceLogs,
  NormalisedResourceSpans,
} from '../../../../src/modules/ingest/otlp/otlp-types.js';
import { exporterReads, generate, type Generated } from './otel-sdk.js';

const PROTO = fileURLToPath(
  new URL('../../../../src/modules/ingest/otlp/otlp.proto', import.meta.url),
);
const root = protobuf.loadSync(PROTO);

/** Protobuf bodies for hand-written requests (values the JS SDK cannot produce). */
function protoBody(type: string, object: Record<string, unknown>): Buffer {
  const t = root.lookupType(`loupe.otlp.v1.${type}`);
  return Buffer.from(t.encode(t.fromObject(object)).finish());
}

const stack = 'Error: boom\n    at main (app.js:42:25)';

let g: Generated;
beforeAll(() => {
  g = generate([
    {
      resource: { 'service.name': 'decode-probe', 'deployment.environment.name': 'test' },
      scope: { name: 'probe-scope', version: '1.2.3' },
      spans: [
        // kind 1 = JS API SpanKind.SERVER
        {
          ref: 'root',
          name: 'root op',
          kind: 1,
          start: '1795759490314000000',
          end: '1795759490320000000',
        },
        {
          ref: 'child',
          name: 'child op',
          kind: 2, // CLIENT
          parent: 'root',
          links: ['root'],
          start: '1795759490314000123',
          end: '1795759490314322074',
          attributes: {
            str: 'hello',
            int: 42,
            negative: -7,
            big: 2 ** 60,
            dbl: 0.25,
            flag: true,
            strs: ['a', 'b'],
            nums: [1, 2.5],
            bools: [true, false],
          },
          events: [{ name: 'checkpoint', attributes: { step: 1 }, time: '1795759490314100000' }],
          exception: { type: 'Error', message: 'boom', stack, time: '1795759490314200000' },
          status: { code: 2, message: 'it failed' },
        },
      ],
      logs: [
        {
          span: 'child',
          eventName: 'gen_ai.user.message',
          severityNumber: 9,
          severityText: 'INFO',
          time: '1795759490315000001',
          body: {
            role: 'user',
            content: 'hello',
            nested: { a: [1, 'x', { deep: { deeper: [true, null] } }] },
            raw: { $bytes: Buffer.from([0, 1, 2, 255]).toString('base64') },
          },
          attributes: { 'gen_ai.system': 'openai', list: [{ k: 'v' }], big: 2 ** 60 },
        },
        { body: 'no span context' },
      ],
    },
  ])[0]!;
});

describe('decodeTraceRequest with real OTel JS SDK output', () => {
  let proto: NormalisedResourceSpans[];
  let json: NormalisedResourceSpans[];
  beforeAll(() => {
    proto = decodeTraceRequest(g.traces.protobuf, 'protobuf');
    json = decodeTraceRequest(g.traces.json, 'json');
  });

  it('decodes protobuf and JSON to identical normalised output', () => {
    expect(json).toEqual(proto);
  });

  it('normalises resource, scope, ids, parent, kind, status and nanos', () => {
    const rs = proto[0]!;
    expect(rs.resource.attributes).toEqual({
      'service.name': 'decode-probe',
      'deployment.environment.name': 'test',
    });
    const ss = rs.scopeSpans[0]!;
    expect(ss.scope).toMatchObject({ name: 'probe-scope', version: '1.2.3' });
    expect(ss.rejected).toBe(0);
    const child = ss.spans.find((s) => s.name === 'child op')!;
    const rootSpan = ss.spans.find((s) => s.name === 'root op')!;
    expect(child.traceId).toBe(g.ids.child!.traceId);
    expect(child.spanId).toBe(g.ids.child!.spanId);
    expect(child.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(child.parentSpanId).toBe(g.ids.root!.spanId);
    expect(rootSpan.parentSpanId).toBeNull();
    expect(child.kind).toBe('CLIENT');
    expect(rootSpan.kind).toBe('SERVER');
    expect(child.status).toEqual({ code: 'ERROR', message: 'it failed' });
    expect(child.startTimeUnixNano).toBe('1795759490314000123');
    expect(child.endTimeUnixNano).toBe('1795759490314322074');
    expect(child.flags).toBe(257);
  });

  it('keeps attribute types, with int64 beyond 2^53 as an exact string', () => {
    const child = proto[0]!.scopeSpans[0]!.spans.find((s) => s.name === 'child op')!;
    expect(child.attributes).toEqual({
      str: 'hello',
      int: 42,
      negative: -7,
      big: '1152921504606846976',
      dbl: 0.25,
      flag: true,
      strs: ['a', 'b'],
      nums: [1, 2.5],
      bools: [true, false],
    });
  });

  it('decodes events (incl. exception) and links', () => {
    const child = proto[0]!.scopeSpans[0]!.spans.find((s) => s.name === 'child op')!;
    expect(child.events).toEqual([
      {
        name: 'checkpoint',
        timeUnixNano: '1795759490314100000',
        attributes: { step: 1 },
        droppedAttributesCount: 0,
      },
      {
        name: 'exception',
        timeUnixNano: '1795759490314200000',
        attributes: {
          'exception.type': 'Error',
          'exception.message': 'boom',
          'exception.stacktrace': stack,
        },
        droppedAttributesCount: 0,
      },
    ]);
    expect(child.links).toEqual([
      {
        traceId: g.ids.root!.traceId,
        spanId: g.ids.root!.spanId,
        traceState: '',
        attributes: { 'link.kind': 'test' },
        droppedAttributesCount: 0,
        flags: expect.any(Number) as number,
      },
    ]);
  });
});

describe('decodeLogsRequest with real OTel JS SDK output', () => {
  let proto: NormalisedResourceLogs[];
  let json: NormalisedResourceLogs[];
  beforeAll(() => {
    proto = decodeLogsRequest(g.logs.protobuf, 'protobuf');
    json = decodeLogsRequest(g.logs.json, 'json');
  });

  it('decodes protobuf and JSON to identical normalised output', () => {
    expect(json).toEqual(proto);
  });

  it('keeps nested kvlists, arrays, bytes, event name, severity and span context', () => {
    const [linked, unlinked] = proto[0]!.scopeLogs[0]!.logRecords;
    expect(linked).toEqual({
      timeUnixNano: '1795759490315000001',
      observedTimeUnixNano: expect.stringMatching(/^\d+$/) as string,
      severityNumber: 9,
      severityText: 'INFO',
      body: {
        role: 'user',
        content: 'hello',
        nested: { a: [1, 'x', { deep: { deeper: [true, null] } }] },
        raw: Buffer.from([0, 1, 2, 255]).toString('base64'),
      },
      attributes: { 'gen_ai.system': 'openai', list: [{ k: 'v' }], big: '1152921504606846976' },
      droppedAttributesCount: 0,
      flags: 1,
      traceId: g.ids.child!.traceId,
      spanId: g.ids.child!.spanId,
      eventName: 'gen_ai.user.message',
    });
    expect(unlinked).toMatchObject({ body: 'no span context', traceId: null, spanId: null });
  });
});

describe('hand-written requests', () => {
  const big = '9007199254740993'; // 2^53 + 1: not representable as a JS number
  const traceIdHex = '5b8efff798038103d269b633813fc60c';
  const spanIdHex = 'eee19b7ec3c1b174';

  const jsonRequest = {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }] },
        scopeSpans: [
          {
            scope: { name: 's' },
            spans: [
              {
                traceId: traceIdHex.toUpperCase(),
                spanId: spanIdHex,
                parentSpanId: '0000000000000000',
                name: 'x',
                kind: 'SPAN_KIND_CLIENT',
                startTimeUnixNano: '1795759490314000000',
                endTimeUnixNano: 1795759490314000896, // a JSON number: exact only when a double can hold it
                status: { code: 'STATUS_CODE_ERROR', message: 'bad' },
                attributes: [
                  { key: 'big', value: { intValue: big } },
                  { key: 'neg', value: { intValue: '-9223372036854775808' } },
                  { key: 'small', value: { intValue: '12' } },
                  { key: 'bytes', value: { bytesValue: 'AAEC' } },
                  { key: 'nan', value: { doubleValue: 'NaN' } },
                  { key: 'empty', value: {} },
                  {
                    key: 'kv',
                    value: {
                      kvlistValue: {
                        values: [
                          {
                            key: 'list',
                            value: {
                              arrayValue: { values: [{ stringValue: 'a' }, { kvlistValue: {} }] },
                            },
                          },
                          { key: 'emptyList', value: { arrayValue: {} } },
                        ],
                      },
                    },
                  },
                ],
              },
            ],
          },
        ],
      },
    ],
  };

  const expectedAttributes = {
    big,
    neg: '-9223372036854775808',
    small: 12,
    bytes: 'AAEC',
    nan: 'NaN',
    empty: null,
    kv: { list: ['a', {}], emptyList: [] },
  };

  it('normalises the JSON deviations: upper-case hex, enum names, mixed long encodings', () => {
    const [rs] = decodeTraceRequest(Buffer.from(JSON.stringify(jsonRequest)), 'json');
    const span = rs!.scopeSpans[0]!.spans[0]!;
    expect(span).toMatchObject({
      traceId: traceIdHex,
      spanId: spanIdHex,
      parentSpanId: null,
      kind: 'CLIENT',
      status: { code: 'ERROR', message: 'bad' },
      startTimeUnixNano: '1795759490314000000',
      endTimeUnixNano: '1795759490314000896',
    });
    expect(span.attributes).toEqual(expectedAttributes);
  });

  it('gives the same result for the equivalent protobuf body', () => {
    const body = protoBody('ExportTraceServiceRequest', {
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }] },
          scopeSpans: [
            {
              scope: { name: 's' },
              spans: [
                {
                  traceId: Buffer.from(traceIdHex, 'hex'),
                  spanId: Buffer.from(spanIdHex, 'hex'),
                  parentSpanId: Buffer.alloc(8),
                  name: 'x',
                  kind: 3,
                  startTimeUnixNano: '1795759490314000000',
                  endTimeUnixNano: '1795759490314000896',
                  status: { code: 2, message: 'bad' },
                  attributes: [
                    { key: 'big', value: { intValue: big } },
                    { key: 'neg', value: { intValue: '-9223372036854775808' } },
                    { key: 'small', value: { intValue: 12 } },
                    { key: 'bytes', value: { bytesValue: Buffer.from([0, 1, 2]) } },
                    { key: 'nan', value: { doubleValue: NaN } },
                    { key: 'empty', value: {} },
                    {
                      key: 'kv',
                      value: {
                        kvlistValue: {
                          values: [
                            {
                              key: 'list',
                              value: {
                                arrayValue: { values: [{ stringValue: 'a' }, { kvlistValue: {} }] },
                              },
                            },
                            { key: 'emptyList', value: { arrayValue: {} } },
                          ],
                        },
                      },
                    },
                  ],
                },
              ],
            },
          ],
        },
      ],
    });
    expect(decodeTraceRequest(body, 'protobuf')).toEqual(
      decodeTraceRequest(Buffer.from(JSON.stringify(jsonRequest)), 'json'),
    );
  });

  it('accepts base64 ids and proto field names from non-conformant JSON emitters', () => {
    const body = {
      resource_spans: [
        {
          scope_spans: [
            {
              spans: [
                {
                  trace_id: Buffer.from(traceIdHex, 'hex').toString('base64'),
                  span_id: Buffer.from(spanIdHex, 'hex').toString('base64'),
                  parent_span_id: '',
                  name: 'x',
                  start_time_unix_nano: '5',
                },
              ],
            },
          ],
        },
      ],
    };
    const span = decodeTraceRequest(Buffer.from(JSON.stringify(body)), 'json')[0]!.scopeSpans[0]!
      .spans[0]!;
    expect(span).toMatchObject({
      traceId: traceIdHex,
      spanId: spanIdHex,
      parentSpanId: null,
      startTimeUnixNano: '5',
      endTimeUnixNano: '0',
    });
  });

  it('treats an empty request as no spans', () => {
    expect(decodeTraceRequest(Buffer.alloc(0), 'protobuf')).toEqual([]);
    expect(decodeTraceRequest(Buffer.from('{}'), 'json')).toEqual([]);
    expect(decodeLogsRequest(Buffer.from('{"resourceLogs":[]}'), 'json')).toEqual([]);
  });

  it('decodes a log record with event_name (field 12) from protobuf', () => {
    const body = protoBody('ExportLogsServiceRequest', {
      resourceLogs: [
        {
          scopeLogs: [
            {
              logRecords: [
                {
                  timeUnixNano: '10',
                  eventName: 'gen_ai.client.inference.operation.details',
                  traceId: Buffer.from(traceIdHex, 'hex'),
                  spanId: Buffer.from(spanIdHex, 'hex'),
                },
              ],
            },
          ],
        },
      ],
    });
    const record = decodeLogsRequest(body, 'protobuf')[0]!.scopeLogs[0]!.logRecords[0]!;
    expect(record).toMatchObject({
      eventName: 'gen_ai.client.inference.operation.details',
      timeUnixNano: '10',
      body: null,
      traceId: traceIdHex,
    });
  });
});

describe('response encoding', () => {
  it('encodes full success as an empty message', () => {
    expect(encodeTraceResponse('protobuf')).toHaveLength(0);
    expect(encodeLogsResponse('protobuf')).toHaveLength(0);
    expect(encodeTraceResponse('json').toString()).toBe('{}');
    expect(encodeLogsResponse('json').toString()).toBe('{}');
  });

  it('encodes partial_success so that the OTel JS exporter reads it', () => {
    const partial = { rejected: 2, errorMessage: 'span #0: traceId is all zeros' };
    expect(exporterReads('trace', 'protobuf', encodeTraceResponse('protobuf', partial))).toEqual({
      partialSuccess: { rejectedSpans: 2, errorMessage: partial.errorMessage },
    });
    expect(exporterReads('logs', 'protobuf', encodeLogsResponse('protobuf', partial))).toEqual({
      partialSuccess: { rejectedLogRecords: 2, errorMessage: partial.errorMessage },
    });
    expect(JSON.parse(encodeTraceResponse('json', partial).toString())).toEqual({
      partialSuccess: { rejectedSpans: 2, errorMessage: partial.errorMessage },
    });
    expect(JSON.parse(encodeLogsResponse('json', partial).toString())).toEqual({
      partialSuccess: { rejectedLogRecords: 2, errorMessage: partial.errorMessage },
    });
  });

  it('caps the error message so responses stay small', () => {
    const body = encodeTraceResponse('json', { rejected: 1, errorMessage: 'x'.repeat(100_000) });
    expect(body.length).toBeLessThan(20_000);
  });

  it('encodes google.rpc.Status (code = 1, message = 2)', () => {
    // an independent schema, so a wrong field number in ours would show
    const Status = new protobuf.Type('Status')
      .add(new protobuf.Field('code', 1, 'int32'))
      .add(new protobuf.Field('message', 2, 'string'));
    const decoded = Status.toObject(Status.decode(encodeStatus('protobuf', 3, 'bad body')));
    expect(decoded).toEqual({ code: 3, message: 'bad body' });
    expect(JSON.parse(encodeStatus('json', 3, 'bad body').toString())).toEqual({
      code: 3,
      message: 'bad body',
    });
  });
});
