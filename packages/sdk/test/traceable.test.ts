// traceable(): span shapes asserted on an in-memory exporter. A BasicTracerProvider with
// a SimpleSpanProcessor stands in for init() (so these tests do not depend on the Loupe
// processor), with the AsyncLocalStorage context manager NodeSDK would register.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  context,
  SpanStatusCode,
  trace,
  type Context,
  type Span,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SamplingDecision,
  SimpleSpanProcessor,
  type ReadableSpan,
  type Sampler,
} from '@opentelemetry/sdk-trace-base';
import { runIdFromOtel, traceIdFromOtel } from '@loupe/contracts/ids';
import { getCurrentRunId, getCurrentTraceId, traceable } from '../src/index.js';
import { MAX_STREAM_ITEMS, TRACER_NAME } from '../src/traceable.js';
import { HIDDEN } from '../src/internal/payload.js';
import { internalErrorCount } from '../src/internal/report.js';
import { resetPayloadOptions, setPayloadOptions } from '../src/internal/state.js';

// one exporter per provider: shutting a provider down stops its exporter for good
let exporter = new InMemorySpanExporter();
const hidden = JSON.stringify(HIDDEN);

const spans = () => exporter.getFinishedSpans();
function span(name: string): ReadableSpan {
  const found = spans().filter((s) => s.name === name);
  if (found.length !== 1)
    throw new Error(
      `expected one span "${name}", got [${spans()
        .map((s) => s.name)
        .join(', ')}]`,
    );
  return found[0]!;
}
const json = (s: ReadableSpan, key: string): unknown => JSON.parse(String(s.attributes[key]));
const inputs = (s: ReadableSpan) => json(s, 'loupe.inputs');
const outputs = (s: ReadableSpan) => json(s, 'loupe.outputs');
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;
const idOf = (s: ReadableSpan) => s.spanContext().spanId;

/** A fresh exporter behind a BasicTracerProvider, registered globally like init() would. */
function startProvider(sampler?: Sampler): BasicTracerProvider {
  exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    ...(sampler === undefined ? {} : { sampler }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  registerGlobals(provider);
  return provider;
}
function registerGlobals(provider: TracerProvider): void {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(provider);
}
function unregisterGlobals(): void {
  trace.disable();
  context.disable();
}

// first, before anything is registered: what the host gets before init()
describe('before any tracer provider (OTel no-op)', () => {
  afterEach(() => resetPayloadOptions());

  it('calls fn and hands back its result untouched, doing no serialisation work', async () => {
    let redactCalls = 0;
    setPayloadOptions({
      redact: (v) => {
        redactCalls++;
        return v;
      },
    });
    const obj = { big: 'x' };
    const sync = traceable((a: number, b: number) => ({ sum: a + b, obj }));
    expect(sync(1, 2)).toEqual({ sum: 3, obj });
    expect(sync(1, 2).obj).toBe(obj);

    const promise = Promise.resolve(42);
    expect(traceable(() => promise)()).toBe(promise);

    async function* gen() {
      yield 1;
      yield 2;
    }
    const iterator = gen();
    expect(traceable(() => iterator)()).toBe(iterator);
    const items: number[] = [];
    for await (const x of traceable(gen)()) items.push(x);
    expect(items).toEqual([1, 2]);

    let toJsonCalls = 0;
    const costly = {
      toJSON() {
        toJsonCalls++;
        return 'costly';
      },
    };
    expect(traceable((x: number) => x, { metadata: { costly } })(7)).toBe(7);

    expect(redactCalls).toBe(0);
    expect(toJsonCalls).toBe(0);
    expect(getCurrentRunId()).toBeUndefined();
  });

  it('rethrows fn errors unchanged', async () => {
    const err = new Error('boom');
    expect(() =>
      traceable(() => {
        throw err;
      })(),
    ).toThrow(err);
    await expect(
      traceable(async () => {
        throw err;
      })(),
    ).rejects.toBe(err);
  });

  it('getCurrentRunId() is undefined inside a traced call', () => {
    expect(traceable(() => getCurrentRunId())()).toBeUndefined();
  });
});

describe('traceable with a tracer provider', () => {
  let provider: BasicTracerProvider;
  beforeAll(() => {
    provider = startProvider();
  });
  afterEach(() => {
    exporter.reset();
    resetPayloadOptions();
  });
  afterAll(async () => {
    await provider.shutdown();
    unregisterGlobals();
  });

  describe('sync functions', () => {
    it('one span per call: name, run type, inputs, outputs, scope', () => {
      function add(a: number, b: number) {
        return a + b;
      }
      const traced = traceable(add);
      expect(traced(2, 3)).toBe(5);
      const s = span('add');
      expect(s.attributes['loupe.run_type']).toBe('chain');
      expect(inputs(s)).toEqual({ args: [2, 3] });
      expect(outputs(s)).toEqual({ output: 5 });
      expect(s.status.code).toBe(SpanStatusCode.UNSET);
      expect(s.instrumentationScope.name).toBe(TRACER_NAME);
      expect(s.parentSpanContext).toBeUndefined();
      expect(s.ended).toBe(true);
    });

    it('options name and runType win; anonymous functions get "anonymous"', () => {
      traceable(() => 1, { name: 'lookup', runType: 'tool' })();
      expect(span('lookup').attributes['loupe.run_type']).toBe('tool');
      traceable(
        (
          () => () =>
            1
        )(), // a function without a name
      )();
      expect(spans().map((s) => s.name)).toContain('anonymous');
    });

    it('keeps the wrapped function’s name and arity', () => {
      function search(_q: string, _k: number) {
        return [];
      }
      const traced = traceable(search);
      expect(traced.name).toBe('search');
      expect(traced.length).toBe(2);
    });

    it('passes `this` through (methods)', () => {
      const counter = {
        n: 10,
        inc: traceable(function (this: { n: number }, by: number) {
          this.n += by;
          return this.n;
        }),
      };
      expect(counter.inc(5)).toBe(15);
      expect(counter.n).toBe(15);
      class Greeter {
        constructor(private readonly greeting: string) {}
        greet = traceable((who: string) => `${this.greeting} ${who}`, { name: 'greet' });
      }
      expect(new Greeter('hi').greet('bob')).toBe('hi bob');
      expect(inputs(span('greet'))).toEqual({ input: 'bob' });
    });

    it('inputs: a single plain object is the inputs; one other value is {input}; none is {}', () => {
      traceable((q: { question: string }) => q.question, { name: 'obj' })({ question: 'why?' });
      traceable((q: string) => q, { name: 'one' })('why?');
      traceable(() => 'x', { name: 'none' })();
      expect(inputs(span('obj'))).toEqual({ question: 'why?' });
      expect(inputs(span('one'))).toEqual({ input: 'why?' });
      expect(inputs(span('none'))).toEqual({});
    });

    it('outputs: a plain object is the outputs; undefined is {}', () => {
      traceable(() => ({ answer: 42 }), { name: 'obj' })();
      traceable(() => undefined, { name: 'void' })();
      expect(outputs(span('obj'))).toEqual({ answer: 42 });
      expect(outputs(span('void'))).toEqual({});
    });

    it('inputs are captured at call time, before fn can mutate them', () => {
      traceable((list: number[]) => list.push(99), { name: 'mut' })([1]);
      expect(inputs(span('mut'))).toEqual({ input: [1] });
    });

    it('payloads follow the serialisation rules (Date, Map, BigInt, circular)', () => {
      const circ: Record<string, unknown> = { id: 1 };
      circ.self = circ;
      traceable((_d: Date, _m: Map<string, number>, _n: bigint, _c: unknown) => new Set([1]), {
        name: 'rules',
      })(new Date(0), new Map([['k', 1]]), 7n, circ);
      const s = span('rules');
      expect(inputs(s)).toEqual({
        args: ['1970-01-01T00:00:00.000Z', { k: 1 }, '7', { id: 1, self: '[Circular]' }],
      });
      expect(outputs(s)).toEqual({ output: [1] });
    });

    it('an Error is recorded (event + status) and rethrown unchanged', () => {
      const err = new RangeError('too far');
      const traced = traceable(
        () => {
          throw err;
        },
        { name: 'fails' },
      );
      let caught: unknown;
      try {
        traced();
      } catch (e) {
        caught = e;
      }
      expect(caught).toBe(err);
      const s = span('fails');
      expect(s.status).toEqual({ code: SpanStatusCode.ERROR, message: 'too far' });
      const event = s.events.find((e) => e.name === 'exception');
      expect(event?.attributes?.['exception.type']).toBe('RangeError');
      expect(event?.attributes?.['exception.message']).toBe('too far');
      expect(String(event?.attributes?.['exception.stacktrace'])).toContain('too far');
      expect(s.attributes['loupe.outputs']).toBeUndefined();
      expect(s.ended).toBe(true);
    });

    it('non-Error throws (strings, objects, numbers) are recorded readably and rethrown as is', () => {
      const thrown: unknown[] = ['plain string', { message: 'object with message' }, 42];
      const texts: string[] = [];
      for (const value of thrown) {
        try {
          traceable(
            () => {
              throw value;
            },
            { name: 'throws' },
          )();
        } catch (e) {
          expect(e).toBe(value);
        }
        const s = span('throws');
        texts.push(String(s.status.message));
        expect(
          s.events.find((e) => e.name === 'exception')?.attributes?.['exception.message'],
        ).toBe(s.status.message);
        exporter.reset();
      }
      expect(texts).toEqual(['plain string', 'object with message', '42']);
    });
  });

  describe('async functions and the call tree', () => {
    it('nests across await, timers and Promise.all; concurrent roots do not mix', async () => {
      const leaf = traceable(
        async (i: number) => {
          await sleep(2);
          return i * 2;
        },
        { name: 'leaf' },
      );
      const viaTimer = traceable(
        (i: number) =>
          new Promise<number>((resolve, reject) => {
            setTimeout(() => leaf(i).then(resolve, reject), 3);
          }),
        { name: 'timer' },
      );
      const root = traceable(
        async (tag: string) => {
          await sleep(1);
          const first = await leaf(1);
          const [a, b] = await Promise.all([leaf(2), leaf(3)]);
          const t = await viaTimer(4);
          return { tag, sum: first + a + b + t };
        },
        { name: 'root' },
      );
      const results = await Promise.all([root('A'), root('B')]);
      expect(results).toEqual([
        { tag: 'A', sum: 20 },
        { tag: 'B', sum: 20 },
      ]);

      const roots = spans().filter((s) => s.name === 'root');
      expect(roots).toHaveLength(2);
      for (const r of roots) {
        expect(r.parentSpanContext).toBeUndefined();
        const traceId = r.spanContext().traceId;
        const inTrace = spans().filter((s) => s.spanContext().traceId === traceId);
        expect(inTrace.map((s) => s.name).sort()).toEqual([
          'leaf',
          'leaf',
          'leaf',
          'leaf',
          'root',
          'timer',
        ]);
        const timer = inTrace.find((s) => s.name === 'timer')!;
        expect(parentOf(timer)).toBe(idOf(r));
        const leaves = inTrace.filter((s) => s.name === 'leaf');
        expect(leaves.filter((l) => parentOf(l) === idOf(r))).toHaveLength(3);
        expect(leaves.filter((l) => parentOf(l) === idOf(timer))).toHaveLength(1);
        expect(outputs(r)).toEqual({
          tag: JSON.parse(String(r.attributes['loupe.inputs'])).input,
          sum: 20,
        });
      }
      expect(roots.map((r) => r.spanContext().traceId)[0]).not.toBe(
        roots.map((r) => r.spanContext().traceId)[1],
      );
    });

    it('the span lasts until the promise settles', async () => {
      await traceable(() => sleep(30), { name: 'slow' })();
      const s = span('slow');
      const ms = s.duration[0] * 1000 + s.duration[1] / 1e6;
      expect(ms).toBeGreaterThanOrEqual(25);
    });

    it('a rejection is recorded and the same error reaches the caller', async () => {
      const err = new Error('upstream 500');
      const traced = traceable(
        async () => {
          await sleep(1);
          throw err;
        },
        { name: 'rejects' },
      );
      await expect(traced()).rejects.toBe(err);
      const s = span('rejects');
      expect(s.status).toEqual({ code: SpanStatusCode.ERROR, message: 'upstream 500' });
      expect(s.events.some((e) => e.name === 'exception')).toBe(true);
    });

    it('an error in a child marks the child only; the parent that catches it succeeds', async () => {
      const child = traceable(
        async () => {
          throw new Error('child failed');
        },
        { name: 'child' },
      );
      const parent = traceable(
        async () => {
          try {
            await child();
          } catch {
            return 'recovered';
          }
          return 'unreachable';
        },
        { name: 'parent' },
      );
      expect(await parent()).toBe('recovered');
      expect(span('child').status.code).toBe(SpanStatusCode.ERROR);
      expect(span('parent').status.code).toBe(SpanStatusCode.UNSET);
      expect(parentOf(span('child'))).toBe(idOf(span('parent')));
    });

    it('a custom thenable is awaited like a promise', async () => {
      const thenable = {
        then(resolve: (v: string) => void) {
          setTimeout(() => resolve('later'), 1);
        },
      };
      const result = await traceable(() => thenable, { name: 'thenable' })();
      expect(result).toBe('later');
      expect(outputs(span('thenable'))).toEqual({ output: 'later' });
    });

    it('getCurrentRunId()/getCurrentTraceId() inside a run are the ids the collector stores', async () => {
      const seen: { runId?: string; traceId?: string; childRunId?: string } = {};
      const child = traceable(
        async () => {
          await sleep(1);
          seen.childRunId = getCurrentRunId();
        },
        { name: 'child' },
      );
      await traceable(
        async () => {
          seen.runId = getCurrentRunId();
          seen.traceId = getCurrentTraceId();
          await child();
          // back in the parent after the child ended
          expect(getCurrentRunId()).toBe(seen.runId);
        },
        { name: 'parent' },
      )();
      const parent = span('parent').spanContext();
      expect(seen.runId).toBe(runIdFromOtel(parent.traceId, parent.spanId));
      expect(seen.traceId).toBe(traceIdFromOtel(parent.traceId));
      const c = span('child').spanContext();
      expect(seen.childRunId).toBe(runIdFromOtel(c.traceId, c.spanId));
      expect(getCurrentRunId()).toBeUndefined();
      expect(getCurrentTraceId()).toBeUndefined();
    });
  });

  describe('generators', () => {
    it('async generator: one span over the whole iteration, children inside it, items as outputs', async () => {
      const step = traceable(async (i: number) => i * 10, { name: 'step' });
      const stream = traceable(
        async function* tokens(n: number) {
          for (let i = 0; i < n; i++) {
            yield await step(i);
            await sleep(2);
          }
        },
        { runType: 'llm' },
      );
      const got: number[] = [];
      for await (const x of stream(3)) {
        // the consumer is outside the generator's run
        expect(getCurrentRunId()).toBeUndefined();
        got.push(x);
      }
      expect(got).toEqual([0, 10, 20]);
      const s = span('tokens');
      expect(s.attributes['loupe.run_type']).toBe('llm');
      expect(inputs(s)).toEqual({ input: 3 });
      expect(outputs(s)).toEqual({ output: [0, 10, 20] });
      const steps = spans().filter((x) => x.name === 'step');
      expect(steps).toHaveLength(3);
      for (const st of steps) expect(parentOf(st)).toBe(idOf(s));
      const ms = s.duration[0] * 1000 + s.duration[1] / 1e6;
      expect(ms).toBeGreaterThanOrEqual(5);
    });

    it('the span is still open while items are being consumed', async () => {
      const stream = traceable(async function* two() {
        yield 'a';
        yield 'b';
      });
      const it = stream();
      await it.next();
      expect(spans()).toHaveLength(0);
      await it.next();
      await it.next();
      expect(span('two').ended).toBe(true);
    });

    it('a return value is the outputs when nothing was yielded, and kept beside the items otherwise', async () => {
      // a generator that returns without yielding is the case under test
      // eslint-disable-next-line require-yield
      const onlyReturn = traceable(async function* done(): AsyncGenerator<number, string> {
        await sleep(1);
        return 'finished';
      });
      const both = traceable(async function* mixed(): AsyncGenerator<number, { total: number }> {
        yield 1;
        yield 2;
        return { total: 3 };
      });
      const r1 = await onlyReturn().next();
      expect(r1).toEqual({ done: true, value: 'finished' });
      const items: number[] = [];
      const g = both();
      let r = await g.next();
      while (r.done !== true) {
        items.push(r.value);
        r = await g.next();
      }
      expect(r.value).toEqual({ total: 3 });
      expect(outputs(span('done'))).toEqual({ output: 'finished' });
      expect(outputs(span('mixed'))).toEqual({ output: [1, 2], return_value: { total: 3 } });
    });

    it(`keeps the first ${MAX_STREAM_ITEMS} items and counts the rest`, async () => {
      const many = traceable(async function* many() {
        for (let i = 0; i < 250; i++) yield i;
      });
      let n = 0;
      for await (const _ of many()) n++;
      expect(n).toBe(250);
      const out = outputs(span('many')) as { output: number[]; item_count: number };
      expect(out.output).toHaveLength(MAX_STREAM_ITEMS);
      expect(out.output[99]).toBe(99);
      expect(out.item_count).toBe(250);
    });

    it('break (early return()) ends the span and runs the generator’s finally', async () => {
      let cleanedUp = false;
      const infinite = traceable(async function* infinite() {
        try {
          for (let i = 0; ; i++) yield i;
        } finally {
          cleanedUp = true;
        }
      });
      for await (const x of infinite()) if (x === 2) break;
      expect(cleanedUp).toBe(true);
      const s = span('infinite');
      expect(s.ended).toBe(true);
      expect(s.status.code).toBe(SpanStatusCode.UNSET);
      expect(outputs(s)).toEqual({ output: [0, 1, 2] });
    });

    it('return() before the first next() ends the span with the given value', async () => {
      const g = traceable(async function* never() {
        yield 1;
      })();
      expect(await g.return(undefined)).toEqual({ done: true, value: undefined });
      expect(span('never').ended).toBe(true);
    });

    it('throw() into the generator: unhandled → error recorded and rethrown; handled → continues', async () => {
      const err = new Error('consumer gave up');
      const plain = traceable(async function* plain() {
        yield 1;
        yield 2;
      })();
      await plain.next();
      await expect(plain.throw(err)).rejects.toBe(err);
      expect(span('plain').status).toEqual({
        code: SpanStatusCode.ERROR,
        message: 'consumer gave up',
      });
      expect(outputs(span('plain'))).toEqual({ output: [1] });

      const resilient = traceable(async function* resilient() {
        try {
          yield 1;
        } catch {
          yield 'recovered';
        }
      })();
      await resilient.next();
      expect(await resilient.throw(err)).toEqual({ done: false, value: 'recovered' });
      expect(spans().some((s) => s.name === 'resilient')).toBe(false);
      expect(await resilient.next()).toEqual({ done: true, value: undefined });
      expect(span('resilient').status.code).toBe(SpanStatusCode.UNSET);
      expect(outputs(span('resilient'))).toEqual({ output: [1, 'recovered'] });
    });

    it('an error thrown by the generator body ends the span as failed, keeping the items so far', async () => {
      const err = new Error('stream broke');
      const broken = traceable(async function* broken() {
        yield 'a';
        await sleep(1);
        throw err;
      });
      const got: string[] = [];
      await expect(
        (async () => {
          for await (const x of broken()) got.push(x);
        })(),
      ).rejects.toBe(err);
      expect(got).toEqual(['a']);
      const s = span('broken');
      expect(s.status).toEqual({ code: SpanStatusCode.ERROR, message: 'stream broke' });
      expect(outputs(s)).toEqual({ output: ['a'] });
    });

    it('children started inside the generator nest under it even when iterated from another run', async () => {
      const inner = traceable(async () => 'x', { name: 'inner' });
      const gen = traceable(async function* producer() {
        yield await inner();
        yield await inner();
      });
      const consumer = traceable(
        async (source: AsyncGenerator<string>) => {
          const out: string[] = [];
          for await (const x of source) out.push(x);
          return out;
        },
        { name: 'consumer' },
      );
      const source = gen();
      expect(await consumer(source)).toEqual(['x', 'x']);
      const producer = span('producer');
      for (const s of spans().filter((x) => x.name === 'inner'))
        expect(parentOf(s)).toBe(idOf(producer));
      // the generator was created outside any run: it is a root of its own
      expect(producer.parentSpanContext).toBeUndefined();
    });

    it('sync generators are traced the same way', () => {
      const child = traceable((i: number) => i + 1, { name: 'child' });
      const counter = traceable(function* counter(n: number) {
        for (let i = 0; i < n; i++) yield child(i);
        return 'done';
      });
      expect([...counter(3)]).toEqual([1, 2, 3]);
      const s = span('counter');
      expect(outputs(s)).toEqual({ output: [1, 2, 3], return_value: 'done' });
      for (const c of spans().filter((x) => x.name === 'child')) expect(parentOf(c)).toBe(idOf(s));

      const err = new Error('sync gen failed');
      const bad = traceable(function* bad() {
        yield 1;
        throw err;
      });
      expect(() => [...bad()]).toThrow(err);
      expect(span('bad').status.code).toBe(SpanStatusCode.ERROR);
    });

    it('plain iterables (arrays, Map iterators) are results, not streams', () => {
      const m = new Map([['a', 1]]);
      const arr = traceable(() => [1, 2], { name: 'arr' })();
      const entries = traceable(() => m.keys(), { name: 'keys' })();
      expect(arr).toEqual([1, 2]);
      expect([...entries]).toEqual(['a']);
      expect(outputs(span('arr'))).toEqual({ output: [1, 2] });
      expect(span('keys').ended).toBe(true);
    });
  });

  describe('payload options', () => {
    it('hideInputs / hideOutputs replace the payload with the hidden marker', () => {
      setPayloadOptions({ hideInputs: true });
      traceable((s: string) => s.toUpperCase(), { name: 'h1' })('secret');
      expect(span('h1').attributes['loupe.inputs']).toBe(hidden);
      expect(outputs(span('h1'))).toEqual({ output: 'SECRET' });
      resetPayloadOptions();
      setPayloadOptions({ hideOutputs: (_v, info) => info.name === 'h2' });
      traceable((s: string) => s.toUpperCase(), { name: 'h2' })('secret');
      traceable((s: string) => s.toUpperCase(), { name: 'h3' })('public');
      expect(span('h2').attributes['loupe.outputs']).toBe(hidden);
      expect(outputs(span('h3'))).toEqual({ output: 'PUBLIC' });
    });

    it('redact sees kind, run type and name and changes what is stored (not what fn gets)', () => {
      const infos: unknown[] = [];
      setPayloadOptions({
        redact: (value, info) => {
          infos.push(info);
          return info.kind === 'inputs' ? { ...(value as object), apiKey: '***' } : value;
        },
      });
      const got = traceable((req: { apiKey: string; q: string }) => req.apiKey, {
        name: 'call',
        runType: 'tool',
      })({ apiKey: 'sk-live', q: 'hi' });
      expect(got).toBe('sk-live');
      expect(inputs(span('call'))).toEqual({ apiKey: '***', q: 'hi' });
      expect(infos).toEqual([
        { kind: 'inputs', runType: 'tool', name: 'call' },
        { kind: 'outputs', runType: 'tool', name: 'call' },
      ]);
    });

    it('a throwing redact hides the payload; the call still succeeds', async () => {
      const before = internalErrorCount();
      setPayloadOptions({
        redact: () => {
          throw new Error('redactor bug');
        },
      });
      const result = await traceable(async (x: number) => x + 1, { name: 'r' })(1);
      expect(result).toBe(2);
      const s = span('r');
      expect(s.attributes['loupe.inputs']).toBe(hidden);
      expect(s.attributes['loupe.outputs']).toBe(hidden);
      expect(s.status.code).toBe(SpanStatusCode.UNSET);
      expect(internalErrorCount()).toBe(before + 2);
    });
  });

  describe('run context from options', () => {
    it('metadata, tags, session, user, prompt version and project: on the run and its children', async () => {
      const grandchild = traceable(async () => 'gc', { name: 'grandchild', tags: ['leaf'] });
      const child = traceable(async () => grandchild(), {
        name: 'child',
        metadata: { step: 2, nested: { deep: true } },
        userId: 'u-override',
      });
      const root = traceable(async () => child(), {
        name: 'root',
        metadata: { env: 'test', step: 1 },
        tags: ['a', 'b'],
        sessionId: 's-1',
        userId: 'u-1',
        promptVersion: 'v7',
        project: 'proj-x',
      });
      await root();
      const r = span('root').attributes;
      expect(r).toMatchObject({
        'loupe.metadata.env': 'test',
        'loupe.metadata.step': 1,
        'loupe.tags': ['a', 'b'],
        'loupe.session_id': 's-1',
        'loupe.user_id': 'u-1',
        'loupe.prompt_version': 'v7',
        'loupe.project': 'proj-x',
      });
      const c = span('child').attributes;
      expect(c).toMatchObject({
        'loupe.metadata.env': 'test',
        'loupe.metadata.step': 2,
        'loupe.metadata.nested': '{"deep":true}',
        'loupe.tags': ['a', 'b'],
        'loupe.session_id': 's-1',
        'loupe.user_id': 'u-override',
        'loupe.prompt_version': 'v7',
        'loupe.project': 'proj-x',
      });
      const g = span('grandchild').attributes;
      expect(g['loupe.tags']).toEqual(['a', 'b', 'leaf']);
      expect(g['loupe.user_id']).toBe('u-override');
      expect(g['loupe.metadata.step']).toBe(2);
    });

    it('threadId is an alias of sessionId; sessionId wins when both are given', () => {
      traceable(() => 1, { name: 't1', threadId: 'thread-9' })();
      traceable(() => 1, { name: 't2', threadId: 'thread-9', sessionId: 'sess-1' })();
      expect(span('t1').attributes['loupe.session_id']).toBe('thread-9');
      expect(span('t2').attributes['loupe.session_id']).toBe('sess-1');
    });

    it('a sibling does not see the other sibling’s context', async () => {
      const plain = traceable(async () => 1, { name: 'plain' });
      const tagged = traceable(async () => 1, { name: 'tagged', tags: ['only-me'] });
      await traceable(async () => Promise.all([tagged(), plain()]), { name: 'parent' })();
      expect(span('tagged').attributes['loupe.tags']).toEqual(['only-me']);
      expect(span('plain').attributes['loupe.tags']).toBeUndefined();
      expect(span('parent').attributes['loupe.tags']).toBeUndefined();
    });

    it('bad options from untyped callers are ignored, not thrown', () => {
      const before = internalErrorCount();
      const untyped = traceable as (fn: () => number, options: unknown) => () => number;
      expect(
        untyped(() => 1, {
          name: 42,
          runType: {},
          tags: 'not-an-array',
          metadata: 'x',
          userId: 7,
        })(),
      ).toBe(1);
      const s = spans()[0]!;
      expect(s.attributes['loupe.run_type']).toBe('chain');
      expect(s.attributes['loupe.user_id']).toBe('7');
      expect(s.attributes['loupe.tags']).toBeUndefined();
      expect(internalErrorCount()).toBe(before);
    });
  });
});

describe('traceable with a sampler that drops some traces', () => {
  // drops root spans named "dropped-root"; everything else follows its parent
  const sampler: Sampler = {
    shouldSample(ctx: Context, _traceId: string, name: string) {
      const parent = trace.getSpanContext(ctx);
      if (parent !== undefined)
        return {
          decision:
            (parent.traceFlags & 1) === 1
              ? SamplingDecision.RECORD_AND_SAMPLED
              : SamplingDecision.NOT_RECORD,
        };
      return {
        decision:
          name === 'dropped-root'
            ? SamplingDecision.NOT_RECORD
            : SamplingDecision.RECORD_AND_SAMPLED,
      };
    },
    toString: () => 'test sampler',
  };
  let provider: BasicTracerProvider;
  beforeAll(() => {
    provider = startProvider(sampler);
  });
  afterEach(() => exporter.reset());
  afterAll(async () => {
    await provider.shutdown();
    unregisterGlobals();
  });

  it('children of a sampled-out run are dropped with it (not exported as roots); fn runs normally', async () => {
    let redactCalls = 0;
    setPayloadOptions({
      redact: (v) => {
        redactCalls++;
        return v;
      },
    });
    const child = traceable(async (x: number) => x * 2, { name: 'child' });
    const ids: (string | undefined)[] = [];
    const root = traceable(
      async (x: number) => {
        ids.push(getCurrentRunId());
        return child(x);
      },
      { name: 'dropped-root' },
    );
    expect(await root(21)).toBe(42);
    expect(spans()).toHaveLength(0);
    expect(redactCalls).toBe(0);
    // there will be no stored run to attach feedback to
    expect(ids).toEqual([undefined]);
    resetPayloadOptions();

    await traceable(async () => child(1), { name: 'kept-root' })();
    expect(
      spans()
        .map((s) => s.name)
        .sort(),
    ).toEqual(['child', 'kept-root']);
  });
});

describe('traceable when the tracing SDK itself fails', () => {
  const throwingTracer = {
    startSpan(): Span {
      throw new Error('tracer exploded');
    },
    startActiveSpan(): never {
      throw new Error('tracer exploded');
    },
  } as unknown as Tracer;
  const provider: TracerProvider = { getTracer: () => throwingTracer };
  beforeAll(() => registerGlobals(provider));
  afterAll(() => unregisterGlobals());

  it('the call goes through untraced and the failure is counted, not thrown', async () => {
    const before = internalErrorCount();
    expect(traceable((x: number) => x + 1)(1)).toBe(2);
    expect(await traceable(async (x: number) => x + 1)(1)).toBe(2);
    const err = new Error('fn error');
    expect(() =>
      traceable(() => {
        throw err;
      })(),
    ).toThrow(err);
    expect(internalErrorCount()).toBe(before + 3);
  });
});
