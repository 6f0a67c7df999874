import { sql, type RawBuilder } from 'kysely';
import type { Db } from '../workspaces/workspaces.repository.js';
import type { AttachmentWrite, FeedbackWrite, RunUpsert } from '../ingest/run-upsert.js';

/** A run upsert whose project has been resolved. */
export interface ResolvedRun extends RunUpsert {
  workspaceId: string;
  resolvedProjectId: string;
}

/**
 * JSON text PostgreSQL will accept. jsonb (and text) cannot hold U+0000, and jsonb
 * rejects unpaired UTF-16 surrogates, both of which arrive in real traces (binary
 * data in strings, truncated emoji). They become U+FFFD instead of failing the whole
 * batch. The common case pays one scan of the serialised text.
 */
export function pgJson(value: unknown): string {
  return pgSafeJson(JSON.stringify(value), value);
}

/** `pgJson` for a caller that already has `text = JSON.stringify(value)`. */
export function pgSafeJson(text: string, value: unknown): string {
  // JSON.stringify writes these escapes in lower case, so no /i (it doubles the scan cost)
  if (!/\\u0000|\\ud[89a-f]/.test(text)) return text;
  return JSON.stringify(value, (_key, v: unknown) =>
    typeof v === 'string' ? v.toWellFormed().replaceAll('\u0000', '\ufffd') : v,
  );
}

// Absent values are `undefined`, not null: JSON.stringify leaves those keys out and
// jsonb_to_recordset reads a missing key as NULL, so a typical run ships about half
// the JSON text (measured in bench:ingest: less to serialise here and to parse there).
const iso = (d: Date | string | undefined) =>
  d === undefined ? undefined : d instanceof Date ? d.toISOString() : d;
const json = (v: unknown) => (v === null ? undefined : v);

/**
 * Upserts runs and their payloads. The batch travels as ONE jsonb parameter per
 * table (`jsonb_to_recordset`): no 65,535-parameter ceiling, and PostgreSQL parses
 * one value instead of thousands of bind parameters. Rows must be unique by id and
 * sorted by id (callers fold and sort) so concurrent transactions lock rows in the
 * same order and cannot deadlock.
 *
 * Merge rule (mirrors `mergeRunUpserts`): NULL = not carried = keep stored value.
 * A row from another workspace with the same id is never touched.
 */
export async function upsertRuns(db: Db, runs: ResolvedRun[]): Promise<void> {
  for (const statement of upsertRunsStatements(runs)) await statement.execute(db);
}

/** The statements of `upsertRuns`, for callers that run them on their own connection. */
export function upsertRunsStatements(runs: ResolvedRun[]): Array<RawBuilder<unknown>> {
  if (runs.length === 0) return [];
  const statements: Array<RawBuilder<unknown>> = [];
  const rows = runs.map((r) => ({
    id: r.id,
    workspace_id: r.workspaceId,
    project_id: r.resolvedProjectId,
    trace_id: r.traceId,
    parent_run_id: r.parentRunId ?? undefined,
    dotted_order: r.dottedOrder,
    name: r.name,
    run_type: r.runType,
    start_time: iso(r.startTime),
    end_time: iso(r.endTime),
    error: r.error,
    model: r.model,
    provider: r.provider,
    prompt_tokens: r.promptTokens,
    completion_tokens: r.completionTokens,
    total_tokens: r.totalTokens,
    token_details: r.tokenDetails,
    cost: r.cost,
    tags: r.tags,
    metadata: r.metadata,
    session_id: r.sessionId,
    user_id: r.userId,
    reference_example_id: r.referenceExampleId,
    first_token_time: iso(r.firstTokenTime),
    otel_trace_id: r.otelTraceId,
    otel_span_id: r.otelSpanId,
  }));
  statements.push(sql`
    INSERT INTO runs AS r (id, workspace_id, project_id, trace_id, parent_run_id, dotted_order, name, run_type,
      status, start_time, end_time, error, model, provider, prompt_tokens, completion_tokens, total_tokens,
      token_details, cost, tags, metadata, session_id, user_id, reference_example_id, first_token_time,
      otel_trace_id, otel_span_id)
    SELECT x.id, x.workspace_id, x.project_id, x.trace_id, x.parent_run_id, x.dotted_order, x.name, x.run_type,
      CASE WHEN x.error IS NOT NULL THEN 'error' WHEN x.end_time IS NOT NULL THEN 'success' ELSE 'pending' END,
      x.start_time, x.end_time, x.error, x.model, x.provider, x.prompt_tokens, x.completion_tokens, x.total_tokens,
      x.token_details, x.cost, COALESCE(x.tags, '{}'), COALESCE(x.metadata, '{}'), x.session_id, x.user_id,
      x.reference_example_id, x.first_token_time, x.otel_trace_id, x.otel_span_id
    FROM jsonb_to_recordset(${pgJson(rows)}::jsonb) AS x(id uuid, workspace_id uuid, project_id uuid,
      trace_id uuid, parent_run_id uuid, dotted_order text, name text, run_type text, start_time timestamptz,
      end_time timestamptz, error text, model text, provider text, prompt_tokens integer, completion_tokens integer,
      total_tokens integer, token_details jsonb, cost numeric, tags text[], metadata jsonb, session_id text,
      user_id text, reference_example_id uuid, first_token_time timestamptz, otel_trace_id text, otel_span_id text)
    ON CONFLICT (id) DO UPDATE SET
      trace_id = EXCLUDED.trace_id,
      parent_run_id = COALESCE(EXCLUDED.parent_run_id, r.parent_run_id),
      dotted_order = COALESCE(EXCLUDED.dotted_order, r.dotted_order),
      name = COALESCE(EXCLUDED.name, r.name),
      run_type = COALESCE(EXCLUDED.run_type, r.run_type),
      status = CASE WHEN COALESCE(EXCLUDED.error, r.error) IS NOT NULL THEN 'error'
                    WHEN COALESCE(EXCLUDED.end_time, r.end_time) IS NOT NULL THEN 'success'
                    ELSE 'pending' END,
      start_time = COALESCE(EXCLUDED.start_time, r.start_time),
      end_time = COALESCE(EXCLUDED.end_time, r.end_time),
      error = COALESCE(EXCLUDED.error, r.error),
      model = COALESCE(EXCLUDED.model, r.model),
      provider = COALESCE(EXCLUDED.provider, r.provider),
      prompt_tokens = COALESCE(EXCLUDED.prompt_tokens, r.prompt_tokens),
      completion_tokens = COALESCE(EXCLUDED.completion_tokens, r.completion_tokens),
      total_tokens = COALESCE(EXCLUDED.total_tokens, r.total_tokens),
      token_details = CASE WHEN EXCLUDED.token_details IS NULL THEN r.token_details
                           ELSE COALESCE(r.token_details, '{}') || EXCLUDED.token_details END,
      cost = COALESCE(EXCLUDED.cost, r.cost),
      tags = ARRAY(SELECT t FROM unnest(r.tags || EXCLUDED.tags) WITH ORDINALITY AS u(t, o)
                   GROUP BY t ORDER BY min(o)),
      metadata = r.metadata || EXCLUDED.metadata,
      session_id = COALESCE(EXCLUDED.session_id, r.session_id),
      user_id = COALESCE(EXCLUDED.user_id, r.user_id),
      reference_example_id = COALESCE(EXCLUDED.reference_example_id, r.reference_example_id),
      first_token_time = COALESCE(EXCLUDED.first_token_time, r.first_token_time),
      otel_trace_id = COALESCE(EXCLUDED.otel_trace_id, r.otel_trace_id),
      otel_span_id = COALESCE(EXCLUDED.otel_span_id, r.otel_span_id),
      updated_at = now()
    WHERE r.workspace_id = EXCLUDED.workspace_id
  `);

  const payloads = runs
    .filter(
      (r) =>
        r.inputs !== undefined ||
        r.outputs !== undefined ||
        r.extra !== undefined ||
        r.events !== undefined ||
        r.otel !== undefined ||
        r.logRecords !== undefined,
    )
    .map((r) => ({
      run_id: r.id,
      workspace_id: r.workspaceId,
      inputs: json(r.inputs),
      outputs: json(r.outputs),
      extra: json(r.extra),
      events: json(r.events),
      otel: json(r.otel),
      log_records: json(r.logRecords),
    }));
  if (payloads.length === 0) return statements;
  // The workspace guard joins the runs row written above: a foreign workspace's
  // payload for an existing id is dropped, exactly like its runs row.
  statements.push(sql`
    INSERT INTO run_payloads AS p (run_id, inputs, outputs, extra, events, otel, log_records)
    SELECT x.run_id, x.inputs, x.outputs, x.extra, x.events, x.otel, x.log_records
    FROM jsonb_to_recordset(${pgJson(payloads)}::jsonb) AS x(run_id uuid, workspace_id uuid, inputs jsonb,
      outputs jsonb, extra jsonb, events jsonb, otel jsonb, log_records jsonb)
    JOIN runs ON runs.id = x.run_id AND runs.workspace_id = x.workspace_id
    ON CONFLICT (run_id) DO UPDATE SET
      inputs = COALESCE(EXCLUDED.inputs, p.inputs),
      outputs = COALESCE(EXCLUDED.outputs, p.outputs),
      extra = CASE WHEN EXCLUDED.extra IS NULL THEN p.extra ELSE COALESCE(p.extra, '{}') || EXCLUDED.extra END,
      events = COALESCE(EXCLUDED.events, p.events),
      otel = COALESCE(EXCLUDED.otel, p.otel),
      log_records = CASE WHEN EXCLUDED.log_records IS NULL THEN p.log_records
                         ELSE COALESCE(p.log_records, '{}') || EXCLUDED.log_records END
  `);
  return statements;
}

export async function upsertAttachments(db: Db, attachments: AttachmentWrite[]): Promise<void> {
  for (const a of attachments) {
    await db
      .insertInto('run_attachments')
      .values({ run_id: a.runId, name: a.name, content_type: a.contentType, data: a.data })
      .onConflict((oc) =>
        oc.columns(['run_id', 'name']).doUpdateSet({ content_type: a.contentType, data: a.data }),
      )
      .execute();
  }
}

export interface ResolvedFeedback extends FeedbackWrite {
  workspaceId: string;
}

/** Idempotent by feedback id (clients generate ids and retry). */
export async function upsertFeedback(db: Db, items: ResolvedFeedback[]): Promise<void> {
  for (const f of items) {
    const projectId =
      f.projectId ??
      (f.runId === null
        ? null
        : ((
            await db
              .selectFrom('runs')
              .select('project_id')
              .where('id', '=', f.runId)
              .where('workspace_id', '=', f.workspaceId)
              .executeTakeFirst()
          )?.project_id ?? null));
    const values = {
      run_id: f.runId,
      trace_id: f.traceId ?? null,
      project_id: projectId,
      key: f.key.replaceAll('\u0000', '\ufffd'),
      score: f.score ?? null,
      value: f.value === undefined ? null : pgJson(f.value),
      comment: f.comment ?? null,
      correction: f.correction === undefined ? null : pgJson(f.correction),
      feedback_source: f.feedbackSource === undefined ? null : pgJson(f.feedbackSource),
      feedback_config: f.feedbackConfig === undefined ? null : pgJson(f.feedbackConfig),
    };
    await db
      .insertInto('feedback')
      .values({
        id: f.id,
        workspace_id: f.workspaceId,
        ...values,
        ...(f.createdAt === undefined ? {} : { created_at: f.createdAt }),
      })
      .onConflict((oc) =>
        oc
          .column('id')
          .doUpdateSet({ ...values, modified_at: new Date() })
          .where('feedback.workspace_id', '=', f.workspaceId),
      )
      .execute();
  }
}
