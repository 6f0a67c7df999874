import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import { LoupeError, undecodable } from '../../../errors.js';
import { acceptRawBodies, decodeBody, mediaType } from '../../../plugins/raw-body.js';
import type { RunWriter } from '../run-writer.js';
import { parseRunsMultipart } from './multipart.js';
import {
  mapFeedbackBody,
  mapSingleRunCreate,
  mapSingleRunUpdate,
  multipartToWriteBatch,
  runsBatchToWriteBatch,
} from './langsmith-batch.js';
import type { Db } from '../../workspaces/workspaces.repository.js';
import { findFeedback } from '../../feedback/feedback.repository.js';
import { toLangSmithFeedback } from './langsmith-serialize.js';
import { feedbackRowToView } from './langsmith-views.js';

export interface LangsmithIngestOptions {
  db: Db;
  writer: RunWriter;
  maxBodyBytes: number;
  defaultProject: string;
  hide: boolean;
}

function jsonBody(raw: Buffer, request: FastifyRequest): unknown {
  const type = mediaType(request);
  if (type !== 'application/json' && type !== '') {
    throw new LoupeError(
      'UNSUPPORTED_MEDIA_TYPE',
      `Content-Type "${type}" is not supported here; send application/json`,
    );
  }
  if (raw.length === 0) throw undecodable('Body is empty; expected a JSON object');
  try {
    return JSON.parse(raw.toString('utf8')) as unknown;
  } catch (error) {
    throw undecodable(`Body is not valid JSON: ${(error as Error).message}`);
  }
}

function projectHeader(request: FastifyRequest): string | undefined {
  const v = request.headers['langsmith-project'] ?? request.headers['x-loupe-project'];
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined || s.trim() === '' ? undefined : s.trim();
}

const Accepted = Type.Object({ accepted: Type.Integer() }, { additionalProperties: true });

/**
 * LangSmith ingest: every body arrives raw so gzip/zstd/deflate bodies and chunked
 * multipart decode the same way, with the cap applied after decompression. A 2xx is
 * sent only after the writer committed the rows.
 */
export const langsmithIngestRoutes: FastifyPluginAsync<LangsmithIngestOptions> = async (
  app,
  opts,
) => {
  acceptRawBodies(app, opts.maxBodyBytes);
  const schema = (summary: string) => ({
    summary,
    tags: ['langsmith'],
    hide: opts.hide,
    response: { 202: Accepted },
  });

  app.post(
    '/runs/multipart',
    { schema: schema('LangSmith multipart run ingest') },
    async (request, reply) => {
      const { workspaceId } = app.requireIdentity(request);
      const body = await decodeBody(request, opts.maxBodyBytes);
      const ops = await parseRunsMultipart(body, String(request.headers['content-type'] ?? ''), {
        maxPartBytes: opts.maxBodyBytes,
      });
      for (const w of ops.warnings) request.log.warn(w);
      const batch = multipartToWriteBatch(ops);
      await opts.writer.write(workspaceId, projectHeader(request) ?? opts.defaultProject, batch);
      return reply
        .status(202)
        .send({ accepted: batch.runs.length + (batch.feedback?.length ?? 0) });
    },
  );

  app.post(
    '/runs/batch',
    { schema: schema('LangSmith JSON batch ingest') },
    async (request, reply) => {
      const { workspaceId } = app.requireIdentity(request);
      const { batch, warnings } = runsBatchToWriteBatch(
        jsonBody(await decodeBody(request, opts.maxBodyBytes), request),
      );
      for (const w of warnings) request.log.warn(w);
      await opts.writer.write(workspaceId, projectHeader(request) ?? opts.defaultProject, batch);
      return reply.status(202).send({ accepted: batch.runs.length });
    },
  );

  app.post('/runs', { schema: schema('Create one run (LangSmith)') }, async (request, reply) => {
    const { workspaceId } = app.requireIdentity(request);
    const run = mapSingleRunCreate(jsonBody(await decodeBody(request, opts.maxBodyBytes), request));
    await opts.writer.write(workspaceId, projectHeader(request) ?? opts.defaultProject, {
      runs: [run],
    });
    return reply.status(202).send({ accepted: 1 });
  });

  app.patch<{ Params: { id: string } }>(
    '/runs/:id',
    {
      schema: {
        ...schema('Update one run (LangSmith)'),
        params: Type.Object({ id: Type.String({ format: 'uuid' }) }),
      },
    },
    async (request, reply) => {
      const { workspaceId } = app.requireIdentity(request);
      const run = mapSingleRunUpdate(
        request.params.id,
        jsonBody(await decodeBody(request, opts.maxBodyBytes), request),
      );
      await opts.writer.write(workspaceId, projectHeader(request) ?? opts.defaultProject, {
        runs: [run],
      });
      return reply.status(202).send({ accepted: 1 });
    },
  );

  app.post(
    '/feedback',
    { schema: { summary: 'Create feedback (LangSmith)', tags: ['langsmith'], hide: opts.hide } },
    async (request) => {
      const { workspaceId } = app.requireIdentity(request);
      const feedback = mapFeedbackBody(
        jsonBody(await decodeBody(request, opts.maxBodyBytes), request),
      );
      await opts.writer.write(workspaceId, opts.defaultProject, { runs: [], feedback: [feedback] });
      const row = await findFeedback(opts.db, workspaceId, feedback.id);
      if (row === undefined) throw new LoupeError('INTERNAL', 'feedback vanished after commit');
      return toLangSmithFeedback(feedbackRowToView(row));
    },
  );
};
