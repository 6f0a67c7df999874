// The collector goes away for 10 s while the app keeps working (a TCP proxy in front of
// it refuses connections, then listens again on the same port). The app's calls must not
// notice: same results, no exceptions, no stalls. The SDK's queue must stay within its
// bound and count what it drops; once the collector is back, everything still queued
// arrives exactly once, so exported + dropped == created and the collector's run count
// == exported.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { startTestServer, testBackends, type TestServer } from '@loupe/collector/testing';
import { runIdFromOtel } from '@loupe/contracts/ids';
import { LoupeSpanProcessor } from '@loupe/sdk';
import { loupeApi, waitForRuns } from '../../support/otel-helpers.js';
import { startTcpProxy, type TcpProxy } from '../../support/robustness-proxy.js';

const RATE_PER_SECOND = 50;
const BEFORE_MS = 2_000;
const OUTAGE_MS = 10_000;
const AFTER_MS = 2_000;
const MAX_QUEUE = 200;

describe.each(testBackends())('SDK transport through a 10 s collector outage (%s)', (kind) => {
  let server: TestServer;
  let proxy: TcpProxy;

  beforeAll(async () => {
    server = await startTestServer(kind);
    proxy = await startTcpProxy('127.0.0.1', Number(new URL(server.url).port));
  });
  afterAll(async () => {
    await proxy?.close();
    await server?.close();
  });

  it('the app is unaffected, the queue stays bounded, the rest arrives exactly once', async () => {
    const project = `sdk-fault-${kind}`;
    const processor = new LoupeSpanProcessor({
      endpoint: `http://127.0.0.1:${proxy.port}`,
      apiKey: server.apiKey,
      project,
      maxQueueSize: MAX_QUEUE,
      maxExportBatchSize: 50,
      scheduledDelayMillis: 100,
      exportTimeoutMillis: 2_000,
      // a short cap so the test sees the recovery within seconds, not the 30 s default
      retryInitialDelayMillis: 200,
      retryMaxDelayMillis: 1_000,
      flushTimeoutMillis: 20_000,
    });
    const tracer = new BasicTracerProvider({ spanProcessors: [processor] }).getTracer('app');

    // the app's operation: real work traced by a span; must behave as if tracing weren't there
    const created: string[] = [];
    const call = (i: number): number => {
      const span = tracer.startSpan('call', { attributes: { i } });
      try {
        return i * 3 + 1;
      } finally {
        span.end();
        created.push(runIdFromOtel(span.spanContext().traceId, span.spanContext().spanId));
      }
    };

    const durations: number[] = [];
    let maxHeld = 0;
    let calls = 0;
    const t0 = Date.now();
    const runPhase = async (ms: number) => {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        const i = calls++;
        const started = performance.now();
        expect(call(i)).toBe(i * 3 + 1);
        durations.push(performance.now() - started);
        maxHeld = Math.max(maxHeld, processor.getStats().queued);
        // a fixed schedule (not "sleep 20 ms") keeps the rate at 50/s despite timer drift
        await sleep(Math.max(0, t0 + (calls * 1000) / RATE_PER_SECOND - Date.now()));
      }
    };

    await runPhase(BEFORE_MS);
    const beforeOutage = processor.getStats();
    expect(beforeOutage.exported).toBeGreaterThan(0);

    await proxy.cut();
    await runPhase(OUTAGE_MS);
    const duringOutage = processor.getStats();
    await proxy.restore();
    await runPhase(AFTER_MS);
    await processor.forceFlush();
    const stats = processor.getStats();
    await processor.shutdown();

    // the app: ~700 calls, none slowed down by the outage
    expect(calls).toBeGreaterThan(
      0.8 * RATE_PER_SECOND * ((BEFORE_MS + OUTAGE_MS + AFTER_MS) / 1000),
    );
    expect(created).toHaveLength(calls);
    // calls are synchronous and never wait on the network; the loose max only allows
    // for a GC pause or a busy shared CPU, the p99 is what a stall would move
    durations.sort((x, y) => x - y);
    const p99 = durations[Math.floor(durations.length * 0.99)]!;
    const maxCallMs = durations.at(-1)!;
    expect(p99).toBeLessThan(5);
    expect(maxCallMs).toBeLessThan(250);

    // the SDK: bounded, retried, counted
    expect(maxHeld).toBeLessThanOrEqual(MAX_QUEUE);
    expect(duringOutage.retries).toBeGreaterThan(beforeOutage.retries);
    expect(stats.dropped).toBeGreaterThan(0);
    expect(stats.failedExports).toBe(0);
    expect(stats.queued).toBe(0);
    expect(stats.exported + stats.dropped).toBe(created.length);

    // the collector: exactly the exported spans, each once
    const runs = await waitForRuns(
      loupeApi(server),
      { project },
      (r) => r.length >= stats.exported,
      `${stats.exported} runs`,
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    const ids = runs.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBe(stats.exported);
    const createdSet = new Set(created);
    expect(ids.every((id) => createdSet.has(id))).toBe(true);
    console.log(
      `[${kind}] created ${created.length}, exported ${stats.exported}, dropped ${stats.dropped}, ` +
        `retries ${stats.retries}, max held ${maxHeld}, call p99 ${p99.toFixed(2)} ms, max ${maxCallMs.toFixed(2)} ms`,
    );
  });
});
