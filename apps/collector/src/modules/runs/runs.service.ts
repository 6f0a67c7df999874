import type {
  FeedbackItem,
  RunDetail,
  RunSummary,
  TraceNode,
  TraceResponse,
} from '@loupe/contracts';
import { badRequest } from '../../errors.js';
import { contentFromLogRecords } from '../ingest/otlp/log-content.js';
import type { FeedbackRow } from '../feedback/feedback.repository.js';
import type { Keyset, RunSummaryRow, RunWithPayloadRow } from './runs.repository.js';

export function toRunSummary(row: RunSummaryRow): RunSummary {
  return {
    id: row.id,
    trace_id: row.trace_id,
    parent_run_id: row.parent_run_id,
    project_id: row.project_id,
    dotted_order: row.dotted_order,
    name: row.name,
    run_type: row.run_type,
    status: row.status,
    start_time: row.start_time,
    end_time: row.end_time,
    latency_ms: row.latency_ms === null ? null : Number(row.latency_ms),
    error: row.error,
    model: row.model,
    provider: row.provider,
    prompt_tokens: row.prompt_tokens,
    completion_tokens: row.completion_tokens,
    total_tokens: row.total_tokens,
    token_details: row.token_details,
    cost: row.cost === null ? null : Number(row.cost),
    tags: row.tags,
    metadata: row.metadata,
    session_id: row.session_id,
    user_id: row.user_id,
    reference_example_id: row.reference_example_id,
    first_token_time: row.first_token_time,
    otel_trace_id: row.otel_trace_id,
    otel_span_id: row.otel_span_id,
  };
}

export function toFeedbackItem(row: FeedbackRow): FeedbackItem {
  return {
    id: row.id,
    run_id: row.run_id,
    trace_id: row.trace_id,
    project_id: row.project_id,
    key: row.key,
    score: row.score,
    value: row.value,
    comment: row.comment,
    correction: row.correction,
    feedback_source: row.feedback_source,
    created_at: row.created_at,
    modified_at: row.modified_at,
  };
}

/**
 * Inputs/outputs as stored, or — for OTel instrumentations that put prompt and
 * completion into OTLP log records — derived from those records at read time
 * (records may arrive before or after their span, so deriving late is what makes
 * arrival order irrelevant).
 */
export function runPayloadView(row: Pick<RunWithPayloadRow, 'inputs' | 'outputs' | 'log_records'>) {
  let inputs: unknown = row.inputs ?? null;
  let outputs: unknown = row.outputs ?? null;
  if (
    row.log_records !== null &&
    row.log_records !== undefined &&
    (inputs === null || outputs === null)
  ) {
    const derived = contentFromLogRecords(row.log_records as never);
    if (inputs === null && derived.inputs !== undefined) inputs = derived.inputs;
    if (outputs === null && derived.outputs !== undefined) outputs = derived.outputs;
  }
  return { inputs, outputs };
}

export function toRunDetail(
  row: RunWithPayloadRow,
  attachments: RunDetail['attachments'],
  feedback: FeedbackRow[],
): RunDetail {
  const { inputs, outputs } = runPayloadView(row);
  return {
    ...toRunSummary(row),
    inputs,
    outputs,
    extra: row.extra ?? null,
    events: row.events ?? null,
    otel: otelView(row),
    attachments: attachments.map((a) => ({ ...a, size: Number(a.size) })),
    feedback: feedback.map(toFeedbackItem),
  };
}

function otelView(row: RunWithPayloadRow): unknown {
  if (row.otel === null && row.log_records === null) return null;
  return {
    ...(row.otel ?? {}),
    ...(row.log_records === null ? {} : { log_records: row.log_records }),
  };
}

export function encodeCursor(k: Keyset): string {
  return Buffer.from(JSON.stringify([k.startTime, k.id]), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): Keyset {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (
      Array.isArray(parsed) &&
      parsed.length === 2 &&
      (parsed[0] === null || typeof parsed[0] === 'string') &&
      typeof parsed[1] === 'string'
    ) {
      return { startTime: parsed[0] as string | null, id: parsed[1] };
    }
  } catch {
    // fall through to the error below
  }
  throw badRequest(
    'cursor is not a cursor this API returned; pass next_cursor from the previous page unchanged',
  );
}

/**
 * Builds the run tree of one trace. Runs whose parent is not (yet) stored are
 * roots — a child may arrive before its parent, or the parent may live in another
 * service that never reports — and `parent_run_id` still says who the parent is.
 */
export function buildTraceTree(traceId: string, rows: RunSummaryRow[]): TraceResponse {
  const nodes = new Map<string, TraceNode>();
  for (const row of rows) nodes.set(row.id, { ...toRunSummary(row), children: [] });
  const roots: TraceNode[] = [];
  for (const node of nodes.values()) {
    const parent = node.parent_run_id === null ? undefined : nodes.get(node.parent_run_id);
    if (parent === undefined || parent === node) roots.push(node);
    else parent.children.push(node);
  }
  return { trace_id: traceId, run_count: nodes.size, roots };
}
