import { describe, expect, it } from 'vitest';
import { ROOT_CONTEXT, SpanKind, trace, type Context } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SamplingDecision,
  SimpleSpanProcessor,
  TraceIdRatioBasedSampler,
  type IdGenerator,
  type Sampler,
} from '@opentelemetry/sdk-trace-base';
import { loupeSampler, type LoupeSamplerOptions } from '../src/sampling.js';
import { resolveSampleRate } from '../src/config.js';
import { getStats } from '../src/stats.js';

/** Replayable ids (xorshift from a seed), so two providers see the same trace ids. */
function seededIds(seed: number): IdGenerator {
  let s = seed >>> 0 || 1;
  const hex = (chars: number) => {
    let out = '';
    while (out.length < chars) {
      s ^= s << 13;
      s >>>= 0;
      s ^= s >>> 17;
      s ^= s << 5;
      s >>>= 0;
      out += s.toString(16).padStart(8, '0');
    }
    return out.slice(0, chars);
  };
  return { generateTraceId: () => hex(32), generateSpanId: () => hex(16) };
}

/** 300 traces of root → 2 children → 1 grandchild; returns spans per trace id. */
function runTraces(options: LoupeSamplerOptions, seed = 42): Map<string, number> {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    sampler: loupeSampler(options),
    idGenerator: seededIds(seed),
    spanProcessors: [new SimpleSpanProcessor(memory)],
  });
  const tracer = provider.getTracer('t');
  const traceIds: string[] = [];
  for (let i = 0; i < 300; i++) {
    const root = tracer.startSpan('root');
    traceIds.push(root.spanContext().traceId);
    const inRoot = trace.setSpan(ROOT_CONTEXT, root);
    const a = tracer.startSpan('a', {}, inRoot);
    const b = tracer.startSpan('b', {}, inRoot);
    tracer.startSpan('a.1', {}, trace.setSpan(ROOT_CONTEXT, a)).end();
    a.end();
    b.end();
    root.end();
  }
  const perTrace = new Map<string, number>(traceIds.map((id) => [id, 0]));
  for (const span of memory.getFinishedSpans()) {
    const id = span.spanContext().traceId;
    perTrace.set(id, (perTrace.get(id) ?? 0) + 1);
  }
  return perTrace;
}

const kept = (perTrace: Map<string, number>) =>
  [...perTrace].filter(([, n]) => n > 0).map(([id]) => id);

describe('loupeSampler', () => {
  it('keeps or drops whole traces, decided by trace id', () => {
    const perTrace = runTraces({ sampleRate: 0.5 });
    expect(new Set(perTrace.values())).toEqual(new Set([0, 4]));
    const share = kept(perTrace).length / perTrace.size;
    expect(share).toBeGreaterThan(0.35);
    expect(share).toBeLessThan(0.65);
    // the decision is a function of the trace id alone (OTel's TraceIdRatio rule)
    const ratio = new TraceIdRatioBasedSampler(0.5);
    for (const [id, n] of perTrace) {
      const sampled =
        ratio.shouldSample(ROOT_CONTEXT, id).decision === SamplingDecision.RECORD_AND_SAMPLED;
      expect(n > 0).toBe(sampled);
    }
  });

  it('is deterministic: the same trace ids give the same kept set', () => {
    expect(kept(runTraces({ sampleRate: 0.3 }, 7))).toEqual(
      kept(runTraces({ sampleRate: 0.3 }, 7)),
    );
  });

  it('keeps everything at 1 and nothing at 0', () => {
    expect(kept(runTraces({ sampleRate: 1 }))).toHaveLength(300);
    expect(kept(runTraces({ sampleRate: 0 }))).toHaveLength(0);
  });

  it('follows a remote parent decision over the rate', () => {
    const sampler = loupeSampler({ sampleRate: 0 });
    const parent = (flags: number): Context =>
      trace.setSpanContext(ROOT_CONTEXT, {
        traceId: '0af7651916cd43dd8448eb211c80319c',
        spanId: 'b7ad6b7169203331',
        traceFlags: flags,
        isRemote: true,
      });
    const decide = (ctx: Context) =>
      sampler.shouldSample(ctx, '0af7651916cd43dd8448eb211c80319c', 'x', SpanKind.SERVER, {}, [])
        .decision;
    expect(decide(parent(1))).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    expect(decide(parent(0))).toBe(SamplingDecision.NOT_RECORD);
  });
});

describe('loupeSampler with a user sampler', () => {
  const throwing: Sampler = {
    shouldSample() {
      throw new Error('user bug');
    },
    toString: () => 'Throwing',
  };

  it('a throwing sampler never reaches the caller; the rate decides instead', () => {
    const before = getStats().internalErrors;
    const tracer = new BasicTracerProvider({
      sampler: loupeSampler({ sampler: throwing, sampleRate: 1 }),
    }).getTracer('t');
    let span: ReturnType<typeof tracer.startSpan> | undefined;
    expect(() => (span = tracer.startSpan('x'))).not.toThrow();
    expect(span!.isRecording()).toBe(true);
    span!.end();
    expect(getStats().internalErrors).toBe(before + 1);
  });

  it('a malformed result falls back to the rate', () => {
    const bad = { shouldSample: () => 'yes', toString: () => 'Bad' } as unknown as Sampler;
    const sampler = loupeSampler({ sampler: bad, sampleRate: 0 });
    expect(
      sampler.shouldSample(ROOT_CONTEXT, 'a'.repeat(32), 'x', SpanKind.INTERNAL, {}, []).decision,
    ).toBe(SamplingDecision.NOT_RECORD);
  });

  it('decides only for roots: children follow their parent', () => {
    let calls = 0;
    const user: Sampler = {
      shouldSample: () => {
        calls++;
        return { decision: SamplingDecision.RECORD_AND_SAMPLED };
      },
      toString: () => 'Counting',
    };
    const memory = new InMemorySpanExporter();
    const tracer = new BasicTracerProvider({
      sampler: loupeSampler({ sampler: user, sampleRate: 0 }),
      spanProcessors: [new SimpleSpanProcessor(memory)],
    }).getTracer('t');
    const root = tracer.startSpan('root');
    tracer.startSpan('child', {}, trace.setSpan(ROOT_CONTEXT, root)).end();
    root.end();
    expect(calls).toBe(1);
    expect(memory.getFinishedSpans()).toHaveLength(2);
  });
});

describe('sample rate resolution', () => {
  it('takes the option, then LOUPE_SAMPLE_RATE, then 1', () => {
    expect(resolveSampleRate(0.2, { LOUPE_SAMPLE_RATE: '0.9' })).toBe(0.2);
    expect(resolveSampleRate(undefined, { LOUPE_SAMPLE_RATE: ' 0.25 ' })).toBe(0.25);
    expect(resolveSampleRate(undefined, {})).toBe(1);
  });

  it.each([2, -0.1, Number.NaN, Infinity, 'lots', {}])(
    'reports %s and uses the default',
    (value) => {
      const before = getStats().internalErrors;
      expect(resolveSampleRate(value, {})).toBe(1);
      expect(getStats().internalErrors).toBe(before + 1);
    },
  );

  it('reports an invalid LOUPE_SAMPLE_RATE and uses the default', () => {
    const before = getStats().internalErrors;
    expect(resolveSampleRate(undefined, { LOUPE_SAMPLE_RATE: 'half' })).toBe(1);
    expect(getStats().internalErrors).toBe(before + 1);
  });
});
