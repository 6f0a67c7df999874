/**
 * Targeted patching of one client instance: a wrapped method is an own property of the
 * resource object the client created for itself (`client.chat.completions`), so the
 * class prototype — and every other client in the process — stays untouched, and a
 * second wrap of the same client is a no-op.
 */
import { context } from '@opentelemetry/api';
import { reportError } from '../internal/report.js';
import { observeCall } from './observe.js';
import { activeTracer, startLlmSpan, type CallStart, type LlmSpan } from './llm-span.js';
import { defineOwn, type AnyFunction } from './own-property.js';
import { rec, type Rec } from './values.js';

const ORIGINAL = Symbol.for('@loupe/sdk.original');
const WRAPPED_CLIENT = Symbol.for('@loupe/sdk.wrapped-client');

function isObjectLike(v: unknown): v is Record<PropertyKey, unknown> {
  return (typeof v === 'object' || typeof v === 'function') && v !== null;
}

export function patchMethod(
  owner: unknown,
  key: string,
  wrap: (original: AnyFunction) => AnyFunction,
): void {
  try {
    if (!isObjectLike(owner)) return;
    const original = owner[key];
    if (typeof original !== 'function' || ORIGINAL in original) return;
    const wrapped = wrap(original);
    defineOwn(wrapped, ORIGINAL, original);
    defineOwn(owner, key, wrapped);
  } catch (error) {
    // a frozen or exotic object: that method stays untraced
    reportError(`patching ${key}`, error);
  }
}

/** Marks a client as wrapped; false when it already was (or cannot be marked). */
export function markClient(client: unknown): boolean {
  if (!isObjectLike(client) || client[WRAPPED_CLIENT] === true) return false;
  try {
    defineOwn(client, WRAPPED_CLIENT, true);
    return true;
  } catch (error) {
    reportError('marking a wrapped client', error);
    return false;
  }
}

/** What a traced method needs to know about its provider call. */
export interface CallHandler {
  /** operation, model and request attributes; called only while a provider is registered */
  start(params: Rec): CallStart;
  /** the call's inputs (content), before the call is made */
  inputs(llm: LlmSpan, params: Rec): void;
  /** the parsed body (a stream object for streamed calls); must end the span or hand it to a stream */
  data(llm: LlmSpan, params: Rec, data: unknown): void;
  /** the context the provider call runs in (default: the span's) */
  callContext?(llm: LlmSpan): ReturnType<typeof context.active>;
}

/**
 * A method that records one span per call and otherwise behaves exactly like
 * `original`: same arguments, same `this`, same return value (the provider's own
 * promise object), same errors. Our failures are reported and never reach the caller;
 * if the span cannot even start, the call runs untraced.
 */
export function tracedMethod(original: AnyFunction, handler: CallHandler): AnyFunction {
  return function traced(this: unknown, ...args: unknown[]): unknown {
    const tracer = activeTracer();
    if (tracer === undefined) return Reflect.apply(original, this, args) as unknown;
    let llm: LlmSpan | undefined;
    const params = rec(args[0]);
    try {
      llm = startLlmSpan(tracer, handler.start(params), context.active());
    } catch (error) {
      reportError('starting an LLM span', error);
    }
    if (llm === undefined) return Reflect.apply(original, this, args) as unknown;
    const span = llm;
    try {
      handler.inputs(span, params);
    } catch (error) {
      reportError('recording an LLM request', error);
    }
    let result: unknown;
    try {
      const ctx = handler.callContext?.(span) ?? span.context;
      result = context.with(ctx, () => Reflect.apply(original, this, args) as unknown);
    } catch (error) {
      span.fail(error);
      throw error;
    }
    try {
      observeCall(result, span, (data) => handler.data(span, params, data));
    } catch (error) {
      reportError('observing an LLM call', error);
      span.end();
    }
    return result;
  };
}

/**
 * Instruments `client` in place and keeps its `withOptions()` copies instrumented too
 * (the OpenAI and Anthropic SDKs both hand out configured copies that way). Never throws.
 */
export function wrapClientInPlace<T>(
  client: T,
  label: string,
  instrument: (client: unknown) => void,
): T {
  const withCopies = (c: unknown): void => {
    instrument(c);
    patchMethod(
      c,
      'withOptions',
      (original) =>
        function withOptions(this: unknown, ...args: unknown[]): unknown {
          const copy = Reflect.apply(original, this, args) as unknown;
          try {
            withCopies(copy);
          } catch (error) {
            reportError(`${label} (withOptions copy)`, error);
          }
          return copy;
        },
    );
  };
  try {
    withCopies(client);
  } catch (error) {
    reportError(label, error);
  }
  return client;
}
