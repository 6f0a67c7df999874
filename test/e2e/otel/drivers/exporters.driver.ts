// Driver for exporters.test.ts: the real OTel JS SDK and OTLP/HTTP exporters (protobuf and
// JSON, optionally gzip) sending to the collector. Run as a child process; see runtime.ts.
import { context, trace, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { Context, HrTime, Span, SpanOptions, Tracer } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';
import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as JsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { driverConfig, serve, type SpanRef } from './runtime.js';
import {
  LINKED,
  MANY_TYPES,
  RESOURCE_ATTRIBUTES,
  SCOPE,
  type BuiltTree,
  type ExportArgs,
  type ExporterKind,
  type LogsArgs,
  type LogsResult,
  type RecordedTree,
  type SpanName,
  type TreeArgs,
} from './exporters-fixture.js';

interface Config {
  collectorUrl: string;
  apiKey: string;
  project: string;
}

const config = driverConfig<Config>();
const headers = { 'x-api-key': config.apiKey, 'x-loupe-project': config.project };

type Compression = NonNullable<
  NonNullable<ConstructorParameters<typeof ProtoTraceExporter>[0]>['compression']
>;

function makeExporter(kind: ExporterKind, baseUrl: string, gzip = false): SpanExporter {
  const options = {
    url: `${baseUrl}/v1/traces`,
    headers,
    compression: (gzip ? 'gzip' : 'none') as Compression,
  };
  return kind === 'protobuf' ? new ProtoTraceExporter(options) : new JsonTraceExporter(options);
}

class BoomError extends Error {
  override name = 'BoomError';
}

/** [seconds, nanos] `offsetMicros` after `base` seconds (odd nanos: sub-µs precision shows). */
function at(base: number, offsetMicros: number): HrTime {
  return [base + Math.floor(offsetMicros / 1e6), (offsetMicros % 1e6) * 1000 + 789];
}

function under(parent: Span): Context {
  return trace.setSpan(context.active(), parent);
}

function buildTree(tracer: Tracer, variant: string): BuiltTree {
  const base = Math.floor(Date.now() / 1000) - 30;
  const times = {
    root: { start: at(base, 0), end: at(base, 900_500) },
    load: { start: at(base, 1_000), end: at(base, 250_250) },
    call: { start: at(base, 300_000), end: at(base, 800_000) },
    retry: { start: at(base, 400_000), end: at(base, 450_001) },
  };
  const eventTime = at(base, 2_000);
  const root = tracer.startSpan('handle request', {
    kind: SpanKind.SERVER,
    startTime: times.root.start,
    attributes: { 'app.variant': variant, 'http.route': '/answer' },
  });
  const loadOptions: SpanOptions = {
    kind: SpanKind.INTERNAL,
    startTime: times.load.start,
    attributes: MANY_TYPES,
    links: [{ context: { ...LINKED, traceFlags: 1 }, attributes: { 'link.reason': 'follows' } }],
  };
  const load = tracer.startSpan('load context', loadOptions, under(root));
  load.addEvent('cache.lookup', { 'cache.hit': false, 'cache.key': 'k1' }, eventTime);
  load.setStatus({ code: SpanStatusCode.OK });
  load.end(times.load.end);
  const call = tracer.startSpan(
    'call upstream',
    { kind: SpanKind.CLIENT, startTime: times.call.start, attributes: { 'app.attempts': 2 } },
    under(root),
  );
  const retry = tracer.startSpan(
    'retry upstream',
    { kind: SpanKind.CLIENT, startTime: times.retry.start },
    under(call),
  );
  retry.recordException(new BoomError('second boom'), at(base, 449_000));
  retry.setStatus({ code: SpanStatusCode.ERROR });
  retry.end(times.retry.end);
  call.recordException(new BoomError('boom'), at(base, 799_000));
  call.setStatus({ code: SpanStatusCode.ERROR, message: 'upstream failed: boom' });
  call.end(times.call.end);
  root.end(times.root.end);
  const id = (s: Span) => s.spanContext().spanId;
  return {
    traceId: root.spanContext().traceId,
    spanIds: { root: id(root), load: id(load), call: id(call), retry: id(retry) },
    times,
    eventTime,
  };
}

type ExportResult = Parameters<Parameters<SpanExporter['export']>[1]>[0];
/** ExportResultCode.SUCCESS (@opentelemetry/core is not a dependency of this workspace) */
const SUCCESS = 0 as ExportResult['code'];

function exportOnce(exporter: SpanExporter, spans: ReadableSpan[]): Promise<void> {
  return new Promise((resolve, reject) => {
    exporter.export(spans, (result) => {
      if (result.code === SUCCESS) resolve();
      else reject(result.error ?? new Error(`export failed with code ${result.code}`));
    });
  });
}

const recorded = new Map<string, { tree: BuiltTree; spans: ReadableSpan[] }>();

/** The tree through a BatchSpanProcessor and a real exporter; resolves after the flush. */
async function tree(args: TreeArgs): Promise<BuiltTree> {
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes(RESOURCE_ATTRIBUTES),
    spanProcessors: [new BatchSpanProcessor(makeExporter(args.exporter, args.url, args.gzip))],
  });
  const built = buildTree(provider.getTracer(SCOPE.name, SCOPE.version), args.variant);
  await provider.forceFlush();
  await provider.shutdown();
  return built;
}

/** The tree recorded in memory only: `export` sends its ReadableSpans by hand. */
async function record(args: { variant: string }): Promise<RecordedTree> {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes(RESOURCE_ATTRIBUTES),
    spanProcessors: [new SimpleSpanProcessor(memory)],
  });
  const built = buildTree(provider.getTracer(SCOPE.name, SCOPE.version), args.variant);
  const spans = memory.getFinishedSpans();
  await provider.shutdown();
  const handle = `tree-${recorded.size + 1}`;
  recorded.set(handle, { tree: built, spans });
  return { ...built, handle };
}

async function exportSpans(args: ExportArgs): Promise<{ exported: number }> {
  const entry = recorded.get(args.handle);
  if (!entry) throw new Error(`no recorded tree ${args.handle}`);
  const spans = args.spans.map((name: SpanName) => {
    const span = entry.spans.find((s) => s.spanContext().spanId === entry.tree.spanIds[name]);
    if (!span) throw new Error(`span ${name} not recorded`);
    return span;
  });
  const exporter = makeExporter(args.exporter, config.collectorUrl);
  for (let i = 0; i < (args.times ?? 1); i++) await exportOnce(exporter, spans);
  await exporter.shutdown();
  return { exported: spans.length * (args.times ?? 1) };
}

// ---- logs: a registered NodeTracerProvider gives the active context the records read ----

let logsSdk: { tracerProvider: NodeTracerProvider; loggerProvider: LoggerProvider } | undefined;

async function logsEmit(args: LogsArgs): Promise<LogsResult> {
  if (logsSdk) throw new Error('logs.emit runs once per driver');
  const tracerProvider = new NodeTracerProvider({
    resource: resourceFromAttributes(RESOURCE_ATTRIBUTES),
    // spans wait for logs.flushSpans: the log records must reach the collector first
    spanProcessors: [
      new BatchSpanProcessor(makeExporter('protobuf', args.url), { scheduledDelayMillis: 600_000 }),
    ],
  });
  tracerProvider.register();
  const loggerProvider = new LoggerProvider({
    resource: resourceFromAttributes(RESOURCE_ATTRIBUTES),
    processors: [
      new BatchLogRecordProcessor({
        exporter: new ProtoLogExporter({ url: `${args.url}/v1/logs`, headers }),
      }),
    ],
  });
  logsSdk = { tracerProvider, loggerProvider };
  const tracer = trace.getTracer('loupe-e2e-logs', '1.0.0');
  const logger = loggerProvider.getLogger('loupe-e2e-logs', '1.0.0');
  const ids = await tracer.startActiveSpan(
    'chat gpt-4o-mini',
    {
      kind: SpanKind.CLIENT,
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.request.model': 'gpt-4o-mini',
        'gen_ai.response.model': 'gpt-4o-mini-2024-07-18',
        'gen_ai.system': 'openai',
        'gen_ai.usage.input_tokens': 12,
        'gen_ai.usage.output_tokens': 3,
      },
    },
    async (llm): Promise<LogsResult> => {
      // the event name as the LogRecord field (new) and as the `event.name` attribute (old)
      logger.emit({
        eventName: 'gen_ai.system.message',
        attributes: { 'gen_ai.system': 'openai' },
        body: { content: 'You are terse.' },
      });
      logger.emit({
        attributes: { 'event.name': 'gen_ai.user.message', 'gen_ai.system': 'openai' },
        body: { content: 'Hello?' },
      });
      logger.emit({
        eventName: 'gen_ai.choice',
        attributes: { 'gen_ai.system': 'openai' },
        body: { index: 0, finish_reason: 'stop', message: { content: 'Hi.' } },
      });
      const plain = await tracer.startActiveSpan('plain step', async (step): Promise<SpanRef> => {
        logger.emit({
          severityNumber: SeverityNumber.INFO,
          severityText: 'INFO',
          body: 'just an application log line',
          attributes: { 'app.step': 1 },
        });
        step.end();
        return { traceId: step.spanContext().traceId, spanId: step.spanContext().spanId };
      });
      llm.end();
      return {
        llm: { traceId: llm.spanContext().traceId, spanId: llm.spanContext().spanId },
        plain,
      };
    },
  );
  await loggerProvider.forceFlush();
  return ids;
}

async function logsFlushSpans(): Promise<null> {
  if (!logsSdk) throw new Error('logs.emit first');
  await logsSdk.tracerProvider.forceFlush();
  return null;
}

serve(
  {
    tree,
    record,
    export: exportSpans,
    'logs.emit': logsEmit,
    'logs.flushSpans': logsFlushSpans,
  },
  async () => {
    if (logsSdk) {
      await logsSdk.loggerProvider.shutdown();
      await logsSdk.tracerProvider.shutdown();
    }
  },
);
