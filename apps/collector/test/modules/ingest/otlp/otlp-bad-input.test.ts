import { describe, expect, it } from 'vitest';
import { LoupeError } from '../../../../src/errors.js';
import {
  decodeLogsRequest,
  decodeTraceRequest,
} from '../../../../src/modules/ingest/otlp/otlp-decode.js';
import { mapLogs, mapSpans } from '../../../../src/modules/ingest/otlp/otlp-map.js';
import { TRACE_ID, logsBody, spanJson, traceBody } from './otlp-builders.js';

function expectUndecodable(fn: () => unknown, message?: RegExp): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(LoupeError);
  const err = thrown as LoupeError;
  expect(err.code).toBe('LOUPE_ERR_UNDECODABLE_BODY');
  expect(err.statusCode).toBe(400);
  if (message) expect(err.message).toMatch(message);
}

const json = (v: unknown) => Buffer.from(JSON.stringify(v));

/** A protobuf varint. */
function varint(n: number): Buffer {
  const bytes: number[] = [];
  while (n > 127) {
    bytes.push((n & 127) | 128);
    n >>>= 7;
  }
  bytes.push(n);
  return Buffer.from(bytes);
}
const field = (no: number, payload: Buffer) =>
  Buffer.concat([varint((no << 3) | 2), varint(payload.length), payload]);

const fixed64 = (no: number, value: bigint) => {
  const b = Buffer.alloc(9);
  b[0] = (no << 3) | 1;
  b.writeBigUInt64LE(value, 1);
  return b;
};

/**
 * ExportTraceServiceRequest with one span whose attribute `a` is a kvlist nested
 * `levels` deep. Every level only adds bytes in front of the inner value, so the
 * body is built as prefixes (inside out) and joined once: linear even at 10k levels.
 */
function deepProtobufRequest(levels: number): Buffer {
  const innermost = field(1, Buffer.from('x')); // AnyValue{string_value}
  const prefixes: Buffer[] = [];
  let length = innermost.length;
  for (let i = 0; i < levels; i++) {
    // AnyValue{kvlist_value(6): KeyValueList{values(1): KeyValue{key(1): 'a', value(2): <inner>}}}
    const keyValue = Buffer.concat([
      field(1, Buffer.from('a')),
      varint((2 << 3) | 2),
      varint(length),
    ]);
    const list = Buffer.concat([varint((1 << 3) | 2), varint(keyValue.length + length)]);
    const value = Buffer.concat([
      varint((6 << 3) | 2),
      varint(list.length + keyValue.length + length),
    ]);
    prefixes.push(Buffer.concat([value, list, keyValue]));
    length += value.length + list.length + keyValue.length;
  }
  const deepValue = Buffer.concat([...prefixes.reverse(), innermost]);
  const attribute = Buffer.concat([field(1, Buffer.from('a')), field(2, deepValue)]);
  const span = Buffer.concat([
    field(1, Buffer.from(TRACE_ID, 'hex')),
    field(2, Buffer.from('00000000000000aa', 'hex')),
    fixed64(7, 1795759490314000000n),
    field(9, attribute),
  ]);
  const healthy = Buffer.concat([
    field(1, Buffer.from(TRACE_ID, 'hex')),
    field(2, Buffer.from('00000000000000bb', 'hex')),
    fixed64(7, 1795759490314000000n),
  ]);
  return field(1, field(2, Buffer.concat([field(2, span), field(2, healthy)])));
}

/** As OTLP/JSON text: JSON.stringify itself would overflow the stack at 10k levels. */
function deepJsonRequest(levels: number): Buffer {
  const open = '{"kvlistValue":{"values":[{"key":"a","value":';
  const close = '}]}}';
  const deep = open.repeat(levels) + '{"stringValue":"x"}' + close.repeat(levels);
  const marker = '"__DEEP__"';
  const span = spanJson({ spanId: '00000000000000aa' });
  span.attributes = [{ key: 'a', value: '__DEEP__' }];
  const text = traceBody([span, spanJson({ spanId: '00000000000000bb' })], {}, true).toString();
  return Buffer.from(text.replace(marker, deep));
}

describe('bodies that are not OTLP requests → undecodable (400)', () => {
  it('rejects malformed protobuf', () => {
    expectUndecodable(
      () => decodeTraceRequest(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff]), 'protobuf'),
      /protobuf/,
    );
    expectUndecodable(() => decodeLogsRequest(Buffer.from([0x0a, 0x05, 0x01]), 'protobuf'));
    // a valid tag with the wrong wire type for resource_spans
    expectUndecodable(() => decodeTraceRequest(Buffer.from([0x09, 1, 2, 3]), 'protobuf'));
  });

  it('rejects invalid JSON and JSON that is not a request object', () => {
    expectUndecodable(() => decodeTraceRequest(Buffer.from('{"resourceSpans": ['), 'json'), /JSON/);
    expectUndecodable(() => decodeTraceRequest(Buffer.from(''), 'json'));
    expectUndecodable(() => decodeTraceRequest(json([]), 'json'));
    expectUndecodable(() => decodeTraceRequest(json('spans'), 'json'));
    expectUndecodable(() => decodeTraceRequest(json(null), 'json'));
  });

  it('rejects wrong structural types', () => {
    expectUndecodable(
      () => decodeTraceRequest(json({ resourceSpans: 5 }), 'json'),
      /resourceSpans must be an array/,
    );
    expectUndecodable(() => decodeTraceRequest(json({ resourceSpans: [5] }), 'json'));
    expectUndecodable(() =>
      decodeTraceRequest(json({ resourceSpans: [{ scopeSpans: {} }] }), 'json'),
    );
    expectUndecodable(() =>
      decodeTraceRequest(json({ resourceSpans: [{ scopeSpans: [{ spans: 'x' }] }] }), 'json'),
    );
    expectUndecodable(() =>
      decodeLogsRequest(json({ resourceLogs: [{ scopeLogs: [{ logRecords: {} }] }] }), 'json'),
    );
  });

  it('rejects invalid UTF-8 (JSON body, protobuf string)', () => {
    const badJson = Buffer.concat([
      Buffer.from('{"resourceSpans":[],"x":"'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('"}'),
    ]);
    expectUndecodable(() => decodeTraceRequest(badJson, 'json'), /UTF-8/);
    // Span.name (field 5) = 0xff 0xfe
    const span = Buffer.concat([
      field(1, Buffer.from(TRACE_ID, 'hex')),
      field(2, Buffer.from('00000000000000aa', 'hex')),
      field(5, Buffer.from([0xff, 0xfe])),
    ]);
    expectUndecodable(() => decodeTraceRequest(field(1, field(2, field(2, span))), 'protobuf'));
  });

  it('never throws anything but an undecodable error on random or corrupted bytes', () => {
    let seed = 42;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    const valid = deepProtobufRequest(3);
    for (let i = 0; i < 500; i++) {
      const body =
        i % 2 === 0
          ? Buffer.from(Array.from({ length: random() % 64 }, () => random() % 256))
          : Buffer.from(valid.map((b) => (random() % 10 === 0 ? random() % 256 : b)));
      try {
        const decoded = decodeTraceRequest(body, 'protobuf');
        mapSpans(decoded, {});
      } catch (e) {
        expect(e).toBeInstanceOf(LoupeError);
      }
    }
  });
});

describe('deeply nested attribute values', () => {
  it('rejects one span (JSON) above 64 levels, keeps the rest of the request', () => {
    const decoded = decodeTraceRequest(deepJsonRequest(70), 'json');
    const ss = decoded[0]!.scopeSpans[0]!;
    expect(ss.rejected).toBe(1);
    expect(ss.errors[0]).toMatch(/00000000000000aa.*deeper than 64/);
    expect(ss.spans.map((s) => s.spanId)).toEqual(['00000000000000bb']);
    const mapped = mapSpans(decoded, {});
    expect(mapped).toMatchObject({ rejected: 1, runs: [{ otelSpanId: '00000000000000bb' }] });
  });

  it('accepts nesting up to the limit', () => {
    const decoded = decodeTraceRequest(deepJsonRequest(63), 'json');
    expect(decoded[0]!.scopeSpans[0]!.rejected).toBe(0);
  });

  it('survives 10k levels in JSON without exhausting the stack', () => {
    const decoded = decodeTraceRequest(deepJsonRequest(10_000), 'json');
    expect(decoded[0]!.scopeSpans[0]!.rejected).toBe(1);
  });

  it('rejects one span (protobuf) above 64 levels, even at 10k levels, and keeps the rest', () => {
    for (const levels of [64, 10_000]) {
      const ss = decodeTraceRequest(deepProtobufRequest(levels), 'protobuf')[0]!.scopeSpans[0]!;
      expect(ss.rejected).toBe(1);
      expect(ss.errors[0]).toMatch(/00000000000000aa.*deeper than 64/);
      expect(ss.spans.map((s) => s.spanId)).toEqual(['00000000000000bb']);
    }
    // the attribute value itself is level 1: 63 wrappings reach exactly the limit
    const ok = decodeTraceRequest(deepProtobufRequest(63), 'protobuf')[0]!.scopeSpans[0]!;
    expect(ok.rejected).toBe(0);
    expect(ok.spans).toHaveLength(2);
  });

  it('refuses group-nesting bombs in unknown protobuf fields as undecodable', () => {
    // unknown field 20 as a start-group with 200 nested groups inside: skipping it must
    // stop at the reader's recursion limit, not exhaust the stack
    const open = Buffer.alloc(200, (10 << 3) | 3);
    const body = field(1, Buffer.concat([varint((20 << 3) | 3), open]));
    expectUndecodable(() => decodeTraceRequest(body, 'protobuf'), /depth|group|range|illegal/i);
  });

  it('keeps a too-deep JSON string attribute as the raw string', () => {
    const deep = '['.repeat(5000) + ']'.repeat(5000);
    const decoded = decodeTraceRequest(
      traceBody([{ attributes: { 'traceloop.entity.input': deep, metadata: deep } }]),
      'json',
    );
    const [run] = mapSpans(decoded, {}).runs;
    expect(run!.inputs).toEqual({ input: deep });
    expect((run!.otel!.attributes as Record<string, unknown>).metadata).toBe(deep);
  });

  it('does not build a deep object from a key with thousands of dots', () => {
    const key = `llm.input_messages.0.${'a.'.repeat(5000)}b`;
    const decoded = decodeTraceRequest(traceBody([{ attributes: { [key]: 'x' } }]), 'json');
    const [run] = mapSpans(decoded, {}).runs;
    expect((run!.otel!.attributes as Record<string, unknown>)[key]).toBe('x');
  });
});

describe('per-span validation → partial rejects', () => {
  const valid = { spanId: '1111111111111111' };

  it.each([
    ['short trace id', { traceId: 'abc' }, /traceId must be 32 hex digits/],
    ['non-hex trace id', { traceId: 'z'.repeat(32) }, /traceId/],
    ['all-zero trace id', { traceId: '0'.repeat(32) }, /traceId is all zeros/],
    ['missing span id', { spanId: '' }, /spanId is missing/],
    ['long span id', { spanId: 'aa'.repeat(9) }, /spanId/],
    ['invalid parent id', { parentSpanId: 'xyz' }, /parentSpanId/],
    ['non-numeric start', { startTimeUnixNano: 'yesterday' }, /startTimeUnixNano/],
    ['negative end', { endTimeUnixNano: -5 }, /endTimeUnixNano/],
    ['fractional start', { startTimeUnixNano: 1.5 }, /startTimeUnixNano/],
    ['missing start', { startTimeUnixNano: undefined }, /startTimeUnixNano is missing/],
    ['start beyond uint64', { startTimeUnixNano: '99999999999999999999' }, /startTimeUnixNano/],
    ['attributes not an array', { attributes: { a: 1 } }, /attributes must be an array/],
    [
      'attribute value of the wrong type',
      { attributes: [{ key: 'a', value: { intValue: 'ten' } }] },
      /intValue/,
    ],
    [
      'string value that is a number',
      { attributes: [{ key: 'a', value: { stringValue: 5 } }] },
      /stringValue/,
    ],
    ['event time invalid', { events: [{ name: 'e', timeUnixNano: 'x' }] }, /event timeUnixNano/],
    ['span not an object', null, /span must be an object/],
  ])('%s', (_label, override, message) => {
    const bad =
      override === null
        ? 'not a span'
        : { ...spanJson({ spanId: '2222222222222222' }), ...override };
    const decoded = decodeTraceRequest(
      traceBody([bad as Record<string, unknown>, spanJson(valid)], {}, true),
      'json',
    );
    const ss = decoded[0]!.scopeSpans[0]!;
    expect(ss.rejected).toBe(1);
    expect(ss.errors[0]).toMatch(message);
    expect(ss.spans.map((s) => s.spanId)).toEqual([valid.spanId]);
    const mapped = mapSpans(decoded, {});
    expect(mapped.rejected).toBe(1);
    expect(mapped.errors[0]).toMatch(message);
    expect(mapped.runs).toHaveLength(1);
  });

  it('drops links with unusable ids and counts them as dropped', () => {
    const span = {
      ...spanJson(valid),
      links: [{ traceId: 'bad', spanId: '1' }],
      droppedLinksCount: 1,
    };
    const s = decodeTraceRequest(traceBody([span], {}, true), 'json')[0]!.scopeSpans[0]!.spans[0]!;
    expect(s.links).toEqual([]);
    expect(s.droppedLinksCount).toBe(2);
  });

  it('rejects every span under a malformed resource, with one message', () => {
    const body = json({
      resourceSpans: [
        {
          resource: { attributes: 'nope' },
          scopeSpans: [{ spans: [spanJson({}), spanJson({})] }, { spans: [spanJson({})] }],
        },
        { scopeSpans: [{ spans: [spanJson(valid)] }] },
      ],
    });
    const mapped = mapSpans(decodeTraceRequest(body, 'json'), {});
    expect(mapped.rejected).toBe(3);
    expect(mapped.errors[0]).toMatch(/resource rejected/);
    expect(mapped.runs).toHaveLength(1);
  });

  it('caps error messages but keeps the exact count', () => {
    const spans = Array.from({ length: 300 }, () => ({ ...spanJson({}), traceId: 'bad' }));
    const mapped = mapSpans(decodeTraceRequest(traceBody(spans, {}, true), 'json'), {});
    expect(mapped.rejected).toBe(300);
    expect(mapped.errors.length).toBeLessThanOrEqual(50);
  });

  it('rejects log records with malformed ids; records without ids are only counted', () => {
    const body = logsBody([
      { spanId: 'abc', body: 'bad id' },
      { traceId: null, body: 'no context' },
      { spanId: '1111111111111111', body: 'ok' },
    ]);
    const mapped = mapLogs(decodeLogsRequest(body, 'json'), {});
    expect(mapped.rejected).toBe(1);
    expect(mapped.errors[0]).toMatch(/log record #0 \(abc\): spanId/);
    expect(mapped.unlinked).toBe(1);
    expect(mapped.notes[0]).toMatch(/1 log record/);
    expect(mapped.runs).toHaveLength(1);
  });

  it('ignores prototype-polluting attribute keys', () => {
    const span = {
      ...spanJson(valid),
      attributes: [
        {
          key: '__proto__',
          value: { kvlistValue: { values: [{ key: 'polluted', value: { boolValue: true } }] } },
        },
      ],
    };
    const [run] = mapSpans(decodeTraceRequest(traceBody([span], {}, true), 'json'), {}).runs;
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getOwnPropertyNames(run!.otel!.attributes)).toContain('__proto__');
  });
});
