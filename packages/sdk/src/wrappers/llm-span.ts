/**
 * One LLM call's span: started with what a sampler may look at (operation, provider,
 * model, server), filled in as the call progresses, ended exactly once — on the parsed
 * response, when a stream is fully read, broken off or fails, or when the call fails.
 * Every method is safe to call after the end (a no-op), so the paths that race to end a
 * call (HTTP error vs. parse error, stream end vs. abort signal) need no coordination.
 */
import {
  ProxyTracer,
  ProxyTracerProvider,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { LOUPE_INPUTS, LOUPE_OUTPUTS, LOUPE_RUN_TYPE } from '@loupe/contracts/attributes';
import { reportError } from '../internal/report.js';
import type { RedactInfo } from '../internal/state.js';
import { HIDDEN_JSON, applyPayloadRules, toJson } from './payload-rules.js';
import {
  ATTR,
  type InputMessage,
  type Operation,
  type OutputMessage,
  type Part,
} from './semconv.js';
import { isRec } from './values.js';

const TRACER_NAME = '@loupe/sdk';
const TRACER_VERSION = '0.1.0';

export interface ServerInfo {
  address: string;
  port: number | undefined;
}

/** `server.address` / `server.port` of a client's base URL; undefined when it is not a URL. */
export function serverInfo(baseURL: unknown): ServerInfo | undefined {
  if (typeof baseURL !== 'string') return undefined;
  try {
    const url = new URL(baseURL);
    const port =
      url.port !== ''
        ? Number(url.port)
        : url.protocol === 'https:'
          ? 443
          : url.protocol === 'http:'
            ? 80
            : undefined;
    return { address: url.hostname, port };
  } catch {
    return undefined;
  }
}

export interface CallStart {
  operation: Operation;
  provider: string;
  model: string | undefined;
  server: ServerInfo | undefined;
  /** request parameters (`gen_ai.request.*`, …): on the span from its start, for samplers */
  request: Attributes;
}

/** Low-cardinality error identifier: the error's class name (NotFoundError, APIConnectionError…). */
export function errorTypeOf(error: unknown): string {
  if (error instanceof Error) {
    const ctor = (error.constructor as { name?: unknown } | undefined)?.name;
    if (typeof ctor === 'string' && ctor !== '' && ctor !== 'Error') return ctor;
    return error.name || 'Error';
  }
  return '_OTHER';
}

let tracerOwner: unknown;
let cachedTracer: Tracer | undefined;

/**
 * The tracer of the registered provider, or undefined while none is registered (the API
 * then hands out a ProxyTracer): the wrappers check this before doing any work. Cached
 * per delegate provider, so a provider registered or replaced later (re-registration,
 * tests) is picked up, while the common call skips the provider's tracer lookup (it
 * builds a string key per call; ~0.4 µs in the bench's profile).
 */
export function activeTracer(): Tracer | undefined {
  const provider = trace.getTracerProvider();
  if (!(provider instanceof ProxyTracerProvider))
    return provider.getTracer(TRACER_NAME, TRACER_VERSION);
  const owner = provider.getDelegate();
  if (owner !== tracerOwner) {
    const tracer = trace.getTracer(TRACER_NAME, TRACER_VERSION);
    cachedTracer = tracer instanceof ProxyTracer ? undefined : tracer;
    tracerOwner = owner;
  }
  return cachedTracer;
}

/**
 * Starts the span under `parent` (the caller's active context). Returns undefined when
 * the span does not record (sampled out); the caller then runs the call untouched.
 */
export function startLlmSpan(
  tracer: Tracer,
  start: CallStart,
  parent: Context,
): LlmSpan | undefined {
  const runType = start.operation === 'embeddings' ? 'embedding' : 'llm';
  // the handler's fresh request object doubles as the start attributes: one allocation
  const attributes = start.request;
  attributes[ATTR.operationName] = start.operation;
  attributes[ATTR.providerName] = start.provider;
  attributes[LOUPE_RUN_TYPE] = runType;
  if (start.model !== undefined) attributes[ATTR.requestModel] = start.model;
  if (start.server !== undefined) {
    attributes[ATTR.serverAddress] = start.server.address;
    if (start.server.port !== undefined) attributes[ATTR.serverPort] = start.server.port;
  }
  const name = start.model === undefined ? start.operation : `${start.operation} ${start.model}`;
  const span = tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes }, parent);
  if (!span.isRecording()) return undefined;
  return new LlmSpan(span, trace.setSpan(parent, span), name, runType);
}

export class LlmSpan {
  private ended = false;
  private firstChunkSeen = false;
  private readonly startedAt = performance.now();

  constructor(
    readonly span: Span,
    /** the caller's context with this span active: the provider call runs in it */
    readonly context: Context,
    private readonly name: string,
    private readonly runType: string,
  ) {}

  get isEnded(): boolean {
    return this.ended;
  }

  setAttributes(attributes: Attributes): void {
    if (!this.ended) this.span.setAttributes(attributes);
  }

  /** `gen_ai.response.time_to_first_chunk`, in seconds from the start of the call. */
  markFirstChunk(): void {
    if (this.firstChunkSeen || this.ended) return;
    this.firstChunkSeen = true;
    this.span.setAttribute(
      ATTR.responseTimeToFirstChunk,
      (performance.now() - this.startedAt) / 1000,
    );
  }

  private info(kind: RedactInfo['kind']): RedactInfo {
    return { kind, runType: this.runType, name: this.name };
  }

  /**
   * Chat input through hide/redact. The hooks see `{messages, system_instructions?}` in
   * the semconv message shape; a redact hook that returns another shape still gets its
   * result recorded (as `loupe.inputs`), never the unredacted original.
   */
  recordChatInputs(messages: InputMessage[], system: Part[] | undefined): void {
    if (this.ended) return;
    const value: Record<string, unknown> =
      system === undefined ? { messages } : { messages, system_instructions: system };
    const ruled = applyPayloadRules(value, this.info('inputs'));
    if (ruled.hidden) {
      this.span.setAttribute(LOUPE_INPUTS, HIDDEN_JSON);
      return;
    }
    const v = ruled.value;
    const wire = !ruled.redacted;
    if (isRec(v) && Array.isArray(v.messages)) {
      this.span.setAttribute(ATTR.inputMessages, toJson(v.messages, wire));
      if (Array.isArray(v.system_instructions))
        this.span.setAttribute(ATTR.systemInstructions, toJson(v.system_instructions, wire));
    } else {
      this.span.setAttribute(LOUPE_INPUTS, toJson(v, wire));
    }
  }

  recordChatOutputs(messages: OutputMessage[]): void {
    if (this.ended) return;
    const value = { messages };
    const ruled = applyPayloadRules(value, this.info('outputs'));
    if (ruled.hidden) {
      this.span.setAttribute(LOUPE_OUTPUTS, HIDDEN_JSON);
      return;
    }
    const v = ruled.value;
    const wire = !ruled.redacted;
    if (isRec(v) && Array.isArray(v.messages))
      this.span.setAttribute(ATTR.outputMessages, toJson(v.messages, wire));
    else this.span.setAttribute(LOUPE_OUTPUTS, toJson(v, wire));
  }

  /** Content with no semconv attribute (embedding texts): `loupe.inputs` / `loupe.outputs`. */
  recordPayload(kind: RedactInfo['kind'], value: unknown): void {
    if (this.ended) return;
    const ruled = applyPayloadRules(value, this.info(kind));
    this.span.setAttribute(
      kind === 'inputs' ? LOUPE_INPUTS : LOUPE_OUTPUTS,
      ruled.hidden ? HIDDEN_JSON : toJson(ruled.value, !ruled.redacted),
    );
  }

  /** Source-format tool definitions: developer-authored configuration, not hidden with inputs. */
  recordToolDefinitions(tools: unknown): void {
    if (!this.ended && Array.isArray(tools) && tools.length > 0)
      this.span.setAttribute(ATTR.toolDefinitions, toJson(tools, true));
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.span.end();
  }

  /** The caller stopped reading a stream: not an error, but the output is partial. */
  cancel(chunks: number): void {
    if (this.ended) return;
    this.span.addEvent('loupe.stream.cancelled', { 'loupe.stream.chunks': chunks });
    this.end();
  }

  /** ERROR status, `error.type` and an exception event; the caller rethrows the original. */
  fail(error: unknown): void {
    if (this.ended) return;
    try {
      const type = errorTypeOf(error);
      const message = error instanceof Error ? error.message : String(error);
      this.span.setAttribute(ATTR.errorType, type);
      this.span.recordException({
        name: type,
        message,
        ...(error instanceof Error && error.stack !== undefined ? { stack: error.stack } : {}),
      });
      this.span.setStatus({ code: SpanStatusCode.ERROR, message });
    } catch (e) {
      reportError('recording an LLM call error', e);
    }
    this.end();
  }
}
