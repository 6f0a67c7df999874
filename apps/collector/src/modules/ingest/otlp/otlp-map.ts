/**
 * Normalised OTLP spans / log records → RunUpserts (reference §0, §4). Each span is
 * read through an AttributeBag: the extractors consume what they map, and every
 * attribute nobody consumed is kept under `otel.attributes`.
 */
import { createHash } from 'node:crypto';
import { isUuid, runIdFromOtel, traceIdFromOtel } from '../ids.js';
import type { JsonObject, RunUpsert } from '../run-upsert.js';
import { AttributeBag } from './otlp-attribute-bag.js';
import { asBool, asNumber, asText, canonicalJson, parseIfString } from './otlp-json.js';
import { extractContent } from './otlp-map-content.js';
import {
  extractError,
  extractIdentity,
  extractMetadata,
  extractRunType,
  extractTags,
  resolveProject,
  type ProjectContext,
} from './otlp-map-meta.js';
import { extractInvocationParams, extractModel, extractUsage } from './otlp-map-usage.js';
import type {
  NormalisedLogRecord,
  NormalisedResourceLogs,
  NormalisedResourceSpans,
  NormalisedScope,
  NormalisedScopeSpans,
  NormalisedSpan,
  Rejections,
} from './otlp-types.js';

export type MapContext = ProjectContext;

export interface MapResult {
  runs: RunUpsert[];
  /** items not mapped (decode-time and map-time), for OTLP partial_success */
  rejected: number;
  errors: string[];
}

export interface LogsMapResult extends MapResult {
  /** records without trace/span ids: not run content, dropped without error */
  unlinked: number;
  /** warnings for a partial_success with rejected = 0 */
  notes: string[];
}

/** Kept small: the messages end up in one response `error_message`. */
const MAX_ERRORS = 50;

function addErrors(result: MapResult, from: Rejections): void {
  result.rejected += from.rejected;
  for (const e of from.errors) if (result.errors.length < MAX_ERRORS) result.errors.push(e);
}

/** Canonical decimal nanoseconds → Date (ms). String slicing, not BigInt: hot per span. */
function nanosToDate(nanos: string): Date {
  return new Date(nanos.length <= 6 ? 0 : Number(nanos.slice(0, nanos.length - 6)));
}

function isoOrNull(nanos: string): string | null {
  return nanos === '0' ? null : nanosToDate(nanos).toISOString();
}

/**
 * Copies the defined fields into a fresh object, so "not carried" is also "not present"
 * (log-record runs). Span runs skip it: they are built with one fixed shape instead.
 */
function compact<T extends object>(o: T): T {
  const out: Partial<T> = {};
  for (const k of Object.keys(o) as Array<keyof T>) if (o[k] !== undefined) out[k] = o[k];
  return out as T;
}

function firstTokenTime(bag: AttributeBag, startNanos: string): Date | undefined {
  const seconds = bag.take('gen_ai.response.time_to_first_chunk', (v) => {
    const n = asNumber(v);
    return n !== undefined && n >= 0 ? n : undefined;
  });
  if (seconds !== undefined)
    return new Date(Math.floor(Number(BigInt(startNanos) / 1000n) / 1000 + seconds * 1000));
  return bag.take('langfuse.observation.completion_start_time', (v) => {
    const s = parseIfString(v);
    const d = typeof s === 'string' ? new Date(s) : undefined;
    return d && !Number.isNaN(d.getTime()) ? d : undefined;
  });
}

function parentRunId(bag: AttributeBag, span: NormalisedSpan): string | null {
  // LangSmith grafts OTel spans under runs its SDK created (UUID run ids)
  const ls = bag.take('langsmith.span.parent_id', (v) => (isUuid(v) ? v.toLowerCase() : undefined));
  if (ls !== undefined) return ls;
  if (bag.take('langfuse.internal.as_root', (v) => (asBool(v) === true ? true : undefined)))
    return null;
  return span.parentSpanId === null ? null : runIdFromOtel(span.traceId, span.parentSpanId);
}

function otelLeftovers(
  span: NormalisedSpan,
  rs: NormalisedResourceSpans,
  ss: NormalisedScopeSpans,
  bag: AttributeBag,
): JsonObject {
  const scope: JsonObject = { name: ss.scope.name, version: ss.scope.version };
  if (Object.keys(ss.scope.attributes).length > 0) scope.attributes = ss.scope.attributes;
  const otel: JsonObject = {
    span_name: span.name,
    kind: span.kind,
    status: { code: span.status.code, message: span.status.message },
    start_time_unix_nano: span.startTimeUnixNano,
    end_time_unix_nano: span.endTimeUnixNano,
    parent_span_id: span.parentSpanId,
    flags: span.flags,
    resource: rs.resource.attributes,
    scope,
    attributes: bag.leftovers(),
    links: span.links.map((l) => {
      const link: JsonObject = {
        trace_id: l.traceId,
        span_id: l.spanId,
        attributes: l.attributes,
        flags: l.flags,
      };
      if (l.traceState !== '') link.trace_state = l.traceState;
      if (l.droppedAttributesCount > 0) link.dropped_attributes_count = l.droppedAttributesCount;
      return link;
    }),
    dropped_attributes_count: span.droppedAttributesCount,
    dropped_events_count: span.droppedEventsCount,
    dropped_links_count: span.droppedLinksCount,
  };
  if (span.traceState !== '') otel.trace_state = span.traceState;
  if (rs.resource.droppedAttributesCount > 0)
    otel.resource_dropped_attributes_count = rs.resource.droppedAttributesCount;
  if (rs.schemaUrl !== '') otel.resource_schema_url = rs.schemaUrl;
  if (ss.schemaUrl !== '') otel.scope_schema_url = ss.schemaUrl;
  return otel;
}

function mapSpan(
  span: NormalisedSpan,
  rs: NormalisedResourceSpans,
  ss: NormalisedScopeSpans,
  ctx: MapContext,
): RunUpsert {
  const bag = new AttributeBag(span.attributes);
  const { runType, original } = extractRunType(bag);
  const name = bag.first(['langsmith.trace.name', 'traceloop.entity.name'], asText) ?? span.name;
  const model = extractModel(bag);
  const usage = extractUsage(bag);
  const invocationParams = extractInvocationParams(bag);
  const content = extractContent(bag, span.events);
  const failure = extractError(bag, span);
  const metadata = extractMetadata(bag, rs.resource.attributes, ss.scope);
  for (const k of Object.keys(failure.metadata)) metadata[k] = failure.metadata[k]!;
  if (original !== undefined) metadata.original_run_type = original;
  if (model.requested !== undefined) metadata.ls_model_requested = model.requested;
  const identity = extractIdentity(bag, metadata);
  const provider = model.provider ?? asText(metadata.ls_provider)?.toLowerCase();
  const run: RunUpsert = {
    id: runIdFromOtel(span.traceId, span.spanId),
    traceId:
      bag.take('langsmith.trace.id', (v) => (isUuid(v) ? v.toLowerCase() : undefined)) ??
      traceIdFromOtel(span.traceId),
    projectName: resolveProject(ctx, rs.resource.attributes, bag),
    parentRunId: parentRunId(bag, span),
    name,
    runType,
    startTime: nanosToDate(span.startTimeUnixNano),
    endTime: span.endTimeUnixNano === '0' ? undefined : nanosToDate(span.endTimeUnixNano),
    error: failure.error,
    model: model.model,
    provider,
    promptTokens: usage.promptTokens,
    completionTokens: usage.completionTokens,
    totalTokens: usage.totalTokens,
    tokenDetails: usage.tokenDetails,
    cost: usage.cost,
    tags: extractTags(bag),
    metadata,
    sessionId: identity.sessionId,
    userId: identity.userId,
    firstTokenTime: firstTokenTime(bag, span.startTimeUnixNano),
    otelTraceId: span.traceId,
    otelSpanId: span.spanId,
    inputs: content.inputs,
    outputs: content.outputs,
    extra: invocationParams === undefined ? undefined : { invocation_params: invocationParams },
    events:
      span.events.length === 0
        ? undefined
        : span.events.map((e) => {
            const ev: JsonObject = {
              name: e.name,
              time: isoOrNull(e.timeUnixNano),
              time_unix_nano: e.timeUnixNano,
              attributes: e.attributes,
            };
            if (e.droppedAttributesCount > 0)
              ev.dropped_attributes_count = e.droppedAttributesCount;
            return ev;
          }),
  };
  // last: it collects whatever the extractors above did not consume
  run.otel = otelLeftovers(span, rs, ss, bag);
  return run;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export function mapSpans(resourceSpans: NormalisedResourceSpans[], ctx: MapContext): MapResult {
  const result: MapResult = { runs: [], rejected: 0, errors: [] };
  // one upsert per run id: a batch that repeats a span must not hit the same row twice
  const byId = new Map<string, RunUpsert>();
  for (const rs of resourceSpans) {
    for (const ss of rs.scopeSpans) {
      addErrors(result, ss);
      for (const span of ss.spans) {
        try {
          const run = mapSpan(span, rs, ss, ctx);
          byId.delete(run.id);
          byId.set(run.id, run);
        } catch (e) {
          // a mapping bug must cost one span, not the whole request
          addErrors(result, {
            rejected: 1,
            errors: [`span ${span.spanId}: could not be mapped: ${errorText(e)}`],
          });
        }
      }
    }
  }
  result.runs = [...byId.values()];
  return result;
}

// ---- logs ----

/**
 * What a stored log record looks like (`RunUpsert.logRecords[key]`); log-content.ts
 * reads it back. `time_unix_nano` falls back to the observed time when unset.
 */
export function storedLogRecord(
  r: NormalisedLogRecord,
  scope: NormalisedScope,
  seq = 0,
): { key: string; value: JsonObject } {
  const time = r.timeUnixNano !== '0' ? r.timeUnixNano : r.observedTimeUnixNano;
  const eventName = r.eventName !== '' ? r.eventName : (asText(r.attributes['event.name']) ?? '');
  // attributes are hashed too: the two operation.details records of one call have
  // the same (empty) body and may share a timestamp
  const hash = createHash('sha256')
    .update(canonicalJson([eventName, r.body, r.attributes]))
    .digest('hex')
    .slice(0, 16);
  const value: JsonObject = {
    event_name: eventName,
    time_unix_nano: time,
    body: r.body,
    attributes: r.attributes,
    severity: { number: r.severityNumber, text: r.severityText },
  };
  if (scope.name !== '') value.scope = scope.name;
  // Zero-padded time, then the record's position among its span's records in this
  // request: keys sort in emission order even when SDKs stamp several records with
  // the same millisecond (the OTel JS SDK does: user, assistant and tool messages of
  // one call share a timestamp). A retried request repeats positions, so keys repeat
  // and re-delivery stays idempotent.
  value.seq = seq;
  return {
    key: `${time.padStart(20, '0')}:${String(seq).padStart(6, '0')}:${eventName || 'log'}:${hash}`,
    value,
  };
}

export function mapLogs(resourceLogs: NormalisedResourceLogs[], ctx: MapContext): LogsMapResult {
  const result: LogsMapResult = { runs: [], rejected: 0, errors: [], unlinked: 0, notes: [] };
  const byId = new Map<string, RunUpsert & { logRecords: Record<string, JsonObject> }>();
  const seqBySpan = new Map<string, number>();
  for (const rl of resourceLogs) {
    const projectName = resolveProject(ctx, rl.resource.attributes);
    for (const sl of rl.scopeLogs) {
      addErrors(result, sl);
      for (const record of sl.logRecords) {
        if (record.traceId === null || record.spanId === null) {
          result.unlinked++;
          continue;
        }
        const id = runIdFromOtel(record.traceId, record.spanId);
        let run = byId.get(id);
        if (!run) {
          run = compact({
            id,
            traceId: traceIdFromOtel(record.traceId),
            projectName,
            logRecords: {},
          });
          byId.set(id, run);
        }
        const seq = (seqBySpan.get(id) ?? 0) + 1;
        seqBySpan.set(id, seq);
        const { key, value } = storedLogRecord(record, sl.scope, seq);
        run.logRecords[key] = value;
      }
    }
  }
  if (result.unlinked > 0) {
    result.notes.push(
      `${result.unlinked} log record(s) without a trace/span id were not stored (not run content)`,
    );
  }
  result.runs = [...byId.values()];
  return result;
}
