/**
 * `traceable(fn, options)`: one span ("run") per call of `fn`, for sync, async,
 * async-generator and generator functions, nested through OTel context.
 *
 * Contract with the host: the returned function has fn's signature, passes `this` and
 * the arguments through, returns fn's result (a promise for a promise: see `settle`)
 * and lets fn's exceptions through unchanged. All SDK work runs behind `safe`, so a
 * bug or a hostile value inside the SDK costs at most the span, never the call.
 */
import {
  context,
  isSpanContextValid,
  SpanStatusCode,
  trace,
  type Context,
  type Span,
} from '@opentelemetry/api';
import type { RunType } from '@loupe/contracts';
import { LOUPE_INPUTS, LOUPE_OUTPUTS, LOUPE_RUN_TYPE } from '@loupe/contracts/attributes';
import { getRunContext, runContextAttributes, type RunContext } from './internal/context.js';
import { payloadJson } from './internal/payload.js';
import { reportError, safe } from './internal/report.js';
import { inputsFromArgs, outputsFromResult, serializeJson } from './internal/serialize.js';
import { contextWithRun, toRunContext, type RunContextOptions } from './run-context.js';

export const TRACER_NAME = '@loupe/sdk';
/** Items of a traced generator kept as its outputs; the count of all is recorded beyond it. */
export const MAX_STREAM_ITEMS = 100;

export interface TraceableOptions extends RunContextOptions {
  /** the run's name; default: the function's name, else "anonymous" */
  name?: string;
  /** default "chain" */
  runType?: RunType;
}

type AnyFunction = (...args: never[]) => unknown;

interface Resolved {
  name: string;
  runType: string;
  /** the options' own run attributes, merged over the caller's at each call */
  runContext: RunContext | undefined;
}

/** Text for a span status and the run's `error`: a message, never "[object Object]". */
function errorText(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  if (typeof error === 'string') return error;
  const message = (error as { message?: unknown } | null | undefined)?.message;
  if (typeof message === 'string') return message;
  return serializeJson(error, { maxChars: 1000, maxStringChars: 1000 });
}

/** One call of a traced function: its span, the context its body runs in, streamed items. */
class Run {
  private ended = false;
  private readonly items: unknown[] = [];
  private itemCount = 0;

  constructor(
    readonly span: Span,
    readonly ctx: Context,
    private readonly recording: boolean,
    private readonly name: string,
    private readonly runType: string,
  ) {}

  /** Sets the outputs attribute (only when recording: serialising is the costly part). */
  private outputs(value: unknown): void {
    if (!this.recording) return;
    safe('traceable: outputs', undefined, () =>
      this.span.setAttribute(
        LOUPE_OUTPUTS,
        payloadJson(value, { kind: 'outputs', runType: this.runType, name: this.name }),
      ),
    );
  }

  private end(): void {
    this.ended = true;
    safe('traceable: end', undefined, () => this.span.end());
  }

  succeed(result: unknown): void {
    if (this.ended) return;
    this.outputs(outputsFromResult(result));
    this.end();
  }

  fail(error: unknown): void {
    if (this.ended) return;
    // what a stream yielded before failing is still worth seeing
    if (this.itemCount > 0) this.outputs(this.streamOutputs(undefined));
    safe('traceable: error', undefined, () => {
      const text = errorText(error);
      this.span.recordException(error instanceof Error ? error : text);
      this.span.setStatus({ code: SpanStatusCode.ERROR, message: text });
    });
    this.end();
  }

  /** One step of a traced iterator: an item, or the end of the stream. */
  observe(step: IteratorResult<unknown>): void {
    if (this.ended) return;
    safe('traceable: stream item', undefined, () => {
      if (typeof step !== 'object' || step === null) return;
      if (step.done === true) {
        this.outputs(this.streamOutputs(step.value));
        this.end();
        return;
      }
      this.itemCount++;
      if (this.recording && this.items.length < MAX_STREAM_ITEMS) this.items.push(step.value);
    });
  }

  /** {output: first items, item_count when cut, return_value when any}; the return value alone when nothing was yielded. */
  private streamOutputs(returnValue: unknown): unknown {
    if (this.itemCount === 0) return outputsFromResult(returnValue);
    return {
      output: this.items,
      ...(this.itemCount > this.items.length ? { item_count: this.itemCount } : {}),
      ...(returnValue === undefined ? {} : { return_value: returnValue }),
    };
  }

  /**
   * Ties the run's end to fn's result. Promise-likes get a new native promise that
   * settles the same way (so a custom thenable's extra methods are not kept);
   * generator objects get a traced generator whose span covers the whole iteration.
   * Anything else ends the run now.
   */
  settle(result: unknown): unknown {
    try {
      if (isThenable(result)) {
        return Promise.resolve(result).then(
          (value) => {
            this.succeed(value);
            return value;
          },
          (error: unknown) => {
            this.fail(error);
            throw error;
          },
        );
      }
      if (isIteratorOf(result, Symbol.asyncIterator))
        return traceAsyncGenerator(result as AsyncGenerator, this);
      if (isIteratorOf(result, Symbol.iterator)) return traceGenerator(result as Generator, this);
    } catch (error) {
      // SDK-side failure before anything was handed back: the caller gets fn's result as is
      reportError('traceable: result', error);
      this.end();
      return result;
    }
    this.succeed(result);
    return result;
  }
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (
    (typeof v === 'object' || typeof v === 'function') &&
    v !== null &&
    typeof (v as { then?: unknown }).then === 'function'
  );
}

/**
 * A generator object (native or transpiled): next/return/throw plus the iterator symbol.
 * Plain iterables (arrays, streams, Map iterators) are results, not streams to follow.
 */
function isIteratorOf(v: unknown, symbol: symbol): boolean {
  if (typeof v !== 'object' || v === null) return false;
  const g = v as Record<string | symbol, unknown>;
  return (
    typeof g.next === 'function' &&
    typeof g.return === 'function' &&
    typeof g.throw === 'function' &&
    typeof g[symbol] === 'function'
  );
}

/**
 * Every next/return/throw runs inside the run's context, so the generator body's own
 * child runs nest under it whoever iterates; early `return()` (a `break`) and `throw()`
 * end the span.
 */
function traceAsyncGenerator<T, R, N>(
  gen: AsyncGenerator<T, R, N>,
  run: Run,
): AsyncGenerator<T, R, N> {
  const step = async (resume: () => Promise<IteratorResult<T, R>>) => {
    let result: IteratorResult<T, R>;
    try {
      result = await context.with(run.ctx, resume);
    } catch (error) {
      run.fail(error);
      throw error;
    }
    run.observe(result);
    return result;
  };
  const traced: AsyncGenerator<T, R, N> = {
    next: (...value: [] | [N]) => step(() => gen.next(...value)),
    return: (value: R | PromiseLike<R>) => step(() => gen.return(value)),
    throw: (error: unknown) => step(() => gen.throw(error)),
    [Symbol.asyncIterator]: () => traced,
  };
  return traced;
}

function traceGenerator<T, R, N>(gen: Generator<T, R, N>, run: Run): Generator<T, R, N> {
  const step = (resume: () => IteratorResult<T, R>) => {
    let result: IteratorResult<T, R>;
    try {
      result = context.with(run.ctx, resume);
    } catch (error) {
      run.fail(error);
      throw error;
    }
    run.observe(result);
    return result;
  };
  const traced: Generator<T, R, N> = {
    next: (...value: [] | [N]) => step(() => gen.next(...value)),
    return: (value: R) => step(() => gen.return(value)),
    throw: (error: unknown) => step(() => gen.throw(error)),
    [Symbol.iterator]: () => traced,
  };
  return traced;
}

/**
 * Starts the span of one call, or returns undefined when there is nothing to trace
 * (no SDK registered: OTel's no-op tracer hands out invalid, non-recording spans).
 * A valid but non-recording span (sampled out) still runs fn in its context, so the
 * runs below are dropped with it instead of becoming roots of their own.
 */
function startRun(resolved: Resolved, args: readonly unknown[]): Run | undefined {
  const parent = context.active();
  const base =
    resolved.runContext === undefined ? parent : contextWithRun(parent, resolved.runContext);
  const span = trace.getTracer(TRACER_NAME).startSpan(
    resolved.name,
    // the run type is free to pass at start, where samplers see it; the run context is
    // in `base` for processors' onStart
    { attributes: { [LOUPE_RUN_TYPE]: resolved.runType } },
    base,
  );
  const recording = span.isRecording();
  if (!recording && !isSpanContextValid(span.spanContext())) return undefined;
  if (recording) {
    // only now: metadata values and payloads cost serialisation work
    span.setAttributes(runContextAttributes(getRunContext(base)));
    span.setAttribute(
      LOUPE_INPUTS,
      payloadJson(inputsFromArgs(args), {
        kind: 'inputs',
        runType: resolved.runType,
        name: resolved.name,
      }),
    );
  }
  return new Run(span, trace.setSpan(base, span), recording, resolved.name, resolved.runType);
}

function resolve(fn: AnyFunction, options: TraceableOptions | undefined): Resolved {
  const name =
    typeof options?.name === 'string' && options.name !== ''
      ? options.name
      : fn.name || 'anonymous';
  const runType: unknown = options?.runType;
  return {
    name,
    runType: typeof runType === 'string' && runType !== '' ? runType : 'chain',
    runContext: toRunContext(options),
  };
}

/**
 * Wraps `fn` so that every call is a run: inputs from the arguments, outputs from the
 * result, errors recorded (and rethrown unchanged), nested calls as children. `options`
 * also apply to every run below this one (`metadata`, `tags`, `sessionId`, …).
 * Before `init()` (no tracer provider) the wrapper just calls `fn`.
 */
export function traceable<F extends AnyFunction>(fn: F, options?: TraceableOptions): F {
  // a non-function from untyped JavaScript: hand it back, the caller's own call fails as before
  if (typeof fn !== 'function') return fn;
  const resolved = safe('traceable: options', undefined, () => resolve(fn, options)) ?? {
    name: 'anonymous',
    runType: 'chain',
    runContext: undefined,
  };
  const call = fn as unknown as (this: unknown, ...args: unknown[]) => unknown;
  const traced = function (this: unknown, ...args: unknown[]): unknown {
    const run = safe('traceable: start', undefined, () => startRun(resolved, args));
    if (run === undefined) return call.apply(this, args);
    let result: unknown;
    try {
      result = context.with(run.ctx, call, this, ...args);
    } catch (error) {
      run.fail(error);
      throw error;
    }
    return run.settle(result);
  };
  safe('traceable: name', undefined, () => {
    Object.defineProperty(traced, 'name', { value: fn.name, configurable: true });
    Object.defineProperty(traced, 'length', { value: fn.length, configurable: true });
  });
  return traced as unknown as F;
}
