/**
 * @loupe/sdk — tracing for LLM applications on OpenTelemetry.
 * Explicit named exports only; each section is owned by one module.
 */
export const VERSION = '0.1.0';

// setup & transport (init.ts, exporter.ts, processor.ts, stats.ts)
// SECTION:setup

// tracing API (traceable.ts, run-context.ts)
// SECTION:tracing

// LLM wrappers (wrappers/*)
// SECTION:wrappers

// feedback and data client (client.ts, feedback.ts)
// SECTION:client
