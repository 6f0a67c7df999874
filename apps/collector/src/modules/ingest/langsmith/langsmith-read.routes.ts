import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { badRequest, conflict, notFound } from '../../../errors.js';
import { isUuid } from '../ids.js';
import type { Db } from '../../workspaces/workspaces.repository.js';
import type { ProjectResolver } from '../../projects/projects.service.js';
import {
  deleteProject,
  insertProject,
  listProjects,
  updateProject,
} from '../../projects/projects.repository.js';
import {
  deleteFeedback,
  findFeedback,
  listFeedback,
  patchFeedback,
} from '../../feedback/feedback.repository.js';
import { findRunsWithPayload, listRuns, type RunFilter } from '../../runs/runs.repository.js';
import { decodeCursor, encodeCursor } from '../../runs/runs.service.js';
import { toLangSmithFeedback, toLangSmithProject, toLangSmithRun } from './langsmith-serialize.js';
import { feedbackRowToView, projectRowToView, runRowToView } from './langsmith-views.js';
import { isJsonObject, parseTimestamp } from './langsmith-values.js';

export interface LangsmithReadOptions {
  db: Db;
  projects: ProjectResolver;
  hide: boolean;
}

type Query = Record<string, string | string[] | undefined>;
const list = (v: string | string[] | undefined): string[] =>
  v === undefined ? [] : Array.isArray(v) ? v : [v];
const one = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);

function intParam(q: Query, name: string, fallback: number, max: number): number {
  const raw = one(q[name]);
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw))
    throw badRequest(`query parameter ${name} must be a non-negative integer, got "${raw}"`);
  return Math.min(Number(raw), max);
}

function uuidList(values: unknown, field: string): string[] {
  const arr =
    values === undefined || values === null ? [] : Array.isArray(values) ? values : [values];
  for (const v of arr)
    if (!isUuid(v)) throw badRequest(`${field} must contain UUIDs, got ${JSON.stringify(v)}`);
  return arr as string[];
}

function bodyObject(request: FastifyRequest): Record<string, unknown> {
  const b = request.body;
  if (b === undefined || b === null) return {};
  if (!isJsonObject(b)) throw badRequest('Body must be a JSON object');
  return b;
}

function timeField(value: unknown, field: string): string | undefined {
  const parsed = parseTimestamp(value);
  if (!parsed.ok) throw badRequest(`${field} ${parsed.problem}`);
  return parsed.value?.toISOString();
}

async function pageOfRuns(
  db: Db,
  workspaceId: string,
  filter: RunFilter,
  limit: number,
  cursor: string | undefined,
) {
  const rows = await listRuns(
    db,
    filter,
    limit + 1,
    cursor === undefined ? undefined : decodeCursor(cursor),
  );
  const page = rows.slice(0, limit);
  const kept = page;
  const full = await findRunsWithPayload(
    db,
    workspaceId,
    kept.map((r) => r.id),
  );
  const byId = new Map(full.map((r) => [r.id, r]));
  const runs = kept.flatMap((r) => {
    const row = byId.get(r.id);
    return row === undefined ? [] : [toLangSmithRun(runRowToView(row))];
  });
  const last = page[page.length - 1];
  const next =
    rows.length > limit && last !== undefined
      ? encodeCursor({ startTime: last.start_time, id: last.id })
      : null;
  return { runs, next };
}

/** The filter-language fields of /runs/query are not implemented: say so instead of ignoring them. */
function rejectFilterLanguage(body: Record<string, unknown>): void {
  for (const key of ['filter', 'trace_filter', 'tree_filter', 'query']) {
    const v = body[key];
    if (typeof v === 'string' && v.trim() !== '') {
      throw badRequest(
        `${key} expressions are not supported yet by Loupe; use session, run_type, trace, parent_run, is_root, error, start_time or id`,
      );
    }
  }
}

export const langsmithReadRoutes: FastifyPluginAsync<LangsmithReadOptions> = async (
  app,
  { db, projects, hide },
) => {
  const doc = (summary: string) => ({ schema: { summary, tags: ['langsmith'], hide } });

  // ---- projects ("sessions") ----
  app.post('/sessions', doc('Create a project'), async (request) => {
    const { workspaceId } = app.requireIdentity(request);
    const body = bodyObject(request);
    const upsert = one((request.query as Query).upsert) === 'true';
    if (typeof body.name !== 'string' || body.name.trim() === '')
      throw badRequest('name is required and must be a non-empty string');
    if (body.id !== undefined && !isUuid(body.id)) throw badRequest('id must be a UUID');
    const extra = isJsonObject(body.extra) ? (body.extra as Record<string, unknown>) : null;
    if (isJsonObject(body.metadata))
      Object.assign((extra ?? {}) as object, { metadata: body.metadata });
    const created = await insertProject(db, workspaceId, {
      ...(body.id === undefined ? {} : { id: body.id }),
      name: body.name,
      description: typeof body.description === 'string' ? body.description : null,
      extra,
      referenceDatasetId: isUuid(body.reference_dataset_id) ? body.reference_dataset_id : null,
    });
    let row = created;
    if (row === undefined) {
      if (!upsert) throw conflict(`A project named "${body.name}" already exists`);
      row = (await listProjects(db, workspaceId, { name: body.name, offset: 0, limit: 1 }))[0];
      if (row === undefined) throw conflict(`Project id ${String(body.id)} is taken`);
    }
    return toLangSmithProject(projectRowToView({ ...row, run_count: 0 }));
  });

  app.get('/sessions', doc('List projects'), async (request) => {
    const { workspaceId } = app.requireIdentity(request);
    const q = request.query as Query;
    const rows = await listProjects(db, workspaceId, {
      ids: uuidList(q.id, 'id'),
      ...(one(q.name) === undefined ? {} : { name: one(q.name)! }),
      ...(one(q.name_contains) === undefined ? {} : { nameContains: one(q.name_contains)! }),
      ...(one(q.reference_dataset) === undefined
        ? {}
        : { referenceDatasetId: uuidList(q.reference_dataset, 'reference_dataset')[0]! }),
      offset: intParam(q, 'offset', 0, Number.MAX_SAFE_INTEGER),
      limit: intParam(q, 'limit', 100, 1000),
    });
    return rows.map((r) => toLangSmithProject(projectRowToView(r)));
  });

  app.get<{ Params: { id: string } }>('/sessions/:id', doc('Read a project'), async (request) => {
    const { workspaceId } = app.requireIdentity(request);
    if (!isUuid(request.params.id))
      throw notFound(`Project ${String(request.params.id)} does not exist`);
    const row = (
      await listProjects(db, workspaceId, { ids: [request.params.id], offset: 0, limit: 1 })
    )[0];
    if (row === undefined) throw notFound(`Project ${String(request.params.id)} does not exist`);
    return toLangSmithProject(projectRowToView(row));
  });

  app.patch<{ Params: { id: string } }>(
    '/sessions/:id',
    doc('Update a project (null = unchanged)'),
    async (request) => {
      const { workspaceId } = app.requireIdentity(request);
      const body = bodyObject(request);
      if (!isUuid(request.params.id))
        throw notFound(`Project ${String(request.params.id)} does not exist`);
      if (
        body.name !== undefined &&
        body.name !== null &&
        (typeof body.name !== 'string' || body.name.trim() === '')
      ) {
        throw badRequest('name must be a non-empty string or null');
      }
      try {
        const row = await updateProject(db, workspaceId, request.params.id, {
          name: body.name ?? null,
          description: typeof body.description === 'string' ? body.description : null,
          extra: isJsonObject(body.extra) ? body.extra : null,
          endTime: timeField(body.end_time, 'end_time') ?? null,
        });
        if (row === undefined)
          throw notFound(`Project ${String(request.params.id)} does not exist`);
        const withCount =
          (await listProjects(db, workspaceId, { ids: [row.id], offset: 0, limit: 1 }))[0] ?? row;
        return toLangSmithProject(projectRowToView(withCount));
      } catch (error) {
        if ((error as { code?: string }).code === '23505')
          throw conflict(`A project named "${String(body.name)}" already exists`);
        throw error;
      }
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/sessions/:id',
    doc('Delete a project and its runs'),
    async (request, reply) => {
      const { workspaceId } = app.requireIdentity(request);
      if (
        !isUuid(request.params.id) ||
        !(await deleteProject(db, workspaceId, request.params.id))
      ) {
        throw notFound(`Project ${String(request.params.id)} does not exist`);
      }
      projects.forget(workspaceId, request.params.id);
      return reply.status(202).send({});
    },
  );

  // ---- runs (read) ----
  app.post('/runs/query', doc('Query runs (LangSmith listRuns)'), async (request) => {
    const { workspaceId } = app.requireIdentity(request);
    const b = bodyObject(request);
    rejectFilterLanguage(b);
    const runType = b.run_type;
    if (runType !== undefined && runType !== null && typeof runType !== 'string')
      throw badRequest('run_type must be a string');
    const filter: RunFilter = {
      workspaceId,
      ...(b.session == null ? {} : { projectIds: uuidList(b.session, 'session') }),
      ...(typeof runType === 'string' ? { runTypes: [runType] } : {}),
      ...(b.trace == null ? {} : { traceId: uuidList(b.trace, 'trace')[0]! }),
      ...(b.parent_run == null ? {} : { parentRunId: uuidList(b.parent_run, 'parent_run')[0]! }),
      ...(b.is_root === true ? { rootOnly: true } : {}),
      // is_root: false = only child runs (readRun({loadChildRuns}) throws on a parentless one)
      ...(b.is_root === false ? { childOnly: true } : {}),
      ...(typeof b.error === 'boolean' ? { hasError: b.error } : {}),
      ...(b.start_time == null ? {} : { startTimeGte: timeField(b.start_time, 'start_time')! }),
      ...(b.id == null ? {} : { ids: uuidList(b.id, 'id') }),
      ...(b.reference_example == null
        ? {}
        : { referenceExampleIds: uuidList(b.reference_example, 'reference_example') }),
    };
    const limit = typeof b.limit === 'number' && b.limit > 0 ? Math.min(b.limit, 1000) : 100;
    const cursor = typeof b.cursor === 'string' && b.cursor !== '' ? b.cursor : undefined;
    const { runs, next } = await pageOfRuns(db, workspaceId, filter, limit, cursor);
    return { runs, cursors: { next } };
  });

  app.get<{ Params: { id: string } }>('/runs/:id', doc('Read one run'), async (request) => {
    const { workspaceId } = app.requireIdentity(request);
    if (!isUuid(request.params.id))
      throw notFound(`Run ${String(request.params.id)} does not exist`);
    const row = (await findRunsWithPayload(db, workspaceId, [request.params.id]))[0];
    if (row === undefined) throw notFound(`Run ${String(request.params.id)} does not exist`);
    return toLangSmithRun(runRowToView(row));
  });

  // ---- feedback (create lives with ingest: it goes through the writer) ----
  app.get('/feedback', doc('List feedback'), async (request) => {
    const { workspaceId } = app.requireIdentity(request);
    const q = request.query as Query;
    const rows = await listFeedback(db, workspaceId, {
      runIds: uuidList(q.run, 'run'),
      keys: list(q.key),
      sourceTypes: list(q.source),
      projectIds: uuidList(q.session, 'session'),
      offset: intParam(q, 'offset', 0, Number.MAX_SAFE_INTEGER),
      limit: intParam(q, 'limit', 100, 1000),
    });
    return rows.map((r) => toLangSmithFeedback(feedbackRowToView(r)));
  });

  app.get<{ Params: { id: string } }>('/feedback/:id', doc('Read feedback'), async (request) => {
    const { workspaceId } = app.requireIdentity(request);
    const row = isUuid(request.params.id)
      ? await findFeedback(db, workspaceId, request.params.id)
      : undefined;
    if (row === undefined) throw notFound(`Feedback ${String(request.params.id)} does not exist`);
    return toLangSmithFeedback(feedbackRowToView(row));
  });

  app.patch<{ Params: { id: string } }>(
    '/feedback/:id',
    doc('Update feedback'),
    async (request) => {
      const { workspaceId } = app.requireIdentity(request);
      const b = bodyObject(request);
      if (
        b.score !== undefined &&
        b.score !== null &&
        typeof b.score !== 'number' &&
        typeof b.score !== 'boolean'
      ) {
        throw badRequest('score must be a number, a boolean or null');
      }
      if (b.comment !== undefined && b.comment !== null && typeof b.comment !== 'string')
        throw badRequest('comment must be a string or null');
      const patch: Parameters<typeof patchFeedback>[3] = {};
      if ('score' in b) patch.score = typeof b.score === 'boolean' ? (b.score ? 1 : 0) : b.score;
      if ('value' in b) patch.value = b.value;
      if ('comment' in b) patch.comment = b.comment;
      if ('correction' in b) patch.correction = b.correction;
      const row = isUuid(request.params.id)
        ? await patchFeedback(db, workspaceId, request.params.id, patch)
        : undefined;
      if (row === undefined) throw notFound(`Feedback ${String(request.params.id)} does not exist`);
      return toLangSmithFeedback(feedbackRowToView(row));
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/feedback/:id',
    doc('Delete feedback'),
    async (request, reply) => {
      const { workspaceId } = app.requireIdentity(request);
      if (
        !isUuid(request.params.id) ||
        !(await deleteFeedback(db, workspaceId, request.params.id))
      ) {
        throw notFound(`Feedback ${String(request.params.id)} does not exist`);
      }
      return reply.status(202).send({});
    },
  );
};

/** `/api/v2/runs/*` as the SDK's generated client calls them: `{items, next_cursor}`. */
export const langsmithV2Routes: FastifyPluginAsync<LangsmithReadOptions> = async (app, { db }) => {
  const doc = (summary: string) => ({ schema: { summary, tags: ['langsmith'] } });
  app.post('/runs/query', doc('Query runs (LangSmith v2)'), async (request) => {
    const { workspaceId } = app.requireIdentity(request);
    const b = bodyObject(request);
    rejectFilterLanguage(b);
    const filter: RunFilter = {
      workspaceId,
      ...(b.project_ids == null ? {} : { projectIds: uuidList(b.project_ids, 'project_ids') }),
      ...(b.min_start_time == null
        ? {}
        : { startTimeGte: timeField(b.min_start_time, 'min_start_time')! }),
      ...(b.max_start_time == null
        ? {}
        : { startTimeLt: timeField(b.max_start_time, 'max_start_time')! }),
      ...(b.is_root === true ? { rootOnly: true } : {}),
      // is_root: false = only child runs (readRun({loadChildRuns}) throws on a parentless one)
      ...(b.is_root === false ? { childOnly: true } : {}),
      ...(b.trace_id == null ? {} : { traceId: uuidList(b.trace_id, 'trace_id')[0]! }),
      ...(b.ids == null ? {} : { ids: uuidList(b.ids, 'ids') }),
    };
    const limit = typeof b.limit === 'number' && b.limit > 0 ? Math.min(b.limit, 1000) : 100;
    const cursor = typeof b.cursor === 'string' && b.cursor !== '' ? b.cursor : undefined;
    const { runs, next } = await pageOfRuns(db, workspaceId, filter, limit, cursor);
    return { items: runs, next_cursor: next };
  });

  app.get<{ Params: { id: string } }>(
    '/runs/:id',
    doc('Read one run (LangSmith v2)'),
    async (request) => {
      const { workspaceId } = app.requireIdentity(request);
      if (!isUuid(request.params.id))
        throw notFound(`Run ${String(request.params.id)} does not exist`);
      const row = (await findRunsWithPayload(db, workspaceId, [request.params.id]))[0];
      if (row === undefined) throw notFound(`Run ${String(request.params.id)} does not exist`);
      return toLangSmithRun(runRowToView(row));
    },
  );
};
