import { afterEach, describe, expect, it } from 'vitest';
import { ROOT_CONTEXT, trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import {
  LOUPE_METADATA_PREFIX,
  LOUPE_PROJECT,
  LOUPE_PROMPT_VERSION,
  LOUPE_SESSION_ID,
  LOUPE_TAGS,
  LOUPE_USER_ID,
} from '@loupe/contracts/attributes';
import {
  LoupeSpanProcessor,
  loupeSpanProcessor,
  type LoupeSpanProcessorOptions,
} from '../src/processor.js';
import { HIDDEN, payloadJson } from '../src/internal/payload.js';
import { getPayloadOptions, resetPayloadOptions } from '../src/internal/state.js';
import { getStats } from '../src/stats.js';
import { setRunContext } from '../src/internal/context.js';
import {
  rpcStatus,
  startFakeCollector,
  until,
  type FakeCollector,
  type Reply,
} from './support/fake-collector.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(reply: (i: number) => Reply, options: LoupeSpanProcessorOptions = {}) {
  const collector = await startFakeCollector(reply);
  const processor = new LoupeSpanProcessor({
    endpoint: collector.url,
    apiKey: 'test-key',
    scheduledDelayMillis: 20,
    retryInitialDelayMillis: 50,
    flushTimeoutMillis: 5_000,
    ...options,
  });
  const provider = new BasicTracerProvider({ spanProcessors: [processor] });
  const tracer = provider.getTracer('test');
  cleanups.push(async () => {
    await processor.shutdown();
    await collector.close();
  });
  /** ends `n` root spans and returns their span ids in end order */
  const spans = (n: number, prefix = 's'): string[] =>
    Array.from({ length: n }, (_, i) => {
      const span = tracer.startSpan(`${prefix}${i}`);
      span.end();
      return span.spanContext().spanId;
    });
  return { collector, processor, tracer, spans };
}

const gaps = (c: FakeCollector) => c.requests.slice(1).map((r, i) => r.at - c.requests[i]!.at);

function invariant(processor: LoupeSpanProcessor, created: number) {
  const s = processor.getStats();
  expect(s.exported + s.dropped + s.queued).toBe(created);
}

describe('LoupeSpanProcessor: batching', () => {
  it('sends full batches at once and the rest after scheduledDelayMillis', async () => {
    const { collector, processor, spans } = await setup(() => ({ status: 200 }), {
      maxExportBatchSize: 10,
      scheduledDelayMillis: 300,
    });
    const t0 = Date.now();
    const ids = spans(25);
    await until(() => collector.requests.length === 2, 2_000, 'two full batches');
    expect(Date.now() - t0).toBeLessThan(250);
    await until(() => collector.requests.length === 3, 2_000, 'the partial batch');
    expect(collector.requests[2]!.at - t0).toBeGreaterThanOrEqual(280);
    expect(collector.requests.map((r) => r.spans.length)).toEqual([10, 10, 5]);
    expect(collector.spanIds()).toEqual(ids);
    // the collector records a request before its answer reaches the processor
    await until(() => processor.getStats().exported === 25, 2_000, 'answers');
    expect(processor.getStats()).toMatchObject({ exported: 25, dropped: 0, queued: 0, retries: 0 });
    const req = collector.requests[0]!;
    expect(req.method).toBe('POST');
    expect(req.path).toBe('/v1/traces');
    expect(req.headers['content-type']).toBe('application/x-protobuf');
    expect(req.headers['x-api-key']).toBe('test-key');
    expect(req.headers['x-loupe-project']).toBeUndefined();
  });

  it('keeps one export in flight at a time', async () => {
    const { collector, processor, spans } = await setup(() => ({ status: 200, delayMs: 40 }), {
      maxExportBatchSize: 5,
    });
    spans(60);
    await processor.forceFlush();
    expect(collector.spanIds()).toHaveLength(60);
    expect(collector.maxConcurrent()).toBe(1);
  });

  it('does not export spans of unsampled traces', async () => {
    const { collector, processor, tracer } = await setup(() => ({ status: 200 }));
    const unsampled = trace.setSpanContext(ROOT_CONTEXT, {
      traceId: 'a'.repeat(32),
      spanId: 'b'.repeat(16),
      traceFlags: 0,
      isRemote: true,
    });
    tracer.startSpan('child-of-unsampled', {}, unsampled).end();
    tracer.startSpan('sampled').end();
    await processor.forceFlush();
    expect(collector.requests.flatMap((r) => r.spans.map((s) => s.name))).toEqual(['sampled']);
  });
});

describe('LoupeSpanProcessor: bounded queue', () => {
  it('drops the newest spans beyond maxQueueSize and counts them', async () => {
    // the collector pushes back for a long time: nothing can leave the queue
    const { collector, processor, spans } = await setup(
      () => ({ status: 503, headers: { 'retry-after': '60' } }),
      { maxQueueSize: 20, maxExportBatchSize: 5, flushTimeoutMillis: 300 },
    );
    const first = spans(20);
    await until(() => collector.requests.length === 1, 2_000, 'first attempt');
    await until(() => processor.getStats().retries === 1, 2_000, 'requeue');
    spans(30, 'late');
    expect(processor.getStats()).toMatchObject({ queued: 20, dropped: 30, exported: 0 });
    invariant(processor, 50);
    // the requeued batch is still at the front: the first 5 attempted are the first 5 ended
    expect(collector.requests[0]!.spans.map((s) => s.spanId)).toEqual(first.slice(0, 5));
    await processor.shutdown();
    expect(processor.getStats()).toMatchObject({ queued: 0, dropped: 50, exported: 0 });
  });

  it('counts the batch in flight against the bound; a requeued batch is kept', async () => {
    let n = 0;
    const collector = await startFakeCollector(() => (n++ === 0 ? 'hang' : { status: 200 }));
    cleanups.push(() => collector.close());
    const processor = new LoupeSpanProcessor({
      endpoint: collector.url,
      apiKey: 'k',
      maxQueueSize: 10,
      maxExportBatchSize: 10,
      exportTimeoutMillis: 300,
      retryInitialDelayMillis: 50,
      scheduledDelayMillis: 10,
    });
    cleanups.push(() => processor.shutdown());
    const tracer = new BasicTracerProvider({ spanProcessors: [processor] }).getTracer('t');
    const end = (name: string) => {
      const s = tracer.startSpan(name);
      s.end();
      return s.spanContext().spanId;
    };
    const batch = Array.from({ length: 10 }, (_, i) => end(`a${i}`));
    await until(() => collector.requests.length === 1, 2_000, 'first request');
    // the hanging batch fills the bound: 10 newer spans are dropped at the door
    const newer = Array.from({ length: 10 }, (_, i) => end(`b${i}`));
    expect(processor.getStats()).toMatchObject({ queued: 10, dropped: 10 });
    await processor.forceFlush();
    // the timed-out batch went back to the front and was delivered
    expect(collector.requests.slice(1).flatMap((r) => r.spans.map((s) => s.spanId))).toEqual(batch);
    expect(processor.getStats()).toMatchObject({
      exported: 10,
      dropped: 10,
      retries: 1,
      queued: 0,
    });
    expect(newer).toHaveLength(10);
  });
});

describe('LoupeSpanProcessor: retries', () => {
  it('requeues on 503 and honours Retry-After (seconds)', async () => {
    const { collector, processor, spans } = await setup((i) =>
      i === 0 ? { status: 503, headers: { 'retry-after': '1' } } : { status: 200 },
    );
    const ids = spans(3);
    await until(() => collector.requests.length === 1, 2_000, 'first attempt');
    spans(2, 'during-pause');
    await until(() => collector.requests.length >= 2, 3_000, 'retry');
    const gap = collector.requests[1]!.at - collector.requests[0]!.at;
    expect(gap).toBeGreaterThanOrEqual(1_000);
    expect(gap).toBeLessThan(1_500); // 1 s + at most 20 % jitter + scheduling
    // same spans again, first in line, then the ones that ended during the pause
    expect(collector.requests[1]!.spans.slice(0, 3).map((s) => s.spanId)).toEqual(ids);
    await processor.forceFlush();
    expect(processor.getStats()).toMatchObject({ exported: 5, retries: 1, dropped: 0 });
  });

  it('honours Retry-After as an HTTP date', async () => {
    const { collector, processor, spans } = await setup((i) =>
      i === 0
        ? { status: 429, headers: { 'retry-after': new Date(Date.now() + 2_000).toUTCString() } }
        : { status: 200 },
    );
    spans(1);
    await processor.forceFlush();
    expect(collector.requests).toHaveLength(2);
    // an HTTP date has 1 s resolution: the wait is between 1 and 2 s (+ jitter)
    expect(gaps(collector)[0]).toBeGreaterThanOrEqual(1_000);
    expect(processor.getStats()).toMatchObject({ exported: 1, retries: 1 });
  });

  it('backs off exponentially with jitter on 502/504/connection reset', async () => {
    const script: Reply[] = [{ status: 502 }, { status: 504 }, 'reset', { status: 502 }];
    const { collector, processor, spans } = await setup((i) => script[i] ?? { status: 200 }, {
      retryInitialDelayMillis: 100,
      retryMaxDelayMillis: 10_000,
    });
    spans(4);
    await processor.forceFlush();
    expect(collector.requests).toHaveLength(5);
    const g = gaps(collector);
    // attempt k waits 100·2^(k-1) ms ±20 %; the request itself adds a few ms
    [100, 200, 400, 800].forEach((base, k) => {
      expect(g[k]).toBeGreaterThanOrEqual(base * 0.8 - 5);
      expect(g[k]).toBeLessThan(base * 1.2 + 80);
    });
    // jitter: the ratios to the nominal delays are not all the same
    const ratios = g.map((x, k) => x / (100 * 2 ** k));
    expect(Math.max(...ratios) - Math.min(...ratios)).toBeGreaterThan(0.001);
    expect(processor.getStats()).toMatchObject({ exported: 4, retries: 4, failedExports: 0 });
  });

  it('retries when nothing listens (connection refused)', async () => {
    const dead = await startFakeCollector();
    const url = dead.url;
    await dead.close();
    const processor = new LoupeSpanProcessor({
      endpoint: url,
      apiKey: 'k',
      scheduledDelayMillis: 10,
      retryInitialDelayMillis: 50,
      flushTimeoutMillis: 400,
    });
    const tracer = new BasicTracerProvider({ spanProcessors: [processor] }).getTracer('t');
    tracer.startSpan('x').end();
    await until(() => processor.getStats().retries >= 2, 3_000, 'retries');
    expect(processor.getStats()).toMatchObject({ queued: 1, failedExports: 0 });
    await processor.shutdown();
    expect(processor.getStats()).toMatchObject({ queued: 0, dropped: 1, exported: 0 });
  });

  it.each([400, 401, 413, 415, 500])(
    'does not retry HTTP %i: counted failed, spans dropped',
    async (status) => {
      const { collector, processor, spans } = await setup((i) =>
        i === 0 ? { status, body: rpcStatus(3, 'LOUPE_ERR_X: nope') } : { status: 200 },
      );
      spans(3);
      await processor.forceFlush();
      expect(collector.requests).toHaveLength(1);
      expect(processor.getStats()).toMatchObject({ failedExports: 1, dropped: 3, retries: 0 });
      // no pause after a permanent failure: the next span goes out normally
      spans(1, 'next');
      await processor.forceFlush();
      expect(collector.requests).toHaveLength(2);
      expect(processor.getStats()).toMatchObject({ exported: 1 });
    },
  );

  it('times out a hanging collector and retries', async () => {
    const { collector, processor, spans } = await setup(
      (i) => (i === 0 ? 'hang' : { status: 200 }),
      { exportTimeoutMillis: 300 },
    );
    spans(2);
    await processor.forceFlush();
    expect(collector.requests).toHaveLength(2);
    const g = gaps(collector)[0]!;
    expect(g).toBeGreaterThanOrEqual(300 + 50 * 0.8 - 5);
    expect(g).toBeLessThan(1_000);
    expect(processor.getStats()).toMatchObject({ exported: 2, retries: 1 });
  });
});

describe('LoupeSpanProcessor: flush and shutdown', () => {
  it('forceFlush waits out the backoff and delivers everything queued', async () => {
    const { collector, processor, spans } = await setup(
      (i) => (i === 0 ? { status: 503, headers: { 'retry-after': '1' } } : { status: 200 }),
      { scheduledDelayMillis: 60_000 },
    );
    const ids = spans(7);
    const t0 = Date.now();
    await processor.forceFlush();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1_000);
    expect(collector.spanIds()).toEqual([...ids, ...ids]);
    expect(processor.getStats()).toMatchObject({ exported: 7, queued: 0 });
  });

  it('forceFlush gives up at flushTimeoutMillis', async () => {
    const { processor, spans } = await setup(
      () => ({ status: 503, headers: { 'retry-after': '30' } }),
      { scheduledDelayMillis: 60_000, flushTimeoutMillis: 300 },
    );
    spans(2);
    const t0 = Date.now();
    await processor.forceFlush();
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect(processor.getStats()).toMatchObject({ queued: 2, retries: 1 });
  });

  it('shutdown flushes, is idempotent, and ignores later spans', async () => {
    const { collector, processor, spans } = await setup(() => ({ status: 200 }), {
      scheduledDelayMillis: 60_000,
    });
    const ids = spans(5);
    const a = processor.shutdown();
    const b = processor.shutdown();
    expect(a).toBe(b);
    await a;
    expect(collector.spanIds()).toEqual(ids);
    await processor.shutdown();
    await processor.forceFlush();
    spans(3, 'after');
    await new Promise((r) => setTimeout(r, 100));
    expect(collector.requests).toHaveLength(1);
    expect(processor.getStats()).toMatchObject({ exported: 5, dropped: 0, queued: 0 });
  });

  it('shutdown against a hanging collector ends at its deadline and counts the loss', async () => {
    const { processor, spans } = await setup(() => 'hang', {
      flushTimeoutMillis: 400,
      exportTimeoutMillis: 60_000,
    });
    spans(4);
    const t0 = Date.now();
    await processor.shutdown();
    expect(Date.now() - t0).toBeLessThan(1_500);
    expect(processor.getStats()).toMatchObject({ exported: 0, dropped: 4, queued: 0 });
  });
});

describe('LoupeSpanProcessor: run context', () => {
  it('stamps the run context of the parent context on every span', () => {
    const memory = new InMemorySpanExporter();
    const processor = new LoupeSpanProcessor({
      endpoint: 'http://127.0.0.1:9',
      apiKey: 'k',
      flushTimeoutMillis: 100,
    });
    cleanups.push(() => processor.shutdown());
    const provider = new BasicTracerProvider({
      spanProcessors: [processor, new SimpleSpanProcessor(memory)],
    });
    const tracer = provider.getTracer('third-party');
    const ctx = setRunContext(ROOT_CONTEXT, {
      metadata: { tenant: 'acme', n: 3, ok: true, nested: { a: [1] }, gone: undefined },
      tags: ['beta', 'eu'],
      sessionId: 'sess-1',
      userId: 'user-1',
      promptVersion: 'v7',
      project: 'proj-a',
    });
    const parent = tracer.startSpan('traceable-root', {}, ctx);
    // a third-party instrumentation's span below it, with a few attributes of its own
    const child = tracer.startSpan(
      'openai.chat',
      { attributes: { [LOUPE_SESSION_ID]: 'own-session', [LOUPE_TAGS]: ['llm'] } },
      trace.setSpan(ctx, parent),
    );
    child.end();
    parent.end();
    tracer.startSpan('outside').end();
    const [c, p, outside] = memory.getFinishedSpans();
    expect(p!.attributes).toMatchObject({
      [`${LOUPE_METADATA_PREFIX}tenant`]: 'acme',
      [`${LOUPE_METADATA_PREFIX}n`]: 3,
      [`${LOUPE_METADATA_PREFIX}ok`]: true,
      [`${LOUPE_METADATA_PREFIX}nested`]: '{"a":[1]}',
      [LOUPE_TAGS]: ['beta', 'eu'],
      [LOUPE_SESSION_ID]: 'sess-1',
      [LOUPE_USER_ID]: 'user-1',
      [LOUPE_PROMPT_VERSION]: 'v7',
      [LOUPE_PROJECT]: 'proj-a',
    });
    expect(p!.attributes).not.toHaveProperty(`${LOUPE_METADATA_PREFIX}gone`);
    expect(c!.attributes).toMatchObject({
      [`${LOUPE_METADATA_PREFIX}tenant`]: 'acme',
      [LOUPE_SESSION_ID]: 'own-session', // the span's own value wins
      [LOUPE_USER_ID]: 'user-1',
      [LOUPE_TAGS]: ['beta', 'eu', 'llm'], // tags are unioned
    });
    expect(Object.keys(outside!.attributes).filter((k) => k.startsWith('loupe.'))).toEqual([]);
  });

  it('a hostile run context never reaches the caller', () => {
    const processor = new LoupeSpanProcessor({
      endpoint: 'http://127.0.0.1:9',
      apiKey: 'k',
      flushTimeoutMillis: 100,
    });
    cleanups.push(() => processor.shutdown());
    const tracer = new BasicTracerProvider({ spanProcessors: [processor] }).getTracer('t');
    const metadata = new Proxy(
      {},
      {
        ownKeys() {
          throw new Error('boom');
        },
      },
    );
    const ctx = setRunContext(ROOT_CONTEXT, { metadata, tags: 'x' as unknown as string[] });
    expect(() => tracer.startSpan('x', {}, ctx).end()).not.toThrow();
  });
});

describe('loupeSpanProcessor()', () => {
  afterEach(() => resetPayloadOptions());

  it('applies payload options; a throwing redact never reaches the caller', async () => {
    const processor = loupeSpanProcessor({
      endpoint: 'http://127.0.0.1:9',
      apiKey: 'k',
      flushTimeoutMillis: 100,
      hideOutputs: true,
      redact: () => {
        throw new Error('redact bug');
      },
    });
    cleanups.push(() => processor.shutdown());
    expect(getPayloadOptions().hideOutputs).toBe(true);
    const info = { kind: 'inputs', runType: 'chain', name: 'x' } as const;
    let json = '';
    expect(() => (json = payloadJson({ secret: 1 }, info))).not.toThrow();
    expect(JSON.parse(json)).toEqual(HIDDEN);
  });

  it('reports invalid options and uses defaults instead of throwing', () => {
    const before = getStats().internalErrors;
    let processor: ReturnType<typeof loupeSpanProcessor> | undefined;
    expect(
      () =>
        (processor = loupeSpanProcessor({
          endpoint: 'ftp://nope',
          apiKey: 'k',
          maxQueueSize: -3,
          exportTimeoutMillis: Number.NaN,
          redact: 'no' as never,
        })),
    ).not.toThrow();
    cleanups.push(() => processor!.shutdown());
    expect(getStats().internalErrors - before).toBe(4);
    expect(getPayloadOptions().redact).toBeUndefined();
  });
});
