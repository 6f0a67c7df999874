import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  ErrorEnvelope,
  ProjectStats,
  ProjectStatsQuery,
  RunDetail,
  RunListQuery,
  RunListResponse,
  TraceResponse,
  Uuid,
} from '@loupe/contracts';
import { badRequest, notFound } from '../../errors.js';
import { isUuid } from '../ingest/ids.js';
import type { Db } from '../workspaces/workspaces.repository.js';
import { findProjectById, findProjectByName } from '../projects/projects.repository.js';
import { feedbackForRun } from '../feedback/feedback.repository.js';
import {
  findAttachment,
  findRunWithPayload,
  listAttachmentMeta,
  listRuns,
  listTraceRuns,
  projectStats,
  type RunFilter,
} from './runs.repository.js';
import {
  buildTraceTree,
  decodeCursor,
  encodeCursor,
  toRunDetail,
  toRunSummary,
} from './runs.service.js';

const errors = { 400: ErrorEnvelope, 401: ErrorEnvelope, 404: ErrorEnvelope, 503: ErrorEnvelope };
const asList = (v: string | string[] | undefined) =>
  v === undefined ? [] : Array.isArray(v) ? v : [v];

/** `key=value`; the value is read as JSON when it parses (numbers, booleans), else as a string. */
function parseMetadataFilter(raw: string): Record<string, unknown> {
  const eq = raw.indexOf('=');
  if (eq <= 0) throw badRequest(`metadata filter "${raw}" must look like key=value`);
  const key = raw.slice(0, eq);
  const text = raw.slice(eq + 1);
  let value: unknown = text;
  if (/^(-?\d+(\.\d+)?|true|false|null)$/.test(text)) value = JSON.parse(text);
  return { [key]: value };
}

async function resolveProjectId(db: Db, workspaceId: string, project: string): Promise<string> {
  const row = isUuid(project)
    ? ((await findProjectById(db, workspaceId, project)) ??
      (await findProjectByName(db, workspaceId, project)))
    : await findProjectByName(db, workspaceId, project);
  if (row === undefined) throw notFound(`Project "${project}" does not exist in this workspace`);
  return row.id;
}

export const runsRoutes: FastifyPluginAsyncTypebox<{ db: Db }> = async (app, { db }) => {
  app.get(
    '/runs',
    {
      schema: {
        summary: 'List runs with filters, newest first (keyset pagination)',
        tags: ['runs'],
        querystring: RunListQuery,
        response: { 200: RunListResponse, ...errors },
      },
    },
    async (request) => {
      const { workspaceId } = app.requireIdentity(request);
      const q = request.query;
      const filter: RunFilter = {
        workspaceId,
        ...(q.project === undefined
          ? {}
          : { projectId: await resolveProjectId(db, workspaceId, q.project) }),
        ...(q.run_type === undefined
          ? {}
          : { runTypes: q.run_type.split(',').map((s) => s.trim()) }),
        name: q.name,
        status: q.status,
        hasError: q.error,
        tags: asList(q.tag),
        metadata: asList(q.metadata).map(parseMetadataFilter),
        startTimeGte: q.start_time_gte,
        startTimeLt: q.start_time_lt,
        feedbackKey: q.feedback_key,
        feedbackScoreGte: q.feedback_score_gte,
        feedbackScoreLte: q.feedback_score_lte,
        rootOnly: q.root,
        traceId: q.trace_id,
        sessionId: q.session_id,
        userId: q.user_id,
        text: q.q,
      };
      const limit = q.limit ?? 50;
      const rows = await listRuns(
        db,
        filter,
        limit + 1,
        q.cursor === undefined ? undefined : decodeCursor(q.cursor),
      );
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      return {
        runs: page.map(toRunSummary),
        next_cursor:
          rows.length > limit && last !== undefined
            ? encodeCursor({ startTime: last.start_time, id: last.id })
            : null,
      };
    },
  );

  app.get(
    '/runs/:id',
    {
      schema: {
        summary: 'One run with inputs, outputs, attachments and feedback',
        tags: ['runs'],
        params: Type.Object({ id: Uuid }),
        response: { 200: RunDetail, ...errors },
      },
    },
    async (request) => {
      const { workspaceId } = app.requireIdentity(request);
      const row = await findRunWithPayload(db, workspaceId, request.params.id);
      if (row === undefined) throw notFound(`Run ${request.params.id} does not exist`);
      const [attachments, feedback] = await Promise.all([
        listAttachmentMeta(db, row.id),
        feedbackForRun(db, workspaceId, row.id),
      ]);
      return toRunDetail(row, attachments, feedback);
    },
  );

  app.get(
    '/runs/:id/attachments/:name',
    {
      schema: {
        summary: 'Download one attachment of a run',
        tags: ['runs'],
        params: Type.Object({ id: Uuid, name: Type.String() }),
      },
    },
    async (request, reply) => {
      const { workspaceId } = app.requireIdentity(request);
      const row = await findAttachment(db, workspaceId, request.params.id, request.params.name);
      if (row === undefined)
        throw notFound(`Run ${request.params.id} has no attachment "${request.params.name}"`);
      return reply
        .type(row.content_type)
        .header('content-disposition', 'attachment')
        .send(row.data);
    },
  );

  app.get(
    '/traces/:traceId',
    {
      schema: {
        summary: 'A trace as a tree of runs',
        tags: ['runs'],
        params: Type.Object({ traceId: Uuid }),
        response: { 200: TraceResponse, ...errors },
      },
    },
    async (request) => {
      const { workspaceId } = app.requireIdentity(request);
      const rows = await listTraceRuns(db, workspaceId, request.params.traceId);
      if (rows.length === 0) throw notFound(`Trace ${request.params.traceId} has no runs`);
      return buildTraceTree(request.params.traceId, rows);
    },
  );

  app.get(
    '/projects/:project/stats',
    {
      schema: {
        summary:
          'Run count, error rate, latency p50/p95, tokens and cost of a project over a time range',
        tags: ['projects'],
        params: Type.Object({ project: Type.String({ description: 'project id or name' }) }),
        querystring: ProjectStatsQuery,
        response: { 200: ProjectStats, ...errors },
      },
    },
    async (request) => {
      const { workspaceId } = app.requireIdentity(request);
      const projectId = await resolveProjectId(db, workspaceId, request.params.project);
      const q = request.query;
      const s = await projectStats(db, {
        workspaceId,
        projectId,
        startTimeGte: q.start_time_gte,
        startTimeLt: q.start_time_lt,
        rootOnly: q.root,
      });
      const runCount = Number(s.run_count);
      const errorCount = Number(s.error_count);
      return {
        project_id: projectId,
        start_time_gte: q.start_time_gte ?? null,
        start_time_lt: q.start_time_lt ?? null,
        run_count: runCount,
        error_count: errorCount,
        error_rate: runCount === 0 ? null : errorCount / runCount,
        latency_p50_ms: s.latency_p50_ms === null ? null : Number(s.latency_p50_ms),
        latency_p95_ms: s.latency_p95_ms === null ? null : Number(s.latency_p95_ms),
        prompt_tokens: Number(s.prompt_tokens),
        completion_tokens: Number(s.completion_tokens),
        total_tokens: Number(s.total_tokens),
        cost: s.cost === null ? null : Number(s.cost),
      };
    },
  );
};
