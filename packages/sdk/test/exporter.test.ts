import { afterEach, describe, expect, it } from 'vitest';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LoupeExporter, parseRetryAfter, retryDelayMillis } from '../src/exporter.js';
import { getStats } from '../src/stats.js';
import {
  partialSuccess,
  rpcStatus,
  startFakeCollector,
  type Reply,
} from './support/fake-collector.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function makeSpans(n: number): ReadableSpan[] {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'svc' }),
    spanProcessors: [new SimpleSpanProcessor(memory)],
  });
  const tracer = provider.getTracer('t');
  for (let i = 0; i < n; i++) tracer.startSpan(`span-${i}`, { attributes: { i } }).end();
  return memory.getFinishedSpans();
}

async function collectorWith(reply: (i: number) => Reply) {
  const collector = await startFakeCollector(reply);
  cleanups.push(() => collector.close());
  return collector;
}

function exporterFor(url: string, options: ConstructorParameters<typeof LoupeExporter>[0] = {}) {
  const exporter = new LoupeExporter({ endpoint: url, apiKey: 'key-1', ...options });
  cleanups.push(() => exporter.shutdown());
  return exporter;
}

const exportOnce = (exporter: LoupeExporter, spans: ReadableSpan[]) =>
  new Promise<ExportResult>((resolve) => exporter.export(spans, resolve));

describe('LoupeExporter.send', () => {
  it('POSTs OTLP protobuf to {endpoint}/v1/traces with the key and project headers', async () => {
    const collector = await collectorWith(() => ({ status: 200 }));
    const exporter = exporterFor(`${collector.url}/`, {
      project: 'shop',
      headers: { 'x-extra': '1' },
    });
    const spans = makeSpans(3);
    expect(await exporter.send(spans)).toEqual({ kind: 'success', rejected: 0, message: '' });
    const [req] = collector.requests;
    expect(req!.path).toBe('/v1/traces');
    expect(req!.headers).toMatchObject({
      'content-type': 'application/x-protobuf',
      'x-api-key': 'key-1',
      'x-loupe-project': 'shop',
      'x-extra': '1',
    });
    expect(req!.spans.map((s) => [s.name, s.attributes.i])).toEqual([
      ['span-0', 0],
      ['span-1', 1],
      ['span-2', 2],
    ]);
    expect(req!.spans[0]!.spanId).toBe(spans[0]!.spanContext().spanId);
    expect(req!.resource['service.name']).toBe('svc');
  });

  it('keeps a base path and accepts a full …/v1/traces URL', () => {
    expect(new LoupeExporter({ endpoint: 'https://h.example/loupe', apiKey: 'k' }).url).toBe(
      'https://h.example/loupe/v1/traces',
    );
    expect(new LoupeExporter({ endpoint: 'http://h:4318/v1/traces', apiKey: 'k' }).url).toBe(
      'http://h:4318/v1/traces',
    );
  });

  it('reports partial_success rejects from the response', async () => {
    const collector = await collectorWith(() => ({
      status: 200,
      body: partialSuccess(2, 'span 1: bad id; span 2: bad id'),
    }));
    const outcome = await exporterFor(collector.url).send(makeSpans(5));
    expect(outcome).toEqual({
      kind: 'success',
      rejected: 2,
      message: 'span 1: bad id; span 2: bad id',
    });
  });

  it.each([429, 502, 503, 504])(
    'classifies HTTP %i as retryable with Retry-After',
    async (status) => {
      const collector = await collectorWith(() => ({ status, headers: { 'retry-after': '3' } }));
      expect(await exporterFor(collector.url).send(makeSpans(1))).toMatchObject({
        kind: 'retryable',
        retryAfterMillis: 3_000,
      });
    },
  );

  it.each([400, 401, 403, 404, 413, 415, 500])(
    'classifies HTTP %i as permanent with the rpc Status message',
    async (status) => {
      const collector = await collectorWith(() => ({
        status,
        body: rpcStatus(3, 'LOUPE_ERR_BAD: explained'),
      }));
      expect(await exporterFor(collector.url).send(makeSpans(1))).toEqual({
        kind: 'permanent',
        reason: `HTTP ${status}: LOUPE_ERR_BAD: explained`,
      });
    },
  );

  it('classifies refused connections, resets and timeouts as retryable', async () => {
    const dead = await startFakeCollector();
    await dead.close();
    expect(await exporterFor(dead.url).send(makeSpans(1))).toMatchObject({
      kind: 'retryable',
      reason: expect.stringContaining('ECONNREFUSED'),
    });
    const resetting = await collectorWith(() => 'reset');
    expect(await exporterFor(resetting.url).send(makeSpans(1))).toMatchObject({
      kind: 'retryable',
    });
    const hanging = await collectorWith(() => 'hang');
    const t0 = Date.now();
    expect(
      await exporterFor(hanging.url, { exportTimeoutMillis: 250 }).send(makeSpans(1)),
    ).toMatchObject({ kind: 'retryable', reason: 'timed out after 250 ms' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(245);
    expect(Date.now() - t0).toBeLessThan(1_000);
  });

  it('shutdown aborts a request in flight and refuses new sends', async () => {
    const hanging = await collectorWith(() => 'hang');
    const exporter = exporterFor(hanging.url);
    const pending = exporter.send(makeSpans(1));
    await new Promise((r) => setTimeout(r, 50));
    await exporter.shutdown();
    expect(await pending).toMatchObject({ kind: 'retryable' });
    expect(await exporter.send(makeSpans(1))).toMatchObject({ kind: 'permanent' });
    await exporter.shutdown(); // idempotent
  });
});

describe('LoupeExporter.export (standalone SpanExporter)', () => {
  it('retries in place and reports one result', async () => {
    const collector = await collectorWith((i) =>
      i < 2 ? { status: 503, headers: { 'retry-after': '0' } } : { status: 200 },
    );
    const before = getStats();
    const exporter = exporterFor(collector.url);
    const result = await exportOnce(exporter, makeSpans(4));
    expect(result.code).toBe(ExportResultCode.SUCCESS);
    expect(collector.requests).toHaveLength(3);
    const after = getStats();
    expect(after.exported - before.exported).toBe(4);
    expect(after.retries - before.retries).toBe(2);
  });

  it('fails without retry on a permanent error', async () => {
    const collector = await collectorWith(() => ({ status: 401, body: rpcStatus(16, 'bad key') }));
    const before = getStats();
    const result = await exportOnce(exporterFor(collector.url), makeSpans(2));
    expect(result.code).toBe(ExportResultCode.FAILED);
    expect(result.error?.message).toContain('bad key');
    expect(collector.requests).toHaveLength(1);
    const after = getStats();
    expect(after.failedExports - before.failedExports).toBe(1);
    expect(after.dropped - before.dropped).toBe(2);
  });

  it('gives up within exportTimeoutMillis when the collector keeps failing', async () => {
    const collector = await collectorWith(() => ({ status: 502 }));
    const exporter = exporterFor(collector.url, {
      exportTimeoutMillis: 1_000,
      retryInitialDelayMillis: 100,
    });
    const t0 = Date.now();
    const result = await exportOnce(exporter, makeSpans(1));
    expect(result.code).toBe(ExportResultCode.FAILED);
    expect(Date.now() - t0).toBeLessThan(1_200);
    expect(collector.requests.length).toBeGreaterThanOrEqual(3);
    expect(collector.requests.length).toBeLessThanOrEqual(5);
  });

  it('plugs into a BatchSpanProcessor of an existing provider', async () => {
    const collector = await collectorWith(() => ({ status: 200 }));
    const exporter = new LoupeExporter({ endpoint: collector.url, apiKey: 'k' });
    const { BatchSpanProcessor } = await import('@opentelemetry/sdk-trace-base');
    const provider = new BasicTracerProvider({
      spanProcessors: [new BatchSpanProcessor(exporter)],
    });
    provider.getTracer('t').startSpan('via-bsp').end();
    await provider.shutdown();
    expect(collector.requests.flatMap((r) => r.spans.map((s) => s.name))).toEqual(['via-bsp']);
  });
});

describe('Retry-After and backoff', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');
  it('parses delta-seconds and HTTP dates, ignores garbage, caps at 5 minutes', () => {
    expect(parseRetryAfter('2', now)).toBe(2_000);
    expect(parseRetryAfter(' 1.5 ', now)).toBe(1_500);
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:07 GMT', now)).toBe(7_000);
    expect(parseRetryAfter('Tue, 31 Dec 2024 23:59:00 GMT', now)).toBe(0);
    expect(parseRetryAfter(['4'], now)).toBe(4_000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('-1', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('86400', now)).toBe(300_000);
  });

  it('backs off exponentially, capped, with ±20 % jitter; Retry-After is a floor', () => {
    const policy = { initialDelayMillis: 1_000, maxDelayMillis: 5_000 };
    expect([1, 2, 3, 4, 5].map((a) => retryDelayMillis(a, undefined, policy, () => 0.5))).toEqual([
      1_000, 2_000, 4_000, 5_000, 5_000,
    ]);
    expect(retryDelayMillis(2, undefined, policy, () => 0)).toBeCloseTo(1_600);
    expect(retryDelayMillis(2, undefined, policy, () => 1)).toBeCloseTo(2_400);
    expect(retryDelayMillis(9, 3_000, policy, () => 0)).toBeCloseTo(3_000);
    expect(retryDelayMillis(9, 3_000, policy, () => 1)).toBeCloseTo(3_600);
    expect(retryDelayMillis(1, 0, policy, () => 0)).toBeCloseTo(100);
  });
});
