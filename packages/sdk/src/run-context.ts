/**
 * Run attributes for everything below a point in the call tree (`withRunContext`,
 * `withMetadata`, `withTags`), and the ids of the active run (`getCurrentRunId`,
 * `getCurrentTraceId`) for feedback and log correlation.
 *
 * The context lives in OTel context, so it follows the code across `await`, timers and
 * `Promise.all` once a context manager is registered (`init()` registers one). Before
 * that, these functions just call `fn`: the SDK never changes the host's control flow.
 */
import { context, isSpanContextValid, trace, TraceFlags, type Context } from '@opentelemetry/api';
import { runIdFromOtel, traceIdFromOtel } from '@loupe/contracts/ids';
import {
  getRunContext,
  mergeRunContext,
  setRunContext,
  type RunContext,
} from './internal/context.js';
import { reportError, reportWarning, safe } from './internal/report.js';

export interface RunContextOptions {
  /** merged key by key over the enclosing context's metadata */
  metadata?: Record<string, unknown>;
  /** added to the enclosing context's tags */
  tags?: readonly string[];
  sessionId?: string;
  /** alias of `sessionId` (LangSmith's and OpenAI's word for a conversation); `sessionId` wins */
  threadId?: string;
  userId?: string;
  /** stored as metadata `prompt_version`; A/B comparisons group runs by it */
  promptVersion?: string;
  /** the Loupe project for these runs (an `x-loupe-project` export header still wins) */
  project?: string;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Ids typed as strings still arrive as numbers from JavaScript callers (`userId: 42`). */
function idOption(name: string, v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  reportWarning(`${name} must be a string; ignored`);
  return undefined;
}

/**
 * Options as given by a caller (possibly untyped JavaScript) → a RunContext with only
 * valid values; invalid ones are reported and dropped, never thrown. Undefined when
 * nothing is set, so callers can skip the context work entirely.
 */
export function toRunContext(options: RunContextOptions | undefined): RunContext | undefined {
  if (!isRecord(options)) return undefined;
  const rc: RunContext = {};
  if (options.metadata !== undefined) {
    if (!isRecord(options.metadata)) reportWarning('metadata must be an object; ignored');
    else {
      try {
        // copied: a later mutation by the caller must not change runs already started
        rc.metadata = { ...options.metadata };
      } catch (error) {
        reportError('metadata could not be read; ignored', error);
      }
    }
  }
  if (options.tags !== undefined) {
    if (Array.isArray(options.tags)) {
      const tags = (options.tags as unknown[]).filter((t): t is string => typeof t === 'string');
      if (tags.length !== options.tags.length)
        reportWarning('tags must be strings; others ignored');
      rc.tags = tags;
    } else reportWarning('tags must be an array of strings; ignored');
  }
  const sessionId =
    idOption('sessionId', options.sessionId) ?? idOption('threadId', options.threadId);
  if (sessionId !== undefined) rc.sessionId = sessionId;
  const userId = idOption('userId', options.userId);
  if (userId !== undefined) rc.userId = userId;
  const promptVersion = idOption('promptVersion', options.promptVersion);
  if (promptVersion !== undefined) rc.promptVersion = promptVersion;
  const project = idOption('project', options.project);
  if (project !== undefined) rc.project = project;
  return Object.keys(rc).length === 0 ? undefined : rc;
}

/** The active context with `extra` merged over its run context. */
export function contextWithRun(parent: Context, extra: RunContext): Context {
  return setRunContext(parent, mergeRunContext(getRunContext(parent), extra));
}

/**
 * Runs `fn` with the run attributes applied to every run started below it (spans of
 * `traceable`, the LLM wrappers and third-party instrumentations alike). Returns what
 * `fn` returns — for an async `fn`, its promise — and lets its exceptions through unchanged.
 */
export function withRunContext<R>(options: RunContextOptions, fn: () => R): R {
  const ctx = safe('withRunContext', undefined, () => {
    const extra = toRunContext(options);
    return extra === undefined ? undefined : contextWithRun(context.active(), extra);
  });
  return ctx === undefined ? fn() : context.with(ctx, fn);
}

/** `withRunContext({ metadata }, fn)`. */
export function withMetadata<R>(metadata: Record<string, unknown>, fn: () => R): R {
  return withRunContext({ metadata }, fn);
}

/** `withRunContext({ tags }, fn)`. */
export function withTags<R>(tags: readonly string[], fn: () => R): R {
  return withRunContext({ tags }, fn);
}

/** The active span's context when it is valid and sampled, i.e. when the collector will have it. */
function exportedSpanContext() {
  const sc = trace.getActiveSpan()?.spanContext();
  if (sc === undefined || !isSpanContextValid(sc)) return undefined;
  return (sc.traceFlags & TraceFlags.SAMPLED) === 0 ? undefined : sc;
}

/**
 * The id under which the collector stores the active run (`runIdFromOtel`), e.g. to
 * attach end-user feedback to it; undefined outside a run, before `init()`, and when the
 * trace was sampled out (there will be no stored run to point at).
 */
export function getCurrentRunId(): string | undefined {
  return safe('getCurrentRunId', undefined, () => {
    const sc = exportedSpanContext();
    return sc === undefined ? undefined : runIdFromOtel(sc.traceId, sc.spanId);
  });
}

/** The active trace's id as the collector stores it (UUID form); undefined like getCurrentRunId. */
export function getCurrentTraceId(): string | undefined {
  return safe('getCurrentTraceId', undefined, () => {
    const sc = exportedSpanContext();
    return sc === undefined ? undefined : traceIdFromOtel(sc.traceId);
  });
}
