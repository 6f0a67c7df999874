// Child-process entry (run by robustness-otlp.ts as `node --import tsx <this file>`):
// builds OTLP ExportTraceServiceRequest bodies with the real OpenTelemetry JS SDK and
// its own serialisers. It runs outside vitest because the runner's resolve conditions
// make Node pick the OTel packages' bundler-only ESM builds, which do not load.
//
// stdin:  GenRequest as JSON
// stdout: GenResponse as JSON (bodies base64)
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as OtelApi from '@opentelemetry/api';
import type * as SdkTraceBase from '@opentelemetry/sdk-trace-base';
import type * as Transformer from '@opentelemetry/otlp-transformer';

export interface GenRequest {
  /** number of request bodies */
  batches: number;
  /** spans per body: one root span and its children, all in one new trace */
  spansPerBatch: number;
  /** size of a string attribute put on every span (default 64) */
  attributeBytes?: number;
  format: 'protobuf' | 'json';
}

export interface GenBatch {
  body: string;
  spans: { traceId: string; spanId: string }[];
}

export interface GenResponse {
  batches: GenBatch[];
}

const require = createRequire(import.meta.url);
const api = require('@opentelemetry/api') as typeof OtelApi;
const sdk = require('@opentelemetry/sdk-trace-base') as typeof SdkTraceBase;
const transformer = require('@opentelemetry/otlp-transformer') as typeof Transformer;

function generate(req: GenRequest): GenResponse {
  const exporter = new sdk.InMemorySpanExporter();
  const provider = new sdk.BasicTracerProvider({
    spanProcessors: [new sdk.SimpleSpanProcessor(exporter)],
    spanLimits: { attributeValueLengthLimit: Infinity },
  });
  const tracer = provider.getTracer('loupe-robustness', '1.0.0');
  const filler = 'x'.repeat(req.attributeBytes ?? 64);
  const serializer =
    req.format === 'protobuf'
      ? transformer.ProtobufTraceSerializer
      : transformer.JsonTraceSerializer;
  const batches: GenBatch[] = [];
  for (let b = 0; b < req.batches; b++) {
    exporter.reset();
    const root = tracer.startSpan(`batch-${b}`, {
      kind: api.SpanKind.SERVER,
      attributes: { 'input.value': filler, 'loupe.test.batch': b },
    });
    const parent = api.trace.setSpan(api.ROOT_CONTEXT, root);
    const children = [];
    for (let s = 1; s < req.spansPerBatch; s++) {
      children.push(
        tracer.startSpan(
          `step-${s}`,
          { attributes: { 'input.value': filler, 'loupe.test.step': s } },
          parent,
        ),
      );
    }
    for (const child of children) child.end();
    root.end();
    const finished = exporter.getFinishedSpans();
    const body = serializer.serializeRequest(finished);
    if (body === undefined) throw new Error('the OTel serialiser returned no body');
    batches.push({
      body: Buffer.from(body).toString('base64'),
      spans: finished.map((span) => {
        const ctx = span.spanContext();
        return { traceId: ctx.traceId, spanId: ctx.spanId };
      }),
    });
  }
  return { batches };
}

const request = JSON.parse(readFileSync(0, 'utf8')) as GenRequest;
process.stdout.write(JSON.stringify(generate(request)));
