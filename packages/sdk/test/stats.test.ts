import { afterEach, describe, expect, it } from 'vitest';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { LoupeSpanProcessor } from '../src/processor.js';
import { getStats } from '../src/stats.js';
import { reportError } from '../src/internal/report.js';
import { startFakeCollector, until } from './support/fake-collector.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('getStats', () => {
  it('sums every processor, keeps totals after shutdown, and counts internal errors', async () => {
    const collector = await startFakeCollector((i) =>
      i === 0 ? { status: 400 } : { status: 503, headers: { 'retry-after': '60' } },
    );
    cleanups.push(() => collector.close());
    const before = getStats();
    const make = (maxQueueSize: number) => {
      const p = new LoupeSpanProcessor({
        endpoint: collector.url,
        apiKey: 'k',
        maxQueueSize,
        scheduledDelayMillis: 10,
        flushTimeoutMillis: 100,
      });
      cleanups.push(() => p.shutdown());
      return { p, tracer: new BasicTracerProvider({ spanProcessors: [p] }).getTracer('t') };
    };
    const a = make(100);
    const b = make(3);
    a.tracer.startSpan('a').end(); // → 400: failed, dropped
    await until(() => a.p.getStats().failedExports === 1, 2_000, 'a failed');
    for (let i = 0; i < 5; i++) b.tracer.startSpan(`b${i}`).end(); // 3 queued, 2 dropped
    await until(() => b.p.getStats().retries === 1, 2_000, 'b retried');
    reportError('test', new Error('counted'));

    const live = getStats();
    expect(live.queued - before.queued).toBe(3);
    expect(live.dropped - before.dropped).toBe(1 + 2);
    expect(live.failedExports - before.failedExports).toBe(1);
    expect(live.retries - before.retries).toBe(1);
    expect(live.internalErrors - before.internalErrors).toBe(1);
    // per processor: every ended span is exported, dropped or still held
    for (const [p, created] of [
      [a.p, 1],
      [b.p, 5],
    ] as const) {
      const s = p.getStats();
      expect(s.exported + s.dropped + s.queued).toBe(created);
    }

    await b.p.shutdown();
    const after = getStats();
    expect(after.queued - before.queued).toBe(0);
    expect(after.dropped - before.dropped).toBe(1 + 5);
    expect(after.retries - before.retries).toBeGreaterThanOrEqual(1);
  });
});
