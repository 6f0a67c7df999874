// Shared set-up of the wrapper tests: a registered tracer provider with an in-memory
// exporter (SimpleSpanProcessor: a span is in the exporter as soon as it ends), the
// AsyncLocalStorage context manager, and readers for the JSON-text attributes.
import { context, trace, type Attributes } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import { setImmediate as tick } from 'node:timers/promises';

export interface Telemetry {
  exporter: InMemorySpanExporter;
  provider: BasicTracerProvider;
  spans(): ReadableSpan[];
  /** the one finished span named `name`; fails listing the names when there is not exactly one */
  span(name: string): ReadableSpan;
  reset(): void;
}

let contextManager: AsyncLocalStorageContextManager | undefined;

/** Registers a fresh provider as the global one (replacing any earlier one). */
export function registerTelemetry(): Telemetry {
  if (contextManager === undefined) {
    contextManager = new AsyncLocalStorageContextManager().enable();
    context.setGlobalContextManager(contextManager);
  }
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  trace.disable();
  trace.setGlobalTracerProvider(provider);
  return {
    exporter,
    provider,
    spans: () => exporter.getFinishedSpans(),
    span(name) {
      const found = exporter.getFinishedSpans().filter((s) => s.name === name);
      if (found.length !== 1)
        throw new Error(
          `expected one span "${name}", got ${found.length} of [${exporter
            .getFinishedSpans()
            .map((s) => s.name)
            .join(', ')}]`,
        );
      return found[0]!;
    },
    reset: () => exporter.reset(),
  };
}

export function unregisterTelemetry(): void {
  trace.disable();
}

/** A JSON-text attribute, parsed. */
export function jsonAttr(attributes: Attributes, key: string): unknown {
  const v = attributes[key];
  if (typeof v !== 'string')
    throw new Error(`attribute ${key} is ${JSON.stringify(v)}, not JSON text`);
  return JSON.parse(v) as unknown;
}

/** Lets deferred work (setImmediate) run: the raw-response and abort paths end spans there. */
export async function settle(): Promise<void> {
  await tick();
  await tick();
}

export const HIDDEN = { __loupe_hidden__: true };

export const WEATHER_TOOL = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Weather for a city',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' } },
      required: ['city'],
    },
  },
};

export const ANTHROPIC_WEATHER_TOOL = {
  name: 'get_weather',
  description: 'Weather for a city',
  input_schema: {
    type: 'object' as const,
    properties: { city: { type: 'string' } },
    required: ['city'],
  },
};
