/**
 * One-call setup: `init()` starts OpenTelemetry's NodeSDK with the Loupe processor,
 * a ParentBased(TraceIdRatio) sampler and the service name; `flush()` / `shutdown()`
 * drain it. Before `init()` the global tracer provider stays OTel's no-op, so
 * instrumented code costs next to nothing and sends nothing.
 *
 * Decisions:
 * - `init()` works once per process. A second call (also after `shutdown()`) is a no-op
 *   with a diag warning: OTel's API globals register once, and tracers that
 *   instrumentations cached from the first provider cannot be re-pointed, so a
 *   "re-config" would silently split the app between two providers.
 * - If the app already registered a tracer provider, `init()` does nothing but warn:
 *   `loupeSpanProcessor()` is the way into an existing pipeline.
 * - Only tracing is set up. NodeSDK would otherwise start OTLP metric and log exporters
 *   from its env defaults (to localhost:4318, i.e. at the collector, unauthenticated).
 * - `init()` never throws; invalid options are reported and replaced by defaults.
 * - No exit hooks: the app awaits `shutdown()` to deliver what is queued. A `beforeExit`
 *   hook would keep a process alive that meant to stop.
 */
import { ProxyTracer, trace } from '@opentelemetry/api';
import { NodeSDK, type NodeSDKConfiguration } from '@opentelemetry/sdk-node';
import { reportError, reportWarning } from './internal/report.js';
import { asOptions } from './config.js';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { loupeSpanProcessor, type LoupeSpanProcessorOptions } from './processor.js';
import { loupeSampler, type LoupeSamplerOptions } from './sampling.js';

export interface LoupeInitOptions extends LoupeSpanProcessorOptions, LoupeSamplerOptions {
  /** resource `service.name`; default from OTEL_SERVICE_NAME, else OTel's `unknown_service:…` */
  serviceName?: string;
  /** OTel instrumentations to register with the SDK (e.g. OpenAI, HTTP) */
  instrumentations?: NodeSDKConfiguration['instrumentations'];
}

interface Active {
  sdk: NodeSDK;
  processor: SpanProcessor;
}

let initCalled = false;
let active: Active | undefined;
let stopping: Promise<void> | undefined;

/** True when some tracer provider is already the global one (ours or the app's). */
function providerRegistered(): boolean {
  // without a registered delegate the API's proxy provider hands out ProxyTracers
  return !(trace.getTracer('@loupe/sdk') instanceof ProxyTracer);
}

/** Sets up tracing to the Loupe collector. Once per process; never throws. */
export function init(options: LoupeInitOptions = {}): void {
  try {
    if (initCalled) {
      reportWarning('init() was already called; this call is ignored (options not re-applied)');
      return;
    }
    initCalled = true;
    if (providerRegistered()) {
      reportWarning(
        'a tracer provider is already registered; init() does nothing — add loupeSpanProcessor() to that provider instead',
      );
      return;
    }
    const opts = asOptions<LoupeInitOptions>(options, 'init');
    const processor = loupeSpanProcessor(opts);
    const serviceName =
      typeof opts.serviceName === 'string' && opts.serviceName.trim() !== ''
        ? opts.serviceName.trim()
        : undefined;
    if (opts.serviceName !== undefined && serviceName === undefined) {
      reportError('invalid option serviceName', 'not a non-empty string; using the default');
    }
    const sdk = new NodeSDK({
      serviceName,
      sampler: loupeSampler(opts),
      spanProcessors: [processor],
      instrumentations: Array.isArray(opts.instrumentations) ? opts.instrumentations : [],
      metricReaders: [],
      logRecordProcessors: [],
    });
    active = { sdk, processor };
    sdk.start();
  } catch (error) {
    reportError('init failed; tracing stays off', error);
  }
}

/** Exports everything queued now (waiting out backoffs up to `flushTimeoutMillis`). Never rejects. */
export async function flush(): Promise<void> {
  if (active === undefined || stopping !== undefined) return;
  await active.processor.forceFlush();
}

/**
 * Flushes and stops tracing; later spans go nowhere. Await it before the process exits
 * or queued spans are lost. Idempotent; never rejects.
 */
export function shutdown(): Promise<void> {
  if (active === undefined) return Promise.resolve();
  const { sdk, processor } = active;
  stopping ??= (async () => {
    try {
      // NodeSDK shuts our processor down through its provider; calling it directly too
      // covers OTEL_SDK_DISABLED (no provider) and is free (it is idempotent)
      await Promise.all([sdk.shutdown(), processor.shutdown()]);
    } catch (error) {
      reportError('shutdown', error);
    }
  })();
  return stopping;
}
