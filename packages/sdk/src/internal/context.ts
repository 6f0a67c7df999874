import { context, createContextKey, type Context } from '@opentelemetry/api';

/**
 * Run attributes that flow down the call tree through OTel context: set once with
 * `withMetadata` / `withRunContext` (or a traceable's options) and applied by the
 * Loupe span processor to every span started below, including spans of third-party
 * instrumentations.
 */
export interface RunContext {
  metadata?: Record<string, unknown>;
  tags?: string[];
  sessionId?: string;
  userId?: string;
  promptVersion?: string;
  project?: string;
}

const RUN_CONTEXT_KEY = createContextKey('loupe.run_context');

export function getRunContext(ctx: Context = context.active()): RunContext | undefined {
  return ctx.getValue(RUN_CONTEXT_KEY) as RunContext | undefined;
}

/** Merges `extra` over the context's run attributes: metadata key by key, tags unioned, ids replaced. */
export function mergeRunContext(base: RunContext | undefined, extra: RunContext): RunContext {
  const out: RunContext = { ...base };
  if (extra.metadata !== undefined) out.metadata = { ...base?.metadata, ...extra.metadata };
  if (extra.tags !== undefined) out.tags = [...new Set([...(base?.tags ?? []), ...extra.tags])];
  if (extra.sessionId !== undefined) out.sessionId = extra.sessionId;
  if (extra.userId !== undefined) out.userId = extra.userId;
  if (extra.promptVersion !== undefined) out.promptVersion = extra.promptVersion;
  if (extra.project !== undefined) out.project = extra.project;
  return out;
}

export function setRunContext(ctx: Context, value: RunContext): Context {
  return ctx.setValue(RUN_CONTEXT_KEY, value);
}
