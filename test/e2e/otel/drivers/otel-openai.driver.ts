// Driver for instrumentation-openai.test.ts: the official @opentelemetry/instrumentation-openai
// 0.21.0 (captureMessageContent) with a NodeTracerProvider and a LoggerProvider (content goes
// to OTLP log records), driving the real `openai` client against the fake OpenAI server.
//
// How it hooks: InstrumentationBase patches `openai` when it is loaded through `require`
// (require-in-the-middle). Native ESM imports are only patched through import-in-the-middle,
// which needs its loader registered with `--import` before the app starts. So the client is
// loaded with createRequire AFTER the instrumentation is registered — the CommonJS build of
// openai, patched on load.
import { createRequire } from 'node:module';
import type * as OpenAIModule from 'openai';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { OpenAIInstrumentation } from '@opentelemetry/instrumentation-openai';
import { driverConfig, serve } from './runtime.js';
import { runScenario, type ScenarioName } from './openai-scenarios.js';
import { inScenarioSpan, startSdk, type InstrumentationDriverConfig } from './sdk-setup.js';

const config = driverConfig<InstrumentationDriverConfig>();
const sdk = startSdk(config, { logs: true });
const instrumentation = new OpenAIInstrumentation({ captureMessageContent: true });
registerInstrumentations({
  instrumentations: [instrumentation],
  tracerProvider: sdk.tracerProvider,
  loggerProvider: sdk.loggerProvider,
});

const { OpenAI } = createRequire(import.meta.url)('openai') as typeof OpenAIModule;
const client = new OpenAI({ baseURL: config.openaiUrl, apiKey: 'test-key', maxRetries: 0 });

serve(
  {
    async scenario({ name }: { name: ScenarioName }) {
      const result = await inScenarioSpan(name, () => runScenario(client, name));
      await sdk.flush();
      return result;
    },
  },
  () => sdk.shutdown(),
);
