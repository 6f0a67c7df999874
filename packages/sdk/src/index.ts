/**
 * @loupe/sdk — tracing for LLM applications on OpenTelemetry.
 * Explicit named exports only; each section is owned by one module.
 */
export const VERSION = '0.1.0';

// setup & transport (init.ts, exporter.ts, processor.ts, stats.ts)
// SECTION:setup
export { init, flush, shutdown, type LoupeInitOptions } from './init.js';
export {
  LoupeSpanProcessor,
  loupeSpanProcessor,
  type LoupeSpanProcessorOptions,
} from './processor.js';
export { LoupeExporter, type LoupeExporterOptions } from './exporter.js';
export { loupeSampler, type LoupeSamplerOptions } from './sampling.js';
export { getStats, type LoupeStats } from './stats.js';
export type { LoupePayloadOptions, LoupeQueueOptions, LoupeTransportOptions } from './config.js';

// tracing API (traceable.ts, run-context.ts)
// SECTION:tracing
export { traceable, type TraceableOptions } from './traceable.js';
export {
  getCurrentRunId,
  getCurrentTraceId,
  withMetadata,
  withRunContext,
  withTags,
  type RunContextOptions,
} from './run-context.js';

// LLM wrappers (wrappers/*)
// SECTION:wrappers
export { wrapOpenAI } from './wrappers/openai.js';
export { wrapAnthropic } from './wrappers/anthropic.js';

// feedback and data client (client.ts, feedback.ts)
// SECTION:client
export {
  LoupeApiError,
  LoupeClient,
  type CallOptions,
  type FeedbackInput,
  type LoupeClientErrorCode,
  type LoupeClientOptions,
  type RunFilters,
} from './client.js';
export {
  createFeedback,
  type CreateFeedbackOptions,
  type CreateFeedbackResult,
} from './feedback.js';
