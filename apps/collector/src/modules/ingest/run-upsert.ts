/**
 * The one internal shape every ingest path (OTLP traces, OTLP logs, LangSmith runs)
 * produces. A RunUpsert is a *partial* description of a run: a field that is
 * `undefined` is "not carried" and never clears what is stored (see runs.repository
 * `upsertRuns`). Ids are UUID strings; OTLP ids are derived with `runIdFromOtel`.
 */
export type RunType =
  'llm' | 'chain' | 'tool' | 'retriever' | 'embedding' | 'prompt' | 'parser' | 'agent';

export const RUN_TYPES: readonly RunType[] = [
  'llm',
  'chain',
  'tool',
  'retriever',
  'embedding',
  'prompt',
  'parser',
  'agent',
];

export type JsonValue =
  string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export interface TokenDetails {
  cache_read?: number;
  cache_write?: number;
  reasoning?: number;
  [key: string]: number | undefined;
}

export interface RunUpsert {
  /** run id (UUID) */
  id: string;
  /** trace id as UUID (OTLP: the 32-hex trace id formatted as a UUID) */
  traceId: string;
  /** project name; resolved (and auto-created) by the writer. Defaults to the request's project. */
  projectName?: string;
  /** project id when the client sent one (LangSmith `session_id`) */
  projectId?: string;
  parentRunId?: string | null;
  dottedOrder?: string;
  name?: string;
  runType?: RunType;
  startTime?: Date;
  endTime?: Date;
  /** error text; presence makes status `error` */
  error?: string;
  model?: string;
  provider?: string;
  promptTokens?: number;
  completionTokens?: number;
  totalTokens?: number;
  tokenDetails?: TokenDetails;
  cost?: number;
  tags?: string[];
  /** merged key by key into stored metadata */
  metadata?: JsonObject;
  sessionId?: string;
  userId?: string;
  referenceExampleId?: string;
  firstTokenTime?: Date;
  otelTraceId?: string;
  otelSpanId?: string;
  // ---- payload (wide) fields ----
  inputs?: JsonValue;
  outputs?: JsonValue;
  /** LangSmith `extra` (metadata is also copied into `metadata`) */
  extra?: JsonObject;
  events?: JsonValue[];
  /** OTel leftovers: { resource, scope, attributes, kind, status, links } */
  otel?: JsonObject;
  /**
   * Content that arrived as OTLP log records, keyed by a stable record key so that
   * re-delivery is idempotent and order of arrival does not matter. Merged key by key.
   */
  logRecords?: Record<string, JsonObject>;
}

export interface AttachmentWrite {
  runId: string;
  name: string;
  contentType: string;
  data: Buffer;
}

export interface FeedbackWrite {
  id: string;
  runId: string | null;
  traceId?: string | null;
  projectId?: string | null;
  key: string;
  score?: number | null;
  value?: JsonValue;
  comment?: string | null;
  correction?: JsonValue;
  feedbackSource?: JsonObject;
  feedbackConfig?: JsonObject;
  createdAt?: Date;
}

/** One request's worth of writes; committed atomically together with other requests' batches. */
export interface WriteBatch {
  runs: RunUpsert[];
  attachments?: AttachmentWrite[];
  feedback?: FeedbackWrite[];
}
