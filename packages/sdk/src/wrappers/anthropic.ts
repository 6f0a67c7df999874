/**
 * `wrapAnthropic(client)`: GenAI-semconv spans for `messages.create` (streamed or not)
 * and `beta.messages.create` of one `@anthropic-ai/sdk` client, including the helpers
 * built on them (`messages.stream()`, `parse()`, tool runners). The client is patched in
 * place and returned; `withOptions()` copies come back wrapped too.
 *
 * Since 1.x the Anthropic SDK emits its own `anthropic.messages.create` CLIENT span
 * (GenAI attributes, no content by default) whenever a tracer provider is registered.
 * Left alone, every wrapped call would be two LLM runs and count its tokens twice, so
 * the wrapper keeps the SDK's tracer from starting spans inside the calls it records
 * itself. The SDK's spans for everything else (files, batches, models, tool-runner
 * spans) are untouched.
 */
import type Anthropic from '@anthropic-ai/sdk';
import {
  INVALID_SPAN_CONTEXT,
  context,
  createContextKey,
  trace,
  type Context,
  type Span,
  type SpanOptions,
  type Tracer,
} from '@opentelemetry/api';
import { reportError } from '../internal/report.js';
import { messagesHandler } from './anthropic-messages.js';
import { serverInfo, type ServerInfo } from './llm-span.js';
import { defineOwn, type AnyFunction } from './own-property.js';
import {
  markClient,
  patchMethod,
  tracedMethod,
  wrapClientInPlace,
  type CallHandler,
} from './patch.js';
import { rec } from './values.js';

/** Set on the context of a call this wrapper records: the SDK's own span is not wanted there. */
const INSIDE_WRAPPED_CALL = createContextKey('@loupe/sdk inside a wrapped LLM call');

const GUARDED_TRACER = Symbol.for('@loupe/sdk.guarded-tracer');

/**
 * Replaces the client's `_tracer` (the SDK's internal handle, set once in its
 * constructor) with one that answers a non-recording, invalid span inside our calls —
 * which makes the SDK skip its call span and trace-header injection there — and
 * delegates everywhere else.
 */
function guardNativeTracer(client: Record<string, unknown>): void {
  const native = client._tracer as Tracer | undefined;
  if (typeof native !== 'object' || native === null || typeof native.startSpan !== 'function')
    return;
  if ((native as unknown as Record<symbol, unknown>)[GUARDED_TRACER] === true) return;
  const guarded = {
    [GUARDED_TRACER]: true,
    startSpan(name: string, options?: SpanOptions, ctx?: Context): Span {
      if ((ctx ?? context.active()).getValue(INSIDE_WRAPPED_CALL) === true)
        return trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
      return native.startSpan(name, options, ctx);
    },
    startActiveSpan(...args: unknown[]): unknown {
      const start = (native as unknown as Record<string, unknown>).startActiveSpan as AnyFunction;
      return Reflect.apply(start, native, args) as unknown;
    },
  };
  defineOwn(client, '_tracer', guarded);
}

function insideWrappedCall(ctx: Context): Context {
  return ctx.setValue(INSIDE_WRAPPED_CALL, true);
}

/**
 * `stream()` starts the SDK's span itself before it calls `create()` (which then reuses
 * it), so the guard must already be in the context when `stream()` runs.
 */
function guardedHelper(original: AnyFunction): AnyFunction {
  return function guarded(this: unknown, ...args: unknown[]): unknown {
    return context.with(
      insideWrappedCall(context.active()),
      () => Reflect.apply(original, this, args) as unknown,
    );
  };
}

function instrumentMessages(messages: unknown, handler: CallHandler): void {
  patchMethod(messages, 'create', (original) => tracedMethod(original, handler));
  patchMethod(messages, 'stream', guardedHelper);
}

function instrument(client: unknown): void {
  if (!markClient(client)) return;
  const c = client as Record<string, unknown> & object;
  try {
    guardNativeTracer(c);
  } catch (error) {
    reportError('wrapAnthropic (guarding the SDK tracer)', error);
  }
  const provider = typeof c._genAIProviderName === 'string' ? c._genAIProviderName : 'anthropic';
  let server: ServerInfo | undefined | null = null;
  const serverOf = (): ServerInfo | undefined => {
    if (server === null) server = serverInfo(c.baseURL);
    return server;
  };
  const handler = messagesHandler(provider, serverOf, (llm) => insideWrappedCall(llm.context));
  instrumentMessages(c.messages, handler);
  instrumentMessages(rec(c.beta).messages, handler);
}

/**
 * Traces the client's Messages calls as OpenTelemetry GenAI spans (current semantic
 * conventions; `loupe.run_type` = llm). Returns the same client, instrumented in place.
 * Does nothing per call beyond a recording check while no tracer provider is
 * registered; never throws; the caller gets the SDK's own return values and errors.
 */
export function wrapAnthropic<T extends Anthropic>(client: T): T {
  return wrapClientInPlace(client, 'wrapAnthropic', instrument);
}
