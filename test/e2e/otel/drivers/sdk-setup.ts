// The application side the instrumentation drivers share: an OTel SDK (NodeTracerProvider,
// registered so context propagates; optionally a LoggerProvider) exporting OTLP/protobuf to
// the collector, and the `scenario:<name>` span each scenario runs under.
import { trace, SpanStatusCode } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import type { ScenarioName, ScenarioOutcome, ScenarioResult } from './openai-scenarios.js';

export interface InstrumentationDriverConfig {
  collectorUrl: string;
  apiKey: string;
  /** sent as x-loupe-project */
  project: string;
  serviceName: string;
  openaiUrl: string;
}

export interface Sdk {
  tracerProvider: NodeTracerProvider;
  loggerProvider: LoggerProvider | undefined;
  /** Exports everything ended so far: spans first, then log records. */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

export function startSdk(config: InstrumentationDriverConfig, { logs }: { logs: boolean }): Sdk {
  const headers = { 'x-api-key': config.apiKey, 'x-loupe-project': config.project };
  const resource = resourceFromAttributes({ 'service.name': config.serviceName });
  const tracerProvider = new NodeTracerProvider({
    resource,
    spanProcessors: [
      new BatchSpanProcessor(
        new OTLPTraceExporter({ url: `${config.collectorUrl}/v1/traces`, headers }),
      ),
    ],
  });
  tracerProvider.register();
  const loggerProvider = logs
    ? new LoggerProvider({
        resource,
        processors: [
          new BatchLogRecordProcessor({
            exporter: new OTLPLogExporter({ url: `${config.collectorUrl}/v1/logs`, headers }),
          }),
        ],
      })
    : undefined;
  return {
    tracerProvider,
    loggerProvider,
    async flush() {
      await tracerProvider.forceFlush();
      await loggerProvider?.forceFlush();
    },
    async shutdown() {
      await loggerProvider?.shutdown();
      await tracerProvider.shutdown();
    },
  };
}

/**
 * Runs a scenario under an application span `scenario:<name>`; a failed call is what an
 * application would record on its own span (exception + ERROR status).
 */
export async function inScenarioSpan(
  name: ScenarioName,
  run: () => Promise<ScenarioOutcome>,
): Promise<ScenarioResult> {
  const tracer = trace.getTracer('loupe-e2e-app', '1.0.0');
  return tracer.startActiveSpan(`scenario:${name}`, async (span) => {
    try {
      const outcome = await run();
      if (outcome.error !== undefined) {
        span.recordException({ name: outcome.errorName ?? 'Error', message: outcome.error });
        span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.error });
      }
      const { traceId, spanId } = span.spanContext();
      return { ...outcome, scenario: { traceId, spanId } };
    } finally {
      span.end();
    }
  });
}
