import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ErrorEnvelope, FeedbackCreate, FeedbackItem, ProjectList } from '@loupe/contracts';
import { LoupeError, notFound } from '../../errors.js';
import type { Db } from '../workspaces/workspaces.repository.js';
import type { RunWriter } from '../ingest/run-writer.js';
import { findRunWithPayload } from '../runs/runs.repository.js';
import { toFeedbackItem } from '../runs/runs.service.js';
import { listProjects } from '../projects/projects.repository.js';
import { findFeedback } from './feedback.repository.js';

const errors = { 400: ErrorEnvelope, 401: ErrorEnvelope, 404: ErrorEnvelope, 503: ErrorEnvelope };

/** Native feedback and project listing (the SDK's data client uses these). */
export const feedbackRoutes: FastifyPluginAsyncTypebox<{
  db: Db;
  writer: RunWriter;
  defaultProject: string;
}> = async (app, { db, writer, defaultProject }) => {
  app.post(
    '/feedback',
    {
      schema: {
        summary: 'Attach feedback (score, value, comment, correction) to a run',
        tags: ['feedback'],
        body: FeedbackCreate,
        response: { 201: FeedbackItem, ...errors },
      },
    },
    async (request, reply) => {
      const { workspaceId } = app.requireIdentity(request);
      const b = request.body;
      const run = await findRunWithPayload(db, workspaceId, b.run_id);
      if (run === undefined)
        throw notFound(`Run ${b.run_id} does not exist (it may not have been ingested yet)`);
      const id = b.id ?? randomUUID();
      await writer.write(workspaceId, defaultProject, {
        runs: [],
        feedback: [
          {
            id,
            runId: b.run_id,
            traceId: run.trace_id,
            projectId: run.project_id,
            key: b.key,
            score: typeof b.score === 'boolean' ? (b.score ? 1 : 0) : (b.score ?? null),
            ...(b.value === undefined ? {} : { value: b.value as never }),
            comment: b.comment ?? null,
            ...(b.correction === undefined ? {} : { correction: b.correction as never }),
            feedbackSource: (b.source ?? { type: 'api' }) as never,
          },
        ],
      });
      const row = await findFeedback(db, workspaceId, id);
      if (row === undefined) throw new LoupeError('INTERNAL', 'feedback vanished after commit');
      return reply.status(201).send(toFeedbackItem(row));
    },
  );

  app.get(
    '/projects',
    {
      schema: {
        summary: 'List projects with their root-run counts',
        tags: ['projects'],
        response: { 200: ProjectList, ...errors },
      },
    },
    async (request) => {
      const { workspaceId } = app.requireIdentity(request);
      const rows = await listProjects(db, workspaceId, { offset: 0, limit: 1000 });
      return {
        projects: rows.map((r) => ({
          id: r.id,
          name: r.name,
          description: r.description,
          created_at: r.created_at,
          run_count: Number(r.run_count ?? 0),
        })),
      };
    },
  );
};
