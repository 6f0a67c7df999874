// withRunContext / withMetadata / withTags and getCurrentRunId / getCurrentTraceId, on an
// in-memory exporter (BasicTracerProvider + AsyncLocalStorage context manager, as init()
// would register).
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { context, trace, type Context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
  type Span,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { runIdFromOtel, traceIdFromOtel } from '@loupe/contracts/ids';
import {
  getCurrentRunId,
  getCurrentTraceId,
  traceable,
  withMetadata,
  withRunContext,
  withTags,
} from '../src/index.js';
import { getRunContext, type RunContext } from '../src/internal/context.js';
import { internalErrorCount } from '../src/internal/report.js';

describe('before a context manager and provider are registered', () => {
  it('with* call fn and pass its result and errors through', async () => {
    expect(withMetadata({ a: 1 }, () => 'r')).toBe('r');
    const p = Promise.resolve(1);
    expect(withTags(['t'], () => p)).toBe(p);
    const err = new Error('x');
    expect(() =>
      withRunContext({ sessionId: 's' }, () => {
        throw err;
      }),
    ).toThrow(err);
    await expect(withRunContext({ userId: 'u' }, () => Promise.reject(err))).rejects.toBe(err);
    expect(getCurrentRunId()).toBeUndefined();
    expect(getCurrentTraceId()).toBeUndefined();
  });
});

describe('run context', () => {
  const exporter = new InMemorySpanExporter();
  /** what a third-party instrumentation's span would find in its parent context */
  const seenAtStart = new Map<string, RunContext | undefined>();
  const probe: SpanProcessor = {
    onStart: (span: Span, parent: Context) => seenAtStart.set(span.name, getRunContext(parent)),
    onEnd: () => undefined,
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  };
  const provider = new BasicTracerProvider({
    spanProcessors: [probe, new SimpleSpanProcessor(exporter)],
  });
  const span = (name: string): ReadableSpan => {
    const s = exporter.getFinishedSpans().find((x) => x.name === name);
    if (s === undefined) throw new Error(`no span ${name}`);
    return s;
  };

  beforeAll(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(provider);
  });
  afterEach(() => {
    exporter.reset();
    seenAtStart.clear();
  });
  afterAll(async () => {
    await provider.shutdown();
    trace.disable();
    context.disable();
  });

  it('applies to every run below, across await, timers and Promise.all', async () => {
    const leaf = traceable(async (i: number) => i, { name: 'leaf' });
    await withRunContext(
      {
        metadata: { tenant: 'acme', attempt: 2, flags: { beta: true } },
        tags: ['prod'],
        sessionId: 'sess-1',
        userId: 'user-1',
        promptVersion: 'v3',
        project: 'p1',
      },
      async () => {
        await sleep(1);
        await leaf(1);
        await Promise.all([leaf(2), leaf(3)]);
        await new Promise<void>((resolve) =>
          setTimeout(() => void leaf(4).then(() => resolve()), 2),
        );
      },
    );
    const leaves = exporter.getFinishedSpans().filter((s) => s.name === 'leaf');
    expect(leaves).toHaveLength(4);
    for (const s of leaves) {
      expect(s.attributes).toMatchObject({
        'loupe.metadata.tenant': 'acme',
        'loupe.metadata.attempt': 2,
        'loupe.metadata.flags': '{"beta":true}',
        'loupe.tags': ['prod'],
        'loupe.session_id': 'sess-1',
        'loupe.user_id': 'user-1',
        'loupe.prompt_version': 'v3',
        'loupe.project': 'p1',
      });
    }
  });

  it('is visible to spans of other instrumentations (through the parent context)', () => {
    withMetadata({ k: 'v' }, () => {
      trace.getTracer('third-party').startSpan('foreign').end();
    });
    expect(seenAtStart.get('foreign')).toEqual({ metadata: { k: 'v' } });
  });

  it('nests: metadata merged key by key, tags unioned, ids replaced; the outer context is restored', async () => {
    const record = traceable(() => undefined, { name: 'inner' });
    const outerRun = traceable(() => undefined, { name: 'outer-after' });
    await withRunContext({ metadata: { a: 1, b: 1 }, tags: ['x'], userId: 'u1' }, async () => {
      await withMetadata({ b: 2, c: 3 }, () =>
        withTags(['y', 'x'], () =>
          withRunContext({ userId: 'u2', threadId: 't9' }, async () => {
            await sleep(1);
            record();
          }),
        ),
      );
      outerRun();
    });
    expect(seenAtStart.get('inner')).toEqual({
      metadata: { a: 1, b: 2, c: 3 },
      tags: ['x', 'y'],
      userId: 'u2',
      sessionId: 't9',
    });
    expect(seenAtStart.get('outer-after')).toEqual({
      metadata: { a: 1, b: 1 },
      tags: ['x'],
      userId: 'u1',
    });
    expect(span('inner').attributes['loupe.tags']).toEqual(['x', 'y']);
  });

  it('concurrent requests keep their own context', async () => {
    const handle = traceable(
      async (req: string) => {
        await sleep(req === 'a' ? 5 : 1);
        return getRunContext()?.userId;
      },
      { name: 'handle' },
    );
    const results = await Promise.all(
      ['a', 'b'].map((req) => withRunContext({ userId: `user-${req}` }, () => handle(req))),
    );
    expect(results).toEqual(['user-a', 'user-b']);
  });

  it('threadId is an alias of sessionId; sessionId wins; numbers become strings', () => {
    withRunContext({ threadId: 'th' }, () => traceable(() => 1, { name: 'a' })());
    withRunContext({ threadId: 'th', sessionId: 'se' }, () => traceable(() => 1, { name: 'b' })());
    const untyped = withRunContext as (o: unknown, fn: () => unknown) => unknown;
    untyped({ userId: 42 }, () => traceable(() => 1, { name: 'c' })());
    expect(span('a').attributes['loupe.session_id']).toBe('th');
    expect(span('b').attributes['loupe.session_id']).toBe('se');
    expect(span('c').attributes['loupe.user_id']).toBe('42');
  });

  it('invalid options from untyped callers are dropped without throwing', () => {
    const before = internalErrorCount();
    const untyped = withRunContext as (o: unknown, fn: () => unknown) => unknown;
    expect(untyped(null, () => 'ok')).toBe('ok');
    expect(untyped('nope', () => 'ok')).toBe('ok');
    expect(
      untyped({ metadata: ['not', 'an', 'object'], tags: ['ok', 5], sessionId: {} }, () =>
        getRunContext(),
      ),
    ).toEqual({ tags: ['ok'] });
    expect(internalErrorCount()).toBe(before);
  });

  it('a hostile metadata object costs only the metadata, never the call', () => {
    const hostile = new Proxy(
      {},
      {
        ownKeys() {
          throw new Error('no keys for you');
        },
      },
    );
    const result = withRunContext({ metadata: hostile, userId: 'u' }, () =>
      traceable(() => 'still works', { name: 'hostile' })(),
    );
    expect(result).toBe('still works');
    expect(span('hostile').attributes['loupe.user_id']).toBe('u');
  });

  it('null and undefined metadata values are not written', () => {
    withMetadata({ gone: undefined, nil: null, kept: 0 }, () =>
      traceable(() => 1, { name: 'md' })(),
    );
    const attrs = span('md').attributes;
    expect(attrs['loupe.metadata.kept']).toBe(0);
    expect('loupe.metadata.gone' in attrs).toBe(false);
    expect('loupe.metadata.nil' in attrs).toBe(false);
  });

  describe('getCurrentRunId / getCurrentTraceId', () => {
    it('are the stored ids of the active span, also for spans not made by traceable', () => {
      const tracer = trace.getTracer('third-party');
      const ids = tracer.startActiveSpan('manual', (s) => {
        const out = { runId: getCurrentRunId(), traceId: getCurrentTraceId() };
        s.end();
        return out;
      });
      const sc = span('manual').spanContext();
      expect(ids.runId).toBe(runIdFromOtel(sc.traceId, sc.spanId));
      expect(ids.traceId).toBe(traceIdFromOtel(sc.traceId));
      expect(ids.runId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    });

    it('are undefined outside any span and inside a with* block without a span', () => {
      expect(getCurrentRunId()).toBeUndefined();
      expect(withMetadata({ a: 1 }, () => getCurrentRunId())).toBeUndefined();
    });

    it('follow the run across await and into timers', async () => {
      const got = await traceable(
        async () => {
          const before = getCurrentRunId();
          await sleep(1);
          const after = await new Promise<string | undefined>((resolve) =>
            setTimeout(() => resolve(getCurrentRunId()), 1),
          );
          return { before, after };
        },
        { name: 'timed' },
      )();
      const sc = span('timed').spanContext();
      expect(got.before).toBe(runIdFromOtel(sc.traceId, sc.spanId));
      expect(got.after).toBe(got.before);
    });
  });
});
