// Driver for openinference.test.ts: @arizeai/openinference-instrumentation-openai 4.2.7 on a
// NodeTracerProvider, with session / user / metadata / tags set through the
// @arizeai/openinference-core context helpers (copied onto every span under them).
//
// How it hooks: the instrumentation only patches `openai` on `require` (require-in-the-middle);
// with a native ESM import it must be told about the module: manuallyInstrument(OpenAI).
import OpenAI from 'openai';
import { context } from '@opentelemetry/api';
import { OpenAIInstrumentation } from '@arizeai/openinference-instrumentation-openai';
import { setMetadata, setSession, setTags, setUser } from '@arizeai/openinference-core';
import { driverConfig, serve } from './runtime.js';
import { runScenario, type ScenarioName } from './openai-scenarios.js';
import { inScenarioSpan, startSdk, type InstrumentationDriverConfig } from './sdk-setup.js';

const OI_CONTEXT = {
  sessionId: 'session-123',
  userId: 'user-42',
  metadata: { tenant: 'acme', experiment: 'e2e' },
  tags: ['e2e', 'openinference'],
};

const config = driverConfig<InstrumentationDriverConfig>();
const sdk = startSdk(config, { logs: false });
const instrumentation = new OpenAIInstrumentation({ tracerProvider: sdk.tracerProvider });
instrumentation.manuallyInstrument(OpenAI);

const client = new OpenAI({ baseURL: config.openaiUrl, apiKey: 'test-key', maxRetries: 0 });

serve(
  {
    async scenario({ name, withContext }: { name: ScenarioName; withContext?: boolean }) {
      let ctx = context.active();
      if (withContext === true) {
        ctx = setSession(ctx, { sessionId: OI_CONTEXT.sessionId });
        ctx = setUser(ctx, { userId: OI_CONTEXT.userId });
        ctx = setMetadata(ctx, OI_CONTEXT.metadata);
        ctx = setTags(ctx, OI_CONTEXT.tags);
      }
      const result = await context.with(ctx, () =>
        inScenarioSpan(name, () => runScenario(client, name)),
      );
      await sdk.flush();
      return result;
    },
  },
  () => sdk.shutdown(),
);
