/**
 * Watching a provider call without changing what the caller gets.
 *
 * Both SDKs (openai, @anthropic-ai/sdk; Stainless-generated) return an `APIPromise`: a
 * Promise subclass that parses the body only when someone asks (`await`, `.then`,
 * `.withResponse()`), and not at all for `.asResponse()`, whose caller reads the raw
 * body. Awaiting it ourselves would consume a body the caller may want raw, so the
 * original promise object is returned as is and watched from the side:
 * - HTTP outcome: its `responsePromise` (or, if absent, the public `asResponse()`; neither
 *   touches the body) — so a failed call is recorded even if the caller never awaits;
 * - parsed body: its `parseResponse` hook, which every parse path goes through
 *   (then/catch/finally, withResponse, and `_thenUnwrap` used by the SDKs' own helpers
 *   such as `chat.completions.parse`), so the data is seen exactly when the caller sees it;
 * - `.asResponse()` alone: the span ends when the response arrives, without a body.
 * Anything else thenable is observed with a plain `.then` (the OTel contrib approach).
 * (Measured alternative: returning a second APIPromise built from the same parts, to
 * leave the SDK's object untouched, cost ~2 µs more per call than these two hooks.)
 *
 * A streamed body is the SDK's `Stream` object itself, instrumented in place: its
 * `iterator` factory (what `for await`, `tee()` and `toReadableStream()` all call) is
 * wrapped, so the caller keeps the same object with the same API.
 *
 * Cost notes (from profiling the bench): per-call state lives in small classes and
 * callbacks are inline anonymous functions, not named closures — tsx/esbuild's keepNames
 * turns every `const f = () => …` into an `Object.defineProperty(f, 'name')` per call,
 * which alone was ~1 µs each; and every promise pays AsyncLocalStorage's async_hooks on
 * Node 20, so the watchers are single `.then` side branches.
 */
import { reportError } from '../internal/report.js';
import type { LlmSpan } from './llm-span.js';
import { defineOwn, type AnyFunction } from './own-property.js';
import { isThenable } from './values.js';

interface ApiPromiseLike {
  parseResponse?: unknown;
  asResponse?: unknown;
  responsePromise?: unknown;
}

/** One observed call: the span, the data callback and what is known of the response. */
class CallWatch {
  private parseStarted = false;
  private rawRequested = false;
  private responded = false;

  constructor(
    private readonly llm: LlmSpan,
    private readonly onData: (data: unknown) => void,
  ) {}

  deliver(data: unknown): void {
    try {
      this.onData(data);
    } catch (error) {
      reportError('recording an LLM response', error);
      this.llm.end();
    }
  }

  fail(error: unknown): void {
    this.llm.fail(error);
  }

  parsing(): void {
    this.parseStarted = true;
  }

  responseArrived(): void {
    this.responded = true;
    if (this.rawRequested) this.endIfRawOnly();
  }

  rawRequestedByCaller(): void {
    this.rawRequested = true;
    if (this.responded) this.endIfRawOnly();
  }

  /** Parsing starts in the job that delivers the response: one macrotask later we know. */
  private endIfRawOnly(): void {
    setImmediate(() => {
      if (!this.parseStarted) this.llm.end();
    });
  }
}

export function observeCall(result: unknown, llm: LlmSpan, onData: (data: unknown) => void): void {
  const watch = new CallWatch(llm, onData);
  if (!isThenable(result)) {
    watch.deliver(result);
    return;
  }
  const p = result as ApiPromiseLike;
  if (typeof p.parseResponse === 'function' && typeof p.asResponse === 'function') {
    observeApiPromise(p, p.parseResponse, p.asResponse, watch);
    return;
  }
  result.then(
    (data) => watch.deliver(data),
    (error: unknown) => watch.fail(error),
  );
}

/** The SDK's parse step, watched; returns the SDK's own result, so every consumer sees the same. */
function parseHook(parseResponse: AnyFunction, watch: CallWatch): AnyFunction {
  return function (this: unknown, ...args: unknown[]): unknown {
    watch.parsing();
    let out: unknown;
    try {
      out = Reflect.apply(parseResponse, this, args);
    } catch (error) {
      watch.fail(error);
      throw error;
    }
    // registered now, so it runs before the caller's continuation (which adopts `out`
    // a job later): a stream is instrumented before the caller gets it
    if (isThenable(out))
      out.then(
        (data) => watch.deliver(data),
        (error: unknown) => watch.fail(error),
      );
    else watch.deliver(out);
    return out;
  };
}

function observeApiPromise(
  p: ApiPromiseLike,
  parseResponse: AnyFunction,
  asResponse: AnyFunction,
  watch: CallWatch,
): void {
  if (Object.prototype.propertyIsEnumerable.call(p, 'parseResponse'))
    p.parseResponse = parseHook(parseResponse, watch);
  else defineOwn(p, 'parseResponse', parseHook(parseResponse, watch));
  // failures (HTTP errors, network) never reach the parse step; the SDK's own
  // `responsePromise` when present (asResponse() would add a promise of its own)
  const response = isThenable(p.responsePromise)
    ? p.responsePromise
    : (Reflect.apply(asResponse, p, []) as PromiseLike<unknown>);
  response.then(
    () => watch.responseArrived(),
    (error: unknown) => watch.fail(error),
  );
  // a prototype method shadowed by a hidden own one (no descriptor lookup: it is hot)
  Object.defineProperty(p, 'asResponse', {
    value: function (this: unknown): unknown {
      watch.rawRequestedByCaller();
      return Reflect.apply(asResponse, this, []) as unknown;
    },
    writable: true,
    configurable: true,
  });
}

/** Provider-specific stream accounting. */
export interface StreamRecorder {
  chunk(value: unknown): void;
  /** Writes what was accumulated (called once, also for broken-off or failed streams). */
  flush(): void;
}

type Outcome = { kind: 'done' } | { kind: 'cancelled' } | { kind: 'error'; error: unknown };

const DONE: Outcome = { kind: 'done' };
const CANCELLED: Outcome = { kind: 'cancelled' };

/** One instrumented stream: counts chunks, feeds the recorder, ends the span once. */
class StreamWatch {
  private chunks = 0;
  private finished = false;
  /** bound once: the same function must be removable from the signal */
  readonly onAbort: () => void;

  constructor(
    private readonly llm: LlmSpan,
    private readonly recorder: StreamRecorder,
    private readonly signal: AbortSignal | undefined,
  ) {
    // deferred: the SDK aborts its own controller on the way out of a failing stream,
    // and the error (delivered in a later promise job) must win over "cancelled"
    this.onAbort = () => {
      setImmediate(() => this.finish(CANCELLED));
    };
  }

  chunk(value: unknown): void {
    if (this.finished) return;
    this.chunks++;
    try {
      this.llm.markFirstChunk();
      this.recorder.chunk(value);
    } catch (error) {
      reportError('recording an LLM stream chunk', error);
    }
  }

  /** The end of iteration: complete, unless the caller aborted the request. */
  done(): void {
    this.finish(this.signal?.aborted === true ? CANCELLED : DONE);
  }

  finish(outcome: Outcome): void {
    if (this.finished) return;
    this.finished = true;
    this.signal?.removeEventListener('abort', this.onAbort);
    try {
      this.recorder.flush();
    } catch (error) {
      reportError('recording a streamed LLM response', error);
    }
    if (outcome.kind === 'error') this.llm.fail(outcome.error);
    else if (outcome.kind === 'cancelled') this.llm.cancel(this.chunks);
    else this.llm.end();
  }
}

/** The caller's view of the SDK's iterator: the same results, watched. */
function wrapIterator(inner: AsyncIterator<unknown>, watch: StreamWatch): AsyncIterator<unknown> {
  const it: AsyncIterator<unknown> & AsyncIterable<unknown> = {
    next(...args: [] | [unknown]) {
      return inner.next(...args).then(
        (r) => {
          if (r.done === true) watch.done();
          else watch.chunk(r.value);
          return r;
        },
        (error: unknown) => {
          watch.finish({ kind: 'error', error });
          throw error;
        },
      );
    },
    return(value?: unknown) {
      watch.finish(CANCELLED);
      return typeof inner.return === 'function'
        ? inner.return(value)
        : Promise.resolve({ done: true as const, value });
    },
    [Symbol.asyncIterator]() {
      return it;
    },
  };
  // only where the SDK's iterator has one: `throw` is optional in the protocol
  if (typeof inner.throw === 'function')
    it.throw = (error?: unknown) => {
      watch.finish({ kind: 'error', error });
      return inner.throw!(error);
    };
  return it;
}

/**
 * Instruments a streamed body in place. The span ends when the stream is read to the
 * end, broken off (`break`, `return()`, a cancelled ReadableStream, `controller.abort()`)
 * or fails. A value that is not an async iterable ends the span at once.
 */
export function instrumentStream(stream: unknown, llm: LlmSpan, recorder: StreamRecorder): void {
  if (typeof stream !== 'object' || stream === null) {
    llm.end();
    return;
  }
  const s = stream as {
    iterator?: unknown;
    controller?: { signal?: AbortSignal };
    [Symbol.asyncIterator]?: unknown;
  };
  const key: PropertyKey | undefined =
    typeof s.iterator === 'function' && Object.prototype.hasOwnProperty.call(s, 'iterator')
      ? 'iterator'
      : typeof s[Symbol.asyncIterator] === 'function'
        ? Symbol.asyncIterator
        : undefined;
  if (key === undefined) {
    llm.end();
    return;
  }
  const signal = s.controller?.signal;
  const watch = new StreamWatch(llm, recorder, signal);
  const factory = (s as Record<PropertyKey, unknown>)[key] as AnyFunction;
  defineOwn(s, key, function (this: unknown, ...args: unknown[]): unknown {
    return wrapIterator(Reflect.apply(factory, this, args) as AsyncIterator<unknown>, watch);
  });
  signal?.addEventListener('abort', watch.onAbort, { once: true });
}
