import { sql, type Expression, type ExpressionBuilder, type SqlBool } from 'kysely';
import type { Database } from '../../db/schema.js';
import type { Db } from '../workspaces/workspaces.repository.js';

export interface RunFilter {
  workspaceId: string;
  projectId?: string;
  runTypes?: string[];
  name?: string;
  status?: 'success' | 'error' | 'pending';
  hasError?: boolean;
  tags?: string[];
  /** AND of containment filters, e.g. [{ user: 'u1' }] */
  metadata?: Record<string, unknown>[];
  startTimeGte?: string;
  startTimeLt?: string;
  feedbackKey?: string;
  feedbackScoreGte?: number;
  feedbackScoreLte?: number;
  rootOnly?: boolean;
  /** only runs that have a parent (LangSmith `is_root: false`) */
  childOnly?: boolean;
  traceId?: string;
  sessionId?: string;
  userId?: string;
  text?: string;
  ids?: string[];
  parentRunId?: string;
  /** any of these projects (LangSmith `session: [...]`) */
  projectIds?: string[];
  referenceExampleIds?: string[];
}

export interface Keyset {
  startTime: string | null;
  id: string;
}

type RunsEb = ExpressionBuilder<Database, 'runs'>;

const SUMMARY_COLUMNS = [
  'runs.id',
  'runs.trace_id',
  'runs.parent_run_id',
  'runs.project_id',
  'runs.dotted_order',
  'runs.name',
  'runs.run_type',
  'runs.status',
  'runs.start_time',
  'runs.end_time',
  'runs.error',
  'runs.model',
  'runs.provider',
  'runs.prompt_tokens',
  'runs.completion_tokens',
  'runs.total_tokens',
  'runs.token_details',
  'runs.cost',
  'runs.tags',
  'runs.metadata',
  'runs.session_id',
  'runs.user_id',
  'runs.reference_example_id',
  'runs.first_token_time',
  'runs.otel_trace_id',
  'runs.otel_span_id',
] as const;

const latencyMs = sql<
  number | null
>`(extract(epoch from (runs.end_time - runs.start_time)) * 1000)::double precision`;

/** Every filter as one boolean expression; composed immutably. */
function filterExpression(eb: RunsEb, f: RunFilter): Expression<SqlBool> {
  const and: Expression<SqlBool>[] = [eb('runs.workspace_id', '=', f.workspaceId)];
  if (f.projectId !== undefined) and.push(eb('runs.project_id', '=', f.projectId));
  if (f.runTypes !== undefined && f.runTypes.length > 0)
    and.push(eb('runs.run_type', 'in', f.runTypes));
  if (f.name !== undefined) and.push(eb('runs.name', '=', f.name));
  if (f.status !== undefined) and.push(eb('runs.status', '=', f.status));
  if (f.hasError === true) and.push(eb('runs.error', 'is not', null));
  if (f.hasError === false) and.push(eb('runs.error', 'is', null));
  if (f.tags !== undefined && f.tags.length > 0)
    and.push(sql<SqlBool>`runs.tags @> ${sql.val(f.tags)}::text[]`);
  for (const m of f.metadata ?? [])
    and.push(sql<SqlBool>`runs.metadata @> ${JSON.stringify(m)}::jsonb`);
  if (f.startTimeGte !== undefined) and.push(eb('runs.start_time', '>=', f.startTimeGte));
  if (f.startTimeLt !== undefined) and.push(eb('runs.start_time', '<', f.startTimeLt));
  if (f.rootOnly === true) and.push(eb('runs.parent_run_id', 'is', null));
  if (f.childOnly === true) and.push(eb('runs.parent_run_id', 'is not', null));
  if (f.traceId !== undefined) and.push(eb('runs.trace_id', '=', f.traceId));
  if (f.sessionId !== undefined) and.push(eb('runs.session_id', '=', f.sessionId));
  if (f.userId !== undefined) and.push(eb('runs.user_id', '=', f.userId));
  if (f.ids !== undefined && f.ids.length > 0) and.push(eb('runs.id', 'in', f.ids));
  if (f.parentRunId !== undefined) and.push(eb('runs.parent_run_id', '=', f.parentRunId));
  if (f.projectIds !== undefined) {
    // an empty list matches nothing rather than everything
    and.push(
      f.projectIds.length === 0 ? sql<SqlBool>`false` : eb('runs.project_id', 'in', f.projectIds),
    );
  }
  if (f.referenceExampleIds !== undefined && f.referenceExampleIds.length > 0) {
    and.push(eb('runs.reference_example_id', 'in', f.referenceExampleIds));
  }
  if (
    f.feedbackKey !== undefined ||
    f.feedbackScoreGte !== undefined ||
    f.feedbackScoreLte !== undefined
  ) {
    and.push(
      eb.exists(
        eb
          .selectFrom('feedback')
          .select(sql`1`.as('one'))
          .whereRef('feedback.run_id', '=', 'runs.id')
          .$if(f.feedbackKey !== undefined, (q) => q.where('feedback.key', '=', f.feedbackKey!))
          .$if(f.feedbackScoreGte !== undefined, (q) =>
            q.where('feedback.score', '>=', f.feedbackScoreGte!),
          )
          .$if(f.feedbackScoreLte !== undefined, (q) =>
            q.where('feedback.score', '<=', f.feedbackScoreLte!),
          ),
      ),
    );
  }
  if (f.text !== undefined) {
    // String values only (keys and numbers are not content). No index: a GIN over
    // this expression would tax every ingest write; filters above narrow first.
    and.push(
      eb.exists(
        eb
          .selectFrom('run_payloads as p')
          .select(sql`1`.as('one'))
          .whereRef('p.run_id', '=', 'runs.id')
          .where(
            sql<SqlBool>`(jsonb_to_tsvector('simple', COALESCE(p.inputs, '{}'::jsonb), '["string"]')
              || jsonb_to_tsvector('simple', COALESCE(p.outputs, '{}'::jsonb), '["string"]')
              || jsonb_to_tsvector('simple', COALESCE(p.log_records, '{}'::jsonb), '["string"]'))
              @@ plainto_tsquery('simple', ${f.text})`,
          ),
      ),
    );
  }
  return eb.and(and);
}

/** Newest first, keyset-paginated on (start_time DESC NULLS LAST, id DESC). */
export async function listRuns(db: Db, f: RunFilter, limit: number, after: Keyset | undefined) {
  return db
    .selectFrom('runs')
    .select(SUMMARY_COLUMNS)
    .select(latencyMs.as('latency_ms'))
    .where((eb) => filterExpression(eb, f))
    .$if(after !== undefined, (q) =>
      q.where((eb) =>
        after!.startTime === null
          ? eb.and([eb('runs.start_time', 'is', null), eb('runs.id', '<', after!.id)])
          : eb.or([
              eb('runs.start_time', '<', after!.startTime),
              eb.and([eb('runs.start_time', '=', after!.startTime), eb('runs.id', '<', after!.id)]),
              eb('runs.start_time', 'is', null),
            ]),
      ),
    )
    .orderBy(sql`runs.start_time DESC NULLS LAST`)
    .orderBy('runs.id', 'desc')
    .limit(limit)
    .execute();
}

export type RunSummaryRow = Awaited<ReturnType<typeof listRuns>>[number];

export async function listTraceRuns(db: Db, workspaceId: string, traceId: string) {
  return db
    .selectFrom('runs')
    .select(SUMMARY_COLUMNS)
    .select(latencyMs.as('latency_ms'))
    .where('runs.workspace_id', '=', workspaceId)
    .where('runs.trace_id', '=', traceId)
    .orderBy(sql`runs.start_time ASC NULLS LAST`)
    .orderBy('runs.dotted_order')
    .orderBy('runs.id')
    .limit(10_000)
    .execute();
}

/** Runs with their payload columns (LangSmith reads return inputs/outputs in lists too). */
export async function findRunsWithPayload(db: Db, workspaceId: string, ids: string[]) {
  if (ids.length === 0) return [];
  return db
    .selectFrom('runs')
    .leftJoin('run_payloads as p', 'p.run_id', 'runs.id')
    .select(SUMMARY_COLUMNS)
    .select(latencyMs.as('latency_ms'))
    .select([
      'runs.created_at',
      'p.inputs',
      'p.outputs',
      'p.extra',
      'p.events',
      'p.otel',
      'p.log_records',
    ])
    .where('runs.workspace_id', '=', workspaceId)
    .where('runs.id', 'in', ids)
    .execute();
}

export async function findRunWithPayload(db: Db, workspaceId: string, id: string) {
  return (await findRunsWithPayload(db, workspaceId, [id]))[0];
}

export type RunWithPayloadRow = NonNullable<Awaited<ReturnType<typeof findRunWithPayload>>>;

export async function listAttachmentMeta(db: Db, runId: string) {
  return db
    .selectFrom('run_attachments')
    .select(['name', 'content_type', sql<number>`octet_length(data)`.as('size')])
    .where('run_id', '=', runId)
    .orderBy('name')
    .execute();
}

export async function findAttachment(db: Db, workspaceId: string, runId: string, name: string) {
  return db
    .selectFrom('run_attachments as a')
    .innerJoin('runs', 'runs.id', 'a.run_id')
    .select(['a.content_type', 'a.data'])
    .where('runs.workspace_id', '=', workspaceId)
    .where('a.run_id', '=', runId)
    .where('a.name', '=', name)
    .executeTakeFirst();
}

export async function projectStats(db: Db, f: RunFilter) {
  return db
    .selectFrom('runs')
    .select([
      sql<number>`count(*)`.as('run_count'),
      sql<number>`count(*) FILTER (WHERE runs.status = 'error')`.as('error_count'),
      sql<number | null>`percentile_cont(0.5) WITHIN GROUP (ORDER BY ${latencyMs})`.as(
        'latency_p50_ms',
      ),
      sql<number | null>`percentile_cont(0.95) WITHIN GROUP (ORDER BY ${latencyMs})`.as(
        'latency_p95_ms',
      ),
      sql<number>`COALESCE(sum(runs.prompt_tokens), 0)`.as('prompt_tokens'),
      sql<number>`COALESCE(sum(runs.completion_tokens), 0)`.as('completion_tokens'),
      sql<number>`COALESCE(sum(runs.total_tokens), 0)`.as('total_tokens'),
      sql<string | null>`sum(runs.cost)`.as('cost'),
    ])
    .where((eb) => filterExpression(eb, f))
    .executeTakeFirstOrThrow();
}
