/**
 * The wire decoder of protobuf trace requests (otlp-proto-traces.ts) against the
 * reference path it replaced on the hot path: protobufjs message decoding + the
 * generic normaliser (still used for OTLP/JSON and logs). Same bytes → same output,
 * over seeded random requests that use every field of the schema.
 */
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { LoupeError } from '../../../../src/errors.js';
import { decodeTraceRequest } from '../../../../src/modules/ingest/otlp/otlp-decode.js';
import { normaliseTraceRequest } from '../../../../src/modules/ingest/otlp/otlp-normalise.js';

const root = protobuf.loadSync(
  fileURLToPath(new URL('../../../../src/modules/ingest/otlp/otlp.proto', import.meta.url)),
);
const Request = root.lookupType('loupe.otlp.v1.ExportTraceServiceRequest');

const encode = (o: Record<string, unknown>) =>
  Buffer.from(Request.encode(Request.fromObject(o)).finish());
const reference = (body: Buffer) => normaliseTraceRequest(Request.decode(body));

/** mulberry32: a small seeded PRNG so a failure can be replayed from its seed. */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function generator(seed: number) {
  const rnd = prng(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));
  const text = () =>
    pick([
      '',
      'gen_ai.request.model',
      'héllo wörld',
      '\ufeffBOM first',
      'emoji 🎉 and 中文',
      'x'.repeat(70 + int(200)), // long strings take protobufjs' TextDecoder path
      'line\nbreak\ttab "quoted" \\ back',
      '__proto__',
    ]);
  const u64 = () =>
    pick([
      '0',
      '1',
      '1795759490314000000',
      '9007199254740993', // just above 2^53
      '18446744073709551615', // 2^64 - 1
      String(0x1fffff * 4294967296 + 4294967295), // highest value below the fast path's edge
      '9007199254740992', // 2^53 exactly: high word 0x200000
      String(BigInt(int(2 ** 31)) * 1000000000n + BigInt(int(1e9))),
    ]);
  const i64 = () =>
    pick(['0', '-1', '42', '-9223372036854775808', '9223372036854775807', '9007199254740993']);

  const anyValue = (depth: number): Record<string, unknown> => {
    const kinds =
      depth > 3
        ? ['s', 'b', 'i', 'd', 'empty']
        : ['s', 'b', 'i', 'd', 'bytes', 'array', 'kvlist', 'empty'];
    switch (pick(kinds)) {
      case 's':
        return { stringValue: text() };
      case 'b':
        return { boolValue: rnd() < 0.5 };
      case 'i':
        return { intValue: i64() };
      case 'd':
        return { doubleValue: pick([0, -1.5, 3.14159, 1e300, Infinity, -Infinity, NaN]) };
      case 'bytes':
        return { bytesValue: bytes(int(20)) };
      case 'array':
        return {
          arrayValue: { values: Array.from({ length: int(4) }, () => anyValue(depth + 1)) },
        };
      case 'kvlist':
        return { kvlistValue: { values: keyValues(depth + 1) } };
      default:
        return {};
    }
  };
  const keyValues = (depth = 1) =>
    Array.from({ length: int(6) }, () =>
      rnd() < 0.1 ? { key: text() } : { key: text(), value: anyValue(depth) },
    );
  const id = (n: number) =>
    pick([bytes(n), bytes(n), bytes(n), Buffer.alloc(0), Buffer.alloc(n), bytes(n + 1)]);

  const span = () => ({
    traceId: id(16),
    spanId: id(8),
    traceState: pick(['', 'vendor=1']),
    parentSpanId: id(8),
    flags: pick([0, 1, 257, 4294967295]),
    name: text(),
    kind: int(7),
    startTimeUnixNano: u64(),
    endTimeUnixNano: u64(),
    attributes: keyValues(),
    droppedAttributesCount: int(3),
    events: Array.from({ length: int(3) }, () => ({
      timeUnixNano: u64(),
      name: text(),
      attributes: keyValues(),
      droppedAttributesCount: int(2),
    })),
    droppedEventsCount: int(2),
    links: Array.from({ length: int(3) }, () => ({
      traceId: id(16),
      spanId: id(8),
      traceState: pick(['', 'k=v']),
      attributes: keyValues(),
      droppedAttributesCount: int(2),
      flags: pick([0, 1]),
    })),
    droppedLinksCount: int(2),
    ...(rnd() < 0.7 ? { status: { code: int(4), message: text() } } : {}),
  });

  return () => ({
    resourceSpans: Array.from({ length: 1 + int(2) }, () => ({
      ...(rnd() < 0.9
        ? { resource: { attributes: keyValues(), droppedAttributesCount: int(2) } }
        : {}),
      schemaUrl: pick(['', 'https://opentelemetry.io/schemas/1.26.0']),
      scopeSpans: Array.from({ length: 1 + int(2) }, () => ({
        ...(rnd() < 0.9
          ? {
              scope: {
                name: text(),
                version: pick(['', '1.0.0']),
                attributes: keyValues(),
                droppedAttributesCount: int(2),
              },
            }
          : {}),
        schemaUrl: pick(['', 'https://example.com/s']),
        spans: Array.from({ length: int(5) }, span),
      })),
    })),
  });
}

describe('protobuf trace wire decoder', () => {
  it('matches protobufjs + the generic normaliser on 300 random requests', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const body = encode(generator(seed)());
      expect(decodeTraceRequest(body, 'protobuf'), `seed ${seed}`).toEqual(reference(body));
    }
  });

  it('decodes the exact decimal of every 64-bit timestamp', () => {
    const values = [
      0n,
      1n,
      (1n << 53n) - 1n,
      1n << 53n,
      (1n << 53n) + 1n,
      1795759490314000123n,
      (1n << 64n) - 1n,
      ...Array.from({ length: 200 }, (_, i) => (1n << BigInt(i % 64)) + BigInt(i * 7919)),
    ];
    for (const v of values) {
      const body = encode({
        resourceSpans: [
          {
            scopeSpans: [
              {
                spans: [
                  {
                    traceId: Buffer.alloc(16, 1),
                    spanId: Buffer.alloc(8, 2),
                    startTimeUnixNano: '1',
                    endTimeUnixNano: v.toString(),
                  },
                ],
              },
            ],
          },
        ],
      });
      const [decoded] = decodeTraceRequest(body, 'protobuf');
      expect(decoded!.scopeSpans[0]!.spans[0]!.endTimeUnixNano).toBe(v.toString());
    }
  });

  it('keeps a later repeated message field and merges repeated attribute fields', () => {
    // two `resource` fields: protobufjs keeps the last; attribute fields accumulate
    const body = encode({
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'a', value: { stringValue: '1' } }] },
          scopeSpans: [],
        },
      ],
    });
    const again = Buffer.concat([
      body,
      encode({
        resourceSpans: [
          {
            resource: { attributes: [{ key: 'b', value: { stringValue: '2' } }] },
            scopeSpans: [],
          },
        ],
      }),
    ]);
    expect(decodeTraceRequest(again, 'protobuf')).toEqual(reference(again));
  });

  it('refuses strings that are not UTF-8 and truncated bodies as undecodable (400)', () => {
    const good = encode(generator(7)());
    const badUtf8 = encode({
      resourceSpans: [
        {
          scopeSpans: [
            {
              scope: { name: 'PLACEHOLDER' },
              spans: [],
            },
          ],
        },
      ],
    });
    const at = badUtf8.indexOf('PLACEHOLDER');
    badUtf8[at] = 0xff; // never valid in UTF-8
    for (const [i, body] of [badUtf8, good.subarray(0, good.length - 3)].entries()) {
      let thrown: unknown;
      try {
        decodeTraceRequest(body, 'protobuf');
      } catch (e) {
        thrown = e;
      }
      expect(thrown, `case ${i}`).toBeInstanceOf(LoupeError);
      expect((thrown as LoupeError).code).toBe('LOUPE_ERR_UNDECODABLE_BODY');
    }
  });
});
