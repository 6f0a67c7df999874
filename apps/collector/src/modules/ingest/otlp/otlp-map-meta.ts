/**
 * Run type, metadata, session / user ids, tags, error and project of a span
 * (reference §4). Precedence lists read left → right = first wins.
 */
import { RUN_TYPES, type JsonObject, type JsonValue, type RunType } from '../run-upsert.js';
import type { AttributeBag } from './otlp-attribute-bag.js';
import {
  LOUPE_METADATA_PREFIX,
  LOUPE_PROJECT,
  LOUPE_PROMPT_VERSION,
  LOUPE_RUN_TYPE,
  LOUPE_SESSION_ID,
  LOUPE_TAGS,
  LOUPE_USER_ID,
} from './otlp-attributes.js';
import { asText, getOwn, isObject, parseIfString, parseJsonLenient, setKey } from './otlp-json.js';
import type { NormalisedEvent, NormalisedScope, NormalisedSpan } from './otlp-types.js';

// ---- run type ----

const DIRECT: Record<string, RunType> = Object.fromEntries(RUN_TYPES.map((t) => [t, t]));
const LANGFUSE: Record<string, RunType> = {
  ...DIRECT,
  generation: 'llm',
  span: 'chain',
  event: 'chain',
  guardrail: 'chain',
  evaluator: 'chain',
};
const OPENINFERENCE: Record<string, RunType> = {
  ...DIRECT,
  reranker: 'retriever',
  guardrail: 'chain',
  evaluator: 'chain',
};
const TRACELOOP: Record<string, RunType> = { ...DIRECT, workflow: 'chain', task: 'chain' };
const GENAI_OPERATIONS: Record<string, RunType> = {
  chat: 'llm',
  text_completion: 'llm',
  generate_content: 'llm',
  completion: 'llm',
  generate: 'llm',
  embeddings: 'embedding',
  embedding: 'embedding',
  execute_tool: 'tool',
  retrieval: 'retriever',
  invoke_agent: 'agent',
  create_agent: 'agent',
  invoke_workflow: 'chain',
  plan: 'chain',
};
const LLM_REQUEST_TYPES: Record<string, RunType> = {
  chat: 'llm',
  completion: 'llm',
  embedding: 'embedding',
  embeddings: 'embedding',
  rerank: 'retriever',
};
const ANY_VOCABULARY: Record<string, RunType> = {
  ...GENAI_OPERATIONS,
  ...LANGFUSE,
  ...OPENINFERENCE,
  ...TRACELOOP,
};

/**
 * `kind` sources exist only to say what the span is: they are consumed, and the
 * original value goes to metadata when the mapping loses information (RERANKER →
 * retriever). Operation names stay in the attributes: they describe the call.
 */
const RUN_TYPE_SOURCES: Array<{ key: string; vocabulary: Record<string, RunType>; kind: boolean }> =
  [
    { key: LOUPE_RUN_TYPE, vocabulary: ANY_VOCABULARY, kind: true },
    { key: 'langsmith.span.kind', vocabulary: DIRECT, kind: true },
    { key: 'langfuse.observation.type', vocabulary: LANGFUSE, kind: true },
    { key: 'openinference.span.kind', vocabulary: OPENINFERENCE, kind: true },
    { key: 'traceloop.span.kind', vocabulary: TRACELOOP, kind: true },
    { key: 'gen_ai.operation.name', vocabulary: GENAI_OPERATIONS, kind: false },
    { key: 'llm.request.type', vocabulary: LLM_REQUEST_TYPES, kind: false },
  ];
const LLM_MODEL_KEYS = [
  'langfuse.observation.model.name',
  'gen_ai.request.model',
  'gen_ai.response.model',
  'llm.model_name',
];

export function extractRunType(bag: AttributeBag): { runType: RunType; original?: string } {
  for (const { key, vocabulary, kind } of RUN_TYPE_SOURCES) {
    const raw = asText(bag.get(key));
    if (raw === undefined) continue;
    const norm = raw.trim().toLowerCase();
    const runType = Object.prototype.hasOwnProperty.call(vocabulary, norm)
      ? vocabulary[norm]
      : undefined;
    if (runType === undefined) continue;
    if (!kind) return { runType };
    bag.use(key);
    return norm === runType ? { runType } : { runType, original: raw };
  }
  // heuristics read attributes without consuming them: they still mean something else
  if (bag.has('gen_ai.tool.name') || bag.has('gen_ai.tool.call.id')) return { runType: 'tool' };
  if (bag.hasPrefix('gen_ai.retrieval.')) return { runType: 'retriever' };
  if (LLM_MODEL_KEYS.some((k) => bag.has(k))) return { runType: 'llm' };
  if (bag.has('embedding.model_name')) return { runType: 'embedding' };
  return { runType: 'chain' };
}

// ---- metadata ----

function mergeObject(target: JsonObject, value: JsonValue | undefined): boolean {
  const v = value === undefined ? undefined : parseIfString(value);
  if (!isObject(v)) return false;
  for (const [k, x] of Object.entries(v)) setKey(target, k, x);
  return true;
}

function mergePrefix(target: JsonObject, bag: AttributeBag, prefix: string): void {
  for (const [k, v] of bag.entries(prefix)) {
    setKey(target, k, v);
    bag.use(prefix + k);
  }
}

const ENVIRONMENT_KEYS = [
  'langfuse.environment',
  'deployment.environment.name',
  'deployment.environment',
];

/**
 * Explicit metadata, merged from the least to the most deliberate source (later
 * wins): OTel resource/scope facts › Traceloop association properties ›
 * OpenInference `metadata` › Langfuse › LangSmith › Loupe.
 */
export function extractMetadata(
  bag: AttributeBag,
  resource: JsonObject,
  scope: NormalisedScope,
): JsonObject {
  const md: JsonObject = {};
  const service = asText(getOwn(resource, 'service.name'));
  if (service !== undefined) md.service_name = service;
  const version = asText(getOwn(resource, 'service.version'));
  if (version !== undefined) md.service_version = version;
  const environment =
    bag.first(ENVIRONMENT_KEYS, asText) ??
    ENVIRONMENT_KEYS.map((k) => asText(getOwn(resource, k))).find((v) => v !== undefined);
  if (environment !== undefined) md.environment = environment;
  if (scope.name !== '') md.otel_scope = scope.name;
  if (scope.version !== '') md.otel_scope_version = scope.version;
  const server = bag.take('server.address', asText);
  if (server !== undefined) md.server_address = server;
  const workflow = bag.take('traceloop.workflow.name', asText);
  if (workflow !== undefined) md.workflow_name = workflow;

  mergePrefix(md, bag, 'traceloop.association.properties.');
  if (mergeObject(md, bag.get('metadata'))) bag.use('metadata');
  for (const level of ['trace', 'observation']) {
    const key = `langfuse.${level}.metadata`;
    if (mergeObject(md, bag.get(key))) bag.use(key);
    mergePrefix(md, bag, `${key}.`);
  }
  mergePrefix(md, bag, 'langsmith.metadata.');
  mergePrefix(md, bag, LOUPE_METADATA_PREFIX);
  const promptVersion = bag.take(LOUPE_PROMPT_VERSION, asText);
  if (promptVersion !== undefined) md.prompt_version = promptVersion;
  return md;
}

// ---- session / user / tags ----

const SESSION_KEYS = [
  LOUPE_SESSION_ID,
  'langfuse.session.id',
  'session.id',
  'gen_ai.conversation.id',
];
const SESSION_METADATA_KEYS = [
  'session_id',
  'sessionId',
  'thread_id',
  'threadId',
  'conversation_id',
  'conversationId',
];
const USER_KEYS = [LOUPE_USER_ID, 'langfuse.user.id', 'user.id', 'enduser.id'];
const USER_METADATA_KEYS = ['user_id', 'userId', 'langfuse_user_id'];

function fromMetadata(md: JsonObject, keys: string[]): string | undefined {
  for (const k of keys) {
    const v = asText(getOwn(md, k));
    if (v !== undefined) return v;
  }
  return undefined;
}

/** Metadata is the fallback: Traceloop / LangSmith carry these ids only there. */
export function extractIdentity(
  bag: AttributeBag,
  md: JsonObject,
): { sessionId?: string; userId?: string } {
  const sessionId = bag.first(SESSION_KEYS, asText) ?? fromMetadata(md, SESSION_METADATA_KEYS);
  const userId = bag.first(USER_KEYS, asText) ?? fromMetadata(md, USER_METADATA_KEYS);
  return {
    ...(sessionId === undefined ? {} : { sessionId }),
    ...(userId === undefined ? {} : { userId }),
  };
}

const TAG_KEYS = [
  LOUPE_TAGS,
  'tag.tags',
  'langsmith.span.tags',
  'langfuse.trace.tags',
  'langfuse.tags',
];

/** string[] | JSON string of an array | comma-separated list. */
function tagList(v: JsonValue): string[] | undefined {
  let value: JsonValue = v;
  if (typeof v === 'string') {
    const t = v.trim();
    value = t.startsWith('[') ? parseJsonLenient(t) : t.split(',');
  }
  if (!Array.isArray(value)) return undefined;
  const tags = value
    .map((x) => (typeof x === 'string' ? x.trim() : asText(x)))
    .filter((x): x is string => !!x);
  return tags.length > 0 ? tags : undefined;
}

/** The union of every convention's tags, first-seen order, deduplicated. */
export function extractTags(bag: AttributeBag): string[] | undefined {
  const tags = new Set<string>();
  for (const key of TAG_KEYS) for (const t of bag.take(key, tagList) ?? []) tags.add(t);
  return tags.size > 0 ? [...tags] : undefined;
}

// ---- error ----

function lastException(events: NormalisedEvent[]): JsonObject | undefined {
  for (let i = events.length - 1; i >= 0; i--)
    if (events[i]!.name === 'exception') return events[i]!.attributes;
  return undefined;
}

/**
 * Only an ERROR status (or Langfuse's ERROR level) makes a run fail: an `exception`
 * event alone may have been handled. The text is the status message › the last
 * exception › `error.type`; type and stack trace go to metadata.
 */
export function extractError(
  bag: AttributeBag,
  span: NormalisedSpan,
): { error?: string; metadata: JsonObject } {
  const level = asText(bag.get('langfuse.observation.level'))?.toUpperCase();
  if (span.status.code !== 'ERROR' && level !== 'ERROR') return { metadata: {} };
  if (level === 'ERROR') bag.use('langfuse.observation.level');
  const exc = lastException(span.events);
  const excType = asText(exc?.['exception.type']);
  const excMessage = asText(exc?.['exception.message']);
  const errorType = bag.take('error.type', asText) ?? excType;
  const fromException =
    excMessage === undefined
      ? undefined
      : excType === undefined
        ? excMessage
        : `${excType}: ${excMessage}`;
  const error =
    (span.status.message.trim() === '' ? undefined : span.status.message) ??
    bag.take('langfuse.observation.status_message', asText) ??
    fromException ??
    errorType ??
    'error';
  const metadata: JsonObject = {};
  if (errorType !== undefined) metadata.error_type = errorType;
  const stack = asText(exc?.['exception.stacktrace']);
  if (stack !== undefined) metadata.error_stacktrace = stack;
  return { error, metadata };
}

// ---- project ----

export interface ProjectContext {
  defaultProject?: string;
  projectFromHeader?: string;
}

/** The OTel SDK default when no service name was configured: not a project name. */
function serviceName(resource: JsonObject): string | undefined {
  const s = asText(getOwn(resource, 'service.name'));
  return s === undefined || s.startsWith('unknown_service') ? undefined : s;
}

/** header › loupe.project › langsmith.trace.session_name › resource › default. */
export function resolveProject(
  ctx: ProjectContext,
  resource: JsonObject,
  bag?: AttributeBag,
): string | undefined {
  if (ctx.projectFromHeader !== undefined && ctx.projectFromHeader !== '')
    return ctx.projectFromHeader;
  return (
    bag?.first([LOUPE_PROJECT, 'langsmith.trace.session_name'], asText) ??
    asText(getOwn(resource, LOUPE_PROJECT)) ??
    serviceName(resource) ??
    ctx.defaultProject
  );
}
