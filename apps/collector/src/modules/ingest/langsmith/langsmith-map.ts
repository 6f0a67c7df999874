/**
 * LangSmith run create/update and feedback objects → Loupe's `RunUpsert` / `FeedbackWrite`.
 *
 * Conventions:
 * - `null` and absent are both "not carried" (never clear stored data), except
 *   `parent_run_id: null` (explicitly a root) and the nullable feedback fields.
 * - Schema fields (`run_type`, timestamps, ids, tags, token/cost counts, ...) are
 *   validated strictly → 400 naming the run and field. Values we *derive* from
 *   free-form data (`extra.metadata.usage_metadata`, `outputs.llm_output`, ...) are read
 *   leniently: anything that is not a usable number is ignored.
 * - Trace id: `trace_id` ‖ the root id of `dotted_order` ‖ (creates without a parent
 *   only) the run's own id. A child create or any update without `trace_id` and
 *   `dotted_order` is a 400: the SDK always sends both, and guessing would split the
 *   trace. Within one body an update inherits the trace of an earlier op of its run.
 * - Times keep millisecond precision (JS `Date`); the µs ordering digits survive in
 *   `dotted_order`, which is stored verbatim.
 */
import { randomUUID } from 'node:crypto';
import { badRequest } from '../../../errors.js';
import { isUuid } from '../ids.js';
import { mergeRunUpserts } from '../run-merge.js';
import {
  RUN_TYPES,
  type FeedbackWrite,
  type JsonObject,
  type JsonValue,
  type RunType,
  type RunUpsert,
  type TokenDetails,
} from '../run-upsert.js';
import {
  describe,
  isJsonObject,
  looseAmount,
  parseAmount,
  parseDottedOrder,
  parseTimestamp,
  type Parsed,
} from './langsmith-values.js';

export interface MapContext {
  /** where the object came from, e.g. `part post.<id>` or `/runs/batch post[3]` */
  where?: string;
}

export interface RunOpLike {
  kind: 'post' | 'patch';
  id: string;
  run: JsonObject;
  /** optional label for error messages */
  part?: string;
}

type Fail = (field: string, problem: string) => never;

function failer(ctx: MapContext, subject: string): Fail {
  const prefix = ctx.where ? `${ctx.where}: ` : '';
  return (field, problem) => {
    throw badRequest(`${prefix}${subject}: field '${field}' ${problem}`);
  };
}

function take<T>(parsed: Parsed<T>, field: string, fail: Fail): T {
  if (!parsed.ok) fail(field, parsed.problem);
  return parsed.value;
}

function optString(o: JsonObject, field: string, fail: Fail): string | undefined {
  const v = o[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') fail(field, `must be a string; got ${describe(v)}`);
  return v;
}

function optUuid(o: JsonObject, field: string, fail: Fail): string | null | undefined {
  const v = o[field];
  if (v === undefined) return undefined;
  if (v === null) return null;
  if (!isUuid(v)) fail(field, `must be a UUID; got ${describe(v)}`);
  return v.toLowerCase();
}

/** Free-form id-ish metadata value (session/thread/user ids) → string. */
function looseId(v: JsonValue | undefined): string | undefined {
  if (typeof v === 'string' && v !== '') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

function parseRunType(o: JsonObject, required: boolean, fail: Fail): RunType | undefined {
  const v = o.run_type;
  if (v === undefined || v === null) {
    if (required) fail('run_type', `is required (one of ${RUN_TYPES.join(', ')})`);
    return undefined;
  }
  const lower = typeof v === 'string' ? v.toLowerCase() : undefined;
  const match = RUN_TYPES.find((t) => t === lower);
  if (!match) fail('run_type', `must be one of ${RUN_TYPES.join(', ')}; got ${describe(v)}`);
  return match;
}

function parseTags(o: JsonObject, fail: Fail): string[] | undefined {
  const v = o.tags;
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((t) => typeof t !== 'string')) {
    fail('tags', `must be an array of strings; got ${describe(v)}`);
  }
  return [...new Set(v as string[])];
}

interface Usage {
  promptTokens?: number;
  completionTokens?: number;
  totalTokens?: number;
  tokenDetails?: TokenDetails;
  cost?: number;
}

const first = (...values: (number | undefined)[]) => values.find((v) => v !== undefined);
const sum = (a: number | undefined, b: number | undefined) =>
  a !== undefined && b !== undefined ? a + b : undefined;

function tokenDetails(usage: JsonObject | undefined): TokenDetails | undefined {
  if (!usage) return undefined;
  const details: TokenDetails = {};
  const copy = (group: JsonValue | undefined, prefix: string, known: Record<string, string>) => {
    if (!isJsonObject(group)) return;
    for (const [k, raw] of Object.entries(group)) {
      const n = looseAmount(raw);
      if (n !== undefined) details[known[k] ?? `${prefix}${k}`] = n;
    }
  };
  copy(usage.input_token_details, 'input_', {
    cache_read: 'cache_read',
    cache_creation: 'cache_write',
  });
  copy(usage.output_token_details, 'output_', { reasoning: 'reasoning' });
  return Object.keys(details).length > 0 ? details : undefined;
}

/**
 * Token counts and cost. Precedence per quantity: top-level run fields (strict) >
 * `extra.metadata.usage_metadata` > `outputs.usage_metadata` > `outputs.llm_output.token_usage`.
 */
function extractUsage(o: JsonObject, metadata: JsonObject | undefined, fail: Fail): Usage {
  const top = (field: string) => take(parseAmount(o[field]), field, fail);
  const outputs = isJsonObject(o.outputs) ? o.outputs : undefined;
  const um = isJsonObject(metadata?.usage_metadata) ? metadata.usage_metadata : undefined;
  const oum = isJsonObject(outputs?.usage_metadata) ? outputs.usage_metadata : undefined;
  const llmOutput = isJsonObject(outputs?.llm_output) ? outputs.llm_output : undefined;
  const tu = isJsonObject(llmOutput?.token_usage) ? llmOutput.token_usage : undefined;

  const promptTokens = first(
    top('prompt_tokens'),
    looseAmount(um?.input_tokens),
    looseAmount(oum?.input_tokens),
    looseAmount(tu?.prompt_tokens),
  );
  const completionTokens = first(
    top('completion_tokens'),
    looseAmount(um?.output_tokens),
    looseAmount(oum?.output_tokens),
    looseAmount(tu?.completion_tokens),
  );
  const totalTokens = first(
    top('total_tokens'),
    looseAmount(um?.total_tokens),
    looseAmount(oum?.total_tokens),
    looseAmount(tu?.total_tokens),
    sum(promptTokens, completionTokens),
  );
  const cost = first(
    top('total_cost'),
    sum(top('prompt_cost'), top('completion_cost')),
    looseAmount(um?.total_cost),
    sum(looseAmount(um?.input_cost), looseAmount(um?.output_cost)),
  );
  return {
    promptTokens,
    completionTokens,
    totalTokens,
    tokenDetails: tokenDetails(um ?? oum),
    cost,
  };
}

/** Time of the first `new_token` event, if the run streamed. */
function firstTokenFromEvents(events: JsonValue[] | undefined): Date | undefined {
  let best: Date | undefined;
  for (const e of events ?? []) {
    if (!isJsonObject(e) || e.name !== 'new_token') continue;
    const t = parseTimestamp(e.time);
    if (t.ok && t.value && (!best || t.value < best)) best = t.value;
  }
  return best;
}

function mapRun(kind: 'create' | 'update', id: string, o: JsonObject, fail: Fail): RunUpsert {
  const dottedOrder = optString(o, 'dotted_order', fail);
  const segments = dottedOrder === undefined ? undefined : parseDottedOrder(dottedOrder);
  if (dottedOrder !== undefined) {
    if (!segments)
      fail(
        'dotted_order',
        `is malformed (expected <YYYYMMDDTHHMMSSffffffZ><uuid> segments joined by '.'); got ${describe(dottedOrder)}`,
      );
    if (segments.at(-1)?.id !== id)
      fail('dotted_order', `must end with the run's own id; got ${describe(dottedOrder)}`);
  }
  const declaredParent = optUuid(o, 'parent_run_id', fail);
  const dottedParent = segments && segments.length > 1 ? segments.at(-2)?.id : undefined;
  if (segments && declaredParent !== undefined && (declaredParent ?? undefined) !== dottedParent) {
    fail(
      'parent_run_id',
      `${describe(declaredParent)} does not match dotted_order (parent ${describe(dottedParent ?? null)})`,
    );
  }
  const parentRunId =
    declaredParent !== undefined
      ? declaredParent
      : segments
        ? (dottedParent ?? null)
        : kind === 'create'
          ? null
          : undefined;

  const declaredTrace = optUuid(o, 'trace_id', fail) ?? undefined;
  const dottedRoot = segments?.[0]?.id;
  if (declaredTrace && dottedRoot && declaredTrace !== dottedRoot) {
    fail(
      'trace_id',
      `${describe(declaredTrace)} does not match the root of dotted_order (${dottedRoot})`,
    );
  }
  const traceId =
    declaredTrace ?? dottedRoot ?? (kind === 'create' && parentRunId === null ? id : undefined);
  if (traceId === undefined) {
    fail(
      'trace_id',
      kind === 'create'
        ? 'is required for a child run (or send dotted_order)'
        : 'is required on run updates (or send dotted_order)',
    );
  }

  const name = optString(o, 'name', fail);
  if (kind === 'create' && (name === undefined || name === '')) fail('name', 'is required');

  const extraRaw = o.extra;
  if (extraRaw !== undefined && extraRaw !== null && !isJsonObject(extraRaw)) {
    fail('extra', `must be an object; got ${describe(extraRaw)}`);
  }
  const extra = extraRaw ?? undefined;
  const metaRaw = extra?.metadata;
  if (metaRaw !== undefined && metaRaw !== null && !isJsonObject(metaRaw)) {
    fail('extra.metadata', `must be an object; got ${describe(metaRaw)}`);
  }
  const metadata = metaRaw ?? undefined;

  const eventsRaw = o.events;
  if (eventsRaw !== undefined && eventsRaw !== null && !Array.isArray(eventsRaw)) {
    fail('events', `must be an array; got ${describe(eventsRaw)}`);
  }
  const events = eventsRaw ?? undefined;
  const invocation = isJsonObject(extra?.invocation_params) ? extra.invocation_params : undefined;
  const usage = extractUsage(o, metadata, fail);
  const time = (field: string) => take(parseTimestamp(o[field]), field, fail);

  const run: RunUpsert = {
    id,
    traceId,
    projectName: optString(o, 'session_name', fail) || undefined,
    projectId: optUuid(o, 'session_id', fail) ?? undefined,
    parentRunId,
    dottedOrder,
    name,
    runType: parseRunType(o, kind === 'create', fail),
    startTime: time('start_time'),
    endTime: time('end_time'),
    error: optString(o, 'error', fail),
    model:
      looseId(metadata?.ls_model_name) ??
      looseId(invocation?.model) ??
      looseId(invocation?.model_name),
    provider: looseId(metadata?.ls_provider),
    ...usage,
    tags: parseTags(o, fail),
    metadata,
    sessionId:
      looseId(metadata?.session_id) ??
      looseId(metadata?.thread_id) ??
      looseId(metadata?.conversation_id),
    userId: looseId(metadata?.user_id),
    referenceExampleId: optUuid(o, 'reference_example_id', fail) ?? undefined,
    firstTokenTime: time('first_token_time') ?? firstTokenFromEvents(events),
    inputs: o.inputs ?? undefined,
    outputs: o.outputs ?? undefined,
    extra,
    events,
  };
  for (const key of Object.keys(run) as (keyof RunUpsert)[]) {
    if (run[key] === undefined) delete run[key];
  }
  return run;
}

function asObject(obj: unknown, fail: Fail): JsonObject {
  if (!isJsonObject(obj)) fail('(body)', `must be a JSON object; got ${describe(obj)}`);
  return obj;
}

/** A LangSmith run create (`post`) → RunUpsert. Requires `id`, `name`, `run_type`. */
export function mapRunCreate(obj: unknown, ctx: MapContext = {}): RunUpsert {
  const pre: Fail = failer(ctx, 'run');
  const o = asObject(obj, pre);
  if (!isUuid(o.id)) pre('id', `must be a UUID; got ${describe(o.id)}`);
  const id = o.id.toLowerCase();
  return mapRun('create', id, o, failer(ctx, `run ${id}`));
}

/** A LangSmith run update (`patch`); `id` comes from the URL / part name. */
export function mapRunUpdate(id: string, obj: unknown, ctx: MapContext = {}): RunUpsert {
  if (!isUuid(id)) failer(ctx, 'run')('id', `must be a UUID; got ${describe(id)}`);
  const runId = id.toLowerCase();
  const fail: Fail = failer(ctx, `run ${runId}`);
  const o = asObject(obj, fail);
  if (
    o.id !== undefined &&
    o.id !== null &&
    (typeof o.id !== 'string' || o.id.toLowerCase() !== runId)
  ) {
    fail('id', `${describe(o.id)} does not match the run being updated`);
  }
  return mapRun('update', runId, o, fail);
}

/**
 * Applies run operations in order and returns one RunUpsert per run id (in order of
 * first appearance), merged with the storage rule of `run-merge.ts` (carried fields win,
 * absent never clears, tags unioned, metadata/extra merged key by key). An op whose run
 * was already seen in this list and that carries neither `trace_id` nor `dotted_order`
 * inherits the earlier op's trace.
 */
export function applyOpsInOrder(ops: readonly RunOpLike[], ctx: MapContext = {}): RunUpsert[] {
  const byId = new Map<string, RunUpsert>();
  for (const op of ops) {
    const where = [ctx.where, op.part ?? `${op.kind}.${op.id}`].filter(Boolean).join(' ');
    const opCtx: MapContext = { where };
    const seen = byId.get(op.id.toLowerCase());
    let run = op.run;
    if (seen && run.trace_id == null && run.dotted_order == null)
      run = { ...run, trace_id: seen.traceId };
    const mapped =
      op.kind === 'post'
        ? mapRunCreate({ id: op.id, ...run }, opCtx)
        : mapRunUpdate(op.id, run, opCtx);
    byId.set(mapped.id, seen ? mergeRunUpserts(seen, mapped) : mapped);
  }
  return [...byId.values()];
}

function nullableString(o: JsonObject, field: string, fail: Fail): string | null | undefined {
  return o[field] === null ? null : optString(o, field, fail);
}

function optObject(o: JsonObject, field: string, fail: Fail): JsonObject | undefined {
  const v = o[field];
  if (v === undefined || v === null) return undefined;
  if (!isJsonObject(v)) fail(field, `must be an object; got ${describe(v)}`);
  return v;
}

/**
 * A LangSmith feedback object (`POST /feedback` body or `feedback.<id>` part) →
 * FeedbackWrite. `id` is generated when absent (the REST API allows that; the SDK always
 * sends one). `start_time` is the *run's* start time (a lookup hint), not the feedback's
 * creation time: it is validated but not stored; `created_at` is.
 */
export function mapFeedback(obj: unknown, ctx: MapContext = {}): FeedbackWrite {
  const pre: Fail = failer(ctx, 'feedback');
  const o = asObject(obj, pre);
  if (o.id !== undefined && o.id !== null && !isUuid(o.id))
    pre('id', `must be a UUID; got ${describe(o.id)}`);
  const id = typeof o.id === 'string' ? o.id.toLowerCase() : randomUUID();
  const fail: Fail = failer(ctx, `feedback ${id}`);

  const key = o.key;
  if (typeof key !== 'string' || key.trim() === '')
    fail('key', `is required (non-empty string); got ${describe(key)}`);
  const rawScore = o.score;
  let score: number | null | undefined;
  if (typeof rawScore === 'boolean') score = rawScore ? 1 : 0;
  else if (rawScore === null || rawScore === undefined) score = rawScore;
  else if (typeof rawScore === 'number' && Number.isFinite(rawScore)) score = rawScore;
  else fail('score', `must be a number, a boolean or null; got ${describe(rawScore)}`);
  take(parseTimestamp(o.start_time), 'start_time', fail);

  const write: FeedbackWrite = {
    id,
    runId: optUuid(o, 'run_id', fail) ?? null,
    traceId: optUuid(o, 'trace_id', fail),
    projectId: optUuid(o, 'session_id', fail),
    key,
    score,
    value: o.value,
    comment: nullableString(o, 'comment', fail),
    correction: o.correction,
    feedbackSource: optObject(o, 'feedback_source', fail),
    feedbackConfig: optObject(o, 'feedbackConfig', fail) ?? optObject(o, 'feedback_config', fail),
    createdAt: take(parseTimestamp(o.created_at), 'created_at', fail),
  };
  if (write.runId === null && !write.projectId) {
    fail('run_id', 'is required unless session_id is given (project-level feedback)');
  }
  for (const k of Object.keys(write) as (keyof FeedbackWrite)[]) {
    if (write[k] === undefined) delete write[k];
  }
  return write;
}
