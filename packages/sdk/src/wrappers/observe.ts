/**
 * Watching a provider call without changing what the caller gets.
 *
 * Both SDKs (openai, @anthropic-ai/sdk; Stainless-generated) return an `APIPromise`: a
 * Promise subclass that parses the body only when someone asks (`await`, `.then`,
 * `.withResponse()`), and not at all for `.asResponse()`, whose caller reads the raw
 * body. Awaiting it ourselves would consume a body the caller may want raw, so the
 * original promise object is returned as is and watched from the side:
 * - HTTP outcome: its public `asResponse()` (does not touch the body) — so a failed call
 *   is recorded even if the caller never awaits;
 * - parsed body: its `parseResponse` hook, which every parse path goes through
 *   (then/catch/finally, withResponse, and `_thenUnwrap` used by the SDKs' own helpers
 *   such as `chat.completions.parse`), so the data is seen exactly when the caller sees it;
 * - `.asResponse()` alone: the span ends when the response arrives, without a body.
 * Anything else thenable is observed with a plain `.then` (the OTel contrib approach).
 *
 * A streamed body is the SDK's `Stream` object itself, instrumented in place: its
 * `iterator` factory (what `for await`, `tee()` and `toReadableStream()` all call) is
 * wrapped, so the caller keeps the same object with the same API.
 */
import { reportError } from '../internal/report.js';
import type { LlmSpan } from './llm-span.js';
import { defineOwn, type AnyFunction } from './own-property.js';
import { isThenable } from './values.js';

interface ApiPromiseLike {
  parseResponse?: unknown;
  asResponse?: unknown;
}

export function observeCall(result: unknown, llm: LlmSpan, onData: (data: unknown) => void): void {
  const deliver = (data: unknown): void => {
    try {
      onData(data);
    } catch (error) {
      reportError('recording an LLM response', error);
      llm.end();
    }
  };
  if (!isThenable(result)) {
    deliver(result);
    return;
  }
  const p = result as ApiPromiseLike;
  if (typeof p.parseResponse === 'function' && typeof p.asResponse === 'function') {
    observeApiPromise(p, p.parseResponse, p.asResponse, llm, deliver);
    return;
  }
  result.then(deliver, (error: unknown) => llm.fail(error));
}

function observeApiPromise(
  p: object,
  parseResponse: AnyFunction,
  asResponse: AnyFunction,
  llm: LlmSpan,
  deliver: (data: unknown) => void,
): void {
  let parseStarted = false;
  let rawRequested = false;
  let responded = false;
  // Parsing starts in the same promise job that delivers the response, so one
  // macrotask later we know whether a caller of asResponse() also parses.
  const endIfRawOnly = (): void => {
    setImmediate(() => {
      if (!parseStarted) llm.end();
    });
  };

  defineOwn(p, 'parseResponse', function (this: unknown, ...args: unknown[]): unknown {
    parseStarted = true;
    let out: unknown;
    try {
      out = Reflect.apply(parseResponse, this, args);
    } catch (error) {
      llm.fail(error);
      throw error;
    }
    if (!isThenable(out)) {
      deliver(out);
      return out;
    }
    return out.then(
      (data) => {
        deliver(data);
        return data;
      },
      (error: unknown) => {
        llm.fail(error);
        throw error;
      },
    );
  });

  (Reflect.apply(asResponse, p, []) as Promise<unknown>).then(
    () => {
      responded = true;
      if (rawRequested) endIfRawOnly();
    },
    (error: unknown) => llm.fail(error),
  );
  defineOwn(p, 'asResponse', function (this: unknown): unknown {
    rawRequested = true;
    if (responded) endIfRawOnly();
    return Reflect.apply(asResponse, this, []) as unknown;
  });
}

/** Provider-specific stream accounting. */
export interface StreamRecorder {
  chunk(value: unknown): void;
  /** Writes what was accumulated (called once, also for broken-off or failed streams). */
  flush(): void;
}

type Outcome = { kind: 'done' } | { kind: 'cancelled' } | { kind: 'error'; error: unknown };

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
  const signal = s.controller?.signal;
  let chunks = 0;
  let finished = false;
  const onAbort = (): void => {
    // deferred: the SDK aborts its own controller on the way out of a failing stream,
    // and the error (delivered in a later promise job) must win over "cancelled"
    setImmediate(() => finish({ kind: 'cancelled' }));
  };
  const finish = (outcome: Outcome): void => {
    if (finished) return;
    finished = true;
    signal?.removeEventListener('abort', onAbort);
    try {
      recorder.flush();
    } catch (error) {
      reportError('recording a streamed LLM response', error);
    }
    if (outcome.kind === 'error') llm.fail(outcome.error);
    else if (outcome.kind === 'cancelled') llm.cancel(chunks);
    else llm.end();
  };
  const onChunk = (value: unknown): void => {
    if (finished) return;
    chunks++;
    try {
      llm.markFirstChunk();
      recorder.chunk(value);
    } catch (error) {
      reportError('recording an LLM stream chunk', error);
    }
  };

  const wrapIterator = (inner: AsyncIterator<unknown>): AsyncIterator<unknown> => {
    const it: AsyncIterator<unknown> & AsyncIterable<unknown> = {
      next(...args: [] | [unknown]) {
        return inner.next(...args).then(
          (r) => {
            if (r.done === true)
              finish(signal?.aborted === true ? { kind: 'cancelled' } : { kind: 'done' });
            else onChunk(r.value);
            return r;
          },
          (error: unknown) => {
            finish({ kind: 'error', error });
            throw error;
          },
        );
      },
      return(value?: unknown) {
        finish({ kind: 'cancelled' });
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
        finish({ kind: 'error', error });
        return inner.throw!(error);
      };
    return it;
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
  const factory = (s as Record<PropertyKey, unknown>)[key] as AnyFunction;
  defineOwn(s, key, function (this: unknown, ...args: unknown[]): unknown {
    return wrapIterator(Reflect.apply(factory, this, args) as AsyncIterator<unknown>);
  });
  signal?.addEventListener('abort', onAbort, { once: true });
}
