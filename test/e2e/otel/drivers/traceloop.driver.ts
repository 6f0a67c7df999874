// Driver for traceloop.test.ts: the unmodified Traceloop / OpenLLMetry SDK
// (@traceloop/node-server-sdk 0.27.0). `initialize` builds its own NodeSDK once per process
// (a second call is ignored), exporting OTLP/protobuf to `${baseUrl}/v1/traces` with
// `Authorization: Bearer <apiKey>` — so each backend gets its own driver process.
//
// A recording SpanProcessor (the SDK's `processor` option) keeps what the SDK emitted, so the
// test can compare the collector's runs with the exact span attributes.
import OpenAI from 'openai';
import { trace } from '@opentelemetry/api';
import * as traceloop from '@traceloop/node-server-sdk';
import { driverConfig, serve, type SpanRef } from './runtime.js';
import {
  TOOL_RESULT,
  badModel,
  chat,
  embeddings,
  stream,
  tools,
  type CallSeen,
  type ScenarioOutcome,
} from './openai-scenarios.js';

export interface TraceloopDriverConfig {
  collectorUrl: string;
  apiKey: string;
  serviceName: string;
  openaiUrl: string;
  /** set with withAssociationProperties around every workflow */
  association: Record<string, string>;
}

type Processor = NonNullable<traceloop.InitializeOptions['processor']>;
type OpenAIOption = NonNullable<traceloop.InitializeOptions['instrumentModules']>['openAI'];
type EndedSpan = Parameters<Processor['onEnd']>[0];

export interface EmittedSpan {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  attributes: Record<string, unknown>;
  status: { code: number; message?: string };
  events: string[];
}

export interface FlowResult extends ScenarioOutcome {
  /** the workflow span */
  workflow: SpanRef;
  /** the error that escaped the workflow function */
  thrown?: string;
  /** every span the SDK ended during the command */
  spans: EmittedSpan[];
}

const recorded: EmittedSpan[] = [];
const recorder: Processor = {
  onStart: () => undefined,
  onEnd(span: EndedSpan) {
    recorded.push({
      name: span.name,
      traceId: span.spanContext().traceId,
      spanId: span.spanContext().spanId,
      parentSpanId: span.parentSpanContext?.spanId ?? null,
      attributes: { ...span.attributes },
      status: { code: span.status.code, message: span.status.message },
      events: span.events.map((e) => e.name),
    });
  },
  forceFlush: async () => undefined,
  shutdown: async () => undefined,
};

const config = driverConfig<TraceloopDriverConfig>();
traceloop.initialize({
  baseUrl: config.collectorUrl,
  apiKey: config.apiKey,
  appName: config.serviceName,
  disableBatch: true,
  traceloopSyncEnabled: false,
  silenceInitializationMessage: true,
  // Traceloop's d.ts types `openAI` from openai's CommonJS typings; this is the ESM class
  instrumentModules: { openAI: OpenAI as unknown as OpenAIOption },
  processor: recorder,
});

const client = new OpenAI({ baseURL: config.openaiUrl, apiKey: 'test-key', maxRetries: 0 });

function activeSpanRef(): SpanRef {
  const span = trace.getActiveSpan();
  if (!span) throw new Error('no active span inside the workflow');
  const { traceId, spanId } = span.spanContext();
  return { traceId, spanId };
}

/**
 * Runs `body` as a Traceloop workflow under association properties, then flushes. The
 * workflow returns the texts the calls produced (its traceloop.entity.output).
 */
async function flow(name: string, body: () => Promise<ScenarioOutcome>): Promise<FlowResult> {
  recorded.length = 0;
  let workflow: SpanRef | undefined;
  let outcome: ScenarioOutcome = { calls: [] };
  let thrown: string | undefined;
  try {
    await traceloop.withAssociationProperties(config.association, () =>
      traceloop.withWorkflow({ name }, async () => {
        workflow = activeSpanRef();
        outcome = await body();
        return outcome.error ?? outcome.calls.map((c) => c.text ?? null);
      }),
    );
  } catch (e) {
    thrown = (e as Error).message;
  }
  await traceloop.forceFlush();
  if (!workflow) throw new Error(`workflow ${name} did not start`);
  return {
    workflow,
    ...outcome,
    ...(thrown === undefined ? {} : { thrown }),
    spans: [...recorded],
  };
}

serve(
  {
    /** workflow → task(chat) + task(tool round trip, with the tool as a tool span) */
    'answer-question': () =>
      flow('answer_question', async () => {
        const first = (await traceloop.withTask({ name: 'ask_llm' }, () =>
          chat(client),
        )) as CallSeen;
        const roundTrip = (await traceloop.withTask({ name: 'weather_round_trip' }, () =>
          tools(client, (city) =>
            traceloop.withTool({ name: 'get_weather' }, async (_city: string) => TOOL_RESULT, city),
          ),
        )) as CallSeen[];
        return { calls: [first, ...roundTrip] };
      }),
    stream: () => flow('stream_flow', async () => ({ calls: [await stream(client)] })),
    embeddings: () => flow('embed_flow', async () => ({ calls: [await embeddings(client)] })),
    /** the failed call is caught by the workflow, which returns the error text */
    'bad-model': () => flow('failing_flow', () => badModel(client)),
    /** the failure escapes the workflow */
    'bad-model-unhandled': () =>
      flow('unhandled_flow', async () => {
        const outcome = await badModel(client);
        throw new Error(outcome.error);
      }),
  },
  async () => {
    await traceloop.forceFlush();
  },
);
