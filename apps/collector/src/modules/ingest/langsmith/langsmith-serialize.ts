/**
 * Stored rows → LangSmith wire objects (for `GET /runs/{id}`, `POST /runs/query`,
 * `GET /feedback`, `GET /sessions`, ...). Pure functions over plain views; the
 * repositories map their rows (snake_case columns) onto these camelCase views.
 *
 * `dotted_order`: runs ingested over OTLP have none. It cannot be synthesised from one
 * row (it needs every ancestor's start time and id), so the repository must supply it
 * (e.g. a recursive query over `parent_run_id`, joined with `buildDottedOrder` from
 * langsmith-values.ts); until then it is returned as `null`.
 */
import type { JsonObject, JsonValue, TokenDetails } from '../run-upsert.js';
import { isoFromDottedStamp, isJsonObject, parseDottedOrder } from './langsmith-values.js';

type Time = Date | string | null | undefined;

/** A stored run as the repository hands it over: RunUpsert's fields + storage columns. */
export interface StoredRunView {
  id: string;
  traceId: string;
  /** LangSmith `session_id` */
  projectId: string;
  /** `success` | `error` | `pending` (derived by the writer) */
  status: string;
  createdAt?: Time;
  parentRunId?: string | null;
  dottedOrder?: string | null;
  name?: string | null;
  runType?: string | null;
  startTime?: Time;
  endTime?: Time;
  error?: string | null;
  model?: string | null;
  provider?: string | null;
  promptTokens?: number | null;
  completionTokens?: number | null;
  totalTokens?: number | null;
  tokenDetails?: TokenDetails | null;
  /** total cost; `numeric` columns arrive as strings */
  cost?: number | string | null;
  tags?: string[] | null;
  metadata?: JsonObject | null;
  sessionId?: string | null;
  userId?: string | null;
  referenceExampleId?: string | null;
  firstTokenTime?: Time;
  inputs?: JsonValue | null;
  outputs?: JsonValue | null;
  extra?: JsonObject | null;
  events?: JsonValue[] | null;
  /** ancestors root first; derived from `dottedOrder` when not given */
  parentRunIds?: string[] | null;
  childRunIds?: string[] | null;
}

export interface StoredFeedbackView {
  id: string;
  runId: string | null;
  traceId?: string | null;
  projectId?: string | null;
  key: string;
  score?: number | null;
  value?: JsonValue | null;
  comment?: string | null;
  correction?: JsonValue | null;
  feedbackSource?: JsonObject | null;
  feedbackConfig?: JsonObject | null;
  createdAt: Time;
  modifiedAt?: Time;
}

export interface StoredProjectView {
  id: string;
  name: string;
  description?: string | null;
  extra?: JsonObject | null;
  startTime: Time;
  endTime?: Time;
  /** workspace id; LangSmith `tenant_id` */
  tenantId?: string | null;
  referenceDatasetId?: string | null;
  /** number of root runs */
  runCount?: number | string | null;
}

/** Placeholder tenant for single-tenant deployments; the SDK only builds URLs from it. */
export const DEFAULT_TENANT_ID = '00000000-0000-0000-0000-000000000000';

/** ISO 8601 with `Z`; strings from the database without a zone are taken as UTC. */
export function isoTime(value: Time): string | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  const s = value.trim();
  const hasTime = /[T ]\d{2}:\d{2}/.test(s);
  const hasZone = hasTime && /(Z|[+-]\d{2}(:?\d{2})?)$/i.test(s);
  const d = new Date(hasZone ? s : hasTime ? `${s.replace(' ', 'T')}Z` : `${s}T00:00:00Z`);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

const num = (v: number | string | null | undefined): number | null => {
  if (v === null || v === undefined || v === '') return null;
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) ? n : null;
};

/**
 * `start_time` with the µs digits of the run's own dotted-order stamp when that stamp
 * agrees with the stored (ms-precision) time — LangSmith clients order siblings by it.
 */
function startTimeIso(
  start: string | null,
  segments: { stamp: string }[] | undefined,
): string | null {
  const stamp = segments?.at(-1)?.stamp;
  if (start === null || stamp === undefined) return start;
  const precise = isoFromDottedStamp(stamp);
  return precise.slice(0, 23) === start.slice(0, 23) ? precise : start;
}

export function toLangSmithRun(row: StoredRunView): JsonObject {
  const segments = row.dottedOrder ? parseDottedOrder(row.dottedOrder) : undefined;
  const parentRunIds =
    row.parentRunIds ??
    (segments
      ? segments.slice(0, -1).map((s) => s.id)
      : (row.parentRunId ?? null) === null
        ? []
        : null);
  const metadata = {
    ...(isJsonObject(row.extra?.metadata) ? row.extra.metadata : {}),
    ...(row.metadata ?? {}),
  };
  const extra: JsonObject = { ...(row.extra ?? {}), metadata };
  const details = row.tokenDetails ?? null;
  return {
    id: row.id,
    name: row.name ?? '',
    run_type: row.runType ?? 'chain',
    start_time: startTimeIso(isoTime(row.startTime), segments),
    end_time: isoTime(row.endTime),
    inputs: row.inputs ?? {},
    outputs: row.outputs ?? null,
    error: row.error ?? null,
    extra,
    tags: row.tags ?? [],
    parent_run_id: row.parentRunId ?? null,
    trace_id: row.traceId,
    dotted_order: row.dottedOrder ?? null,
    session_id: row.projectId,
    reference_example_id: row.referenceExampleId ?? null,
    status: row.status,
    events: row.events ?? [],
    prompt_tokens: row.promptTokens ?? null,
    completion_tokens: row.completionTokens ?? null,
    total_tokens: row.totalTokens ?? null,
    prompt_token_details: details ? pick(details, ['cache_read', 'cache_write'], 'input_') : null,
    completion_token_details: details ? pick(details, ['reasoning'], 'output_') : null,
    prompt_cost: null,
    completion_cost: null,
    total_cost: num(row.cost),
    first_token_time: isoTime(row.firstTokenTime),
    feedback_stats: null,
    app_path: null,
    child_run_ids: row.childRunIds ?? null,
    parent_run_ids: parentRunIds,
    thread_id: row.sessionId ?? null,
    created_at: isoTime(row.createdAt),
  };
}

/** LangSmith-style token detail object (`cache_write` is LangSmith's `cache_creation`). */
function pick(details: TokenDetails, known: string[], prefix: string): JsonObject | null {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(details)) {
    if (v === undefined) continue;
    if (known.includes(k)) out[k === 'cache_write' ? 'cache_creation' : k] = v;
    else if (k.startsWith(prefix)) out[k.slice(prefix.length)] = v;
  }
  return Object.keys(out).length > 0 ? out : null;
}

export function toLangSmithFeedback(row: StoredFeedbackView): JsonObject {
  const created = isoTime(row.createdAt);
  return {
    id: row.id,
    run_id: row.runId,
    trace_id: row.traceId ?? null,
    session_id: row.projectId ?? null,
    key: row.key,
    score: row.score ?? null,
    value: row.value ?? null,
    comment: row.comment ?? null,
    correction: row.correction ?? null,
    feedback_source: row.feedbackSource ?? null,
    feedback_config: row.feedbackConfig ?? null,
    created_at: created,
    modified_at: isoTime(row.modifiedAt) ?? created,
    comparative_experiment_id: null,
    feedback_group_id: null,
    extra: null,
  };
}

export function toLangSmithProject(row: StoredProjectView): JsonObject {
  return {
    id: row.id,
    name: row.name,
    description: row.description ?? null,
    extra: row.extra ?? null,
    start_time: isoTime(row.startTime),
    end_time: isoTime(row.endTime),
    tenant_id: row.tenantId ?? DEFAULT_TENANT_ID,
    reference_dataset_id: row.referenceDatasetId ?? null,
    run_count: num(row.runCount) ?? 0,
  };
}
