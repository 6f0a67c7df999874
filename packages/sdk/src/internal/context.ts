import { context, createContextKey, type Attributes, type Context } from '@opentelemetry/api';
import {
  LOUPE_METADATA_PREFIX,
  LOUPE_PROJECT,
  LOUPE_PROMPT_VERSION,
  LOUPE_SESSION_ID,
  LOUPE_TAGS,
  LOUPE_USER_ID,
} from '@loupe/contracts/attributes';
import { reportError } from './report.js';
import { serializeJson } from './serialize.js';

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

/** Metadata values longer than this (as JSON) are cut: metadata is for filtering, not payloads. */
const METADATA_LIMITS = { maxChars: 4096, maxStringChars: 4096 };

/**
 * The span attributes (contracts' `loupe.*` names) that carry a run context. Metadata
 * values that are not strings, finite numbers or booleans are written as JSON text
 * (OTel attributes hold only primitives); undefined and null values are skipped.
 * Never throws: a hostile value loses only itself.
 */
export function runContextAttributes(rc: RunContext | undefined): Attributes {
  const attrs: Attributes = {};
  if (rc === undefined) return attrs;
  if (rc.metadata !== undefined) {
    try {
      for (const [key, value] of Object.entries(rc.metadata)) {
        if (value === undefined || value === null) continue;
        attrs[LOUPE_METADATA_PREFIX + key] =
          typeof value === 'string' ||
          typeof value === 'boolean' ||
          (typeof value === 'number' && Number.isFinite(value))
            ? value
            : serializeJson(value, METADATA_LIMITS);
      }
    } catch (error) {
      // a Proxy or throwing getter as metadata: keep the other run attributes
      reportError('run context metadata', error);
    }
  }
  if (rc.tags !== undefined && rc.tags.length > 0) attrs[LOUPE_TAGS] = [...rc.tags];
  if (rc.sessionId !== undefined) attrs[LOUPE_SESSION_ID] = rc.sessionId;
  if (rc.userId !== undefined) attrs[LOUPE_USER_ID] = rc.userId;
  if (rc.promptVersion !== undefined) attrs[LOUPE_PROMPT_VERSION] = rc.promptVersion;
  if (rc.project !== undefined) attrs[LOUPE_PROJECT] = rc.project;
  return attrs;
}
