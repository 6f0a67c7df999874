import type { FastifyPluginAsync } from 'fastify';
import type { Db } from '../../workspaces/workspaces.repository.js';
import type { ProjectResolver } from '../../projects/projects.service.js';
import type { RunWriter } from '../run-writer.js';
import { langsmithIngestRoutes } from './langsmith-ingest.routes.js';
import { langsmithReadRoutes, langsmithV2Routes } from './langsmith-read.routes.js';
import { SUPPORTED_ENCODINGS } from '../../../plugins/raw-body.js';

export interface LangsmithRoutesOptions {
  db: Db;
  writer: RunWriter;
  projects: ProjectResolver;
  maxBodyBytes: number;
  defaultProject: string;
}

/**
 * The LangSmith-compatible API, mounted at /api/v1 (documented) and at the root
 * spelling (hidden from the docs; same handlers) because the SDK appends paths to
 * whatever LANGSMITH_ENDPOINT says. /api/v2 routes are absolute in the SDK.
 */
export const langsmithRoutes: FastifyPluginAsync<LangsmithRoutesOptions> = async (app, opts) => {
  for (const [prefix, hide] of [
    ['/api/v1', false],
    ['', true],
  ] as const) {
    await app.register(
      async (scope) => {
        scope.get(
          '/info',
          {
            config: { public: true },
            schema: { summary: 'Server capabilities (LangSmith)', tags: ['langsmith'], hide },
          },
          async () => ({
            version: '0.18.0',
            license_expiration_time: null,
            batch_ingest_config: {
              use_multipart_endpoint: true,
              scale_up_qsize_trigger: 1000,
              scale_up_nthreads_limit: 16,
              scale_down_nempty_trigger: 4,
              size_limit: 100,
              size_limit_bytes: Math.min(opts.maxBodyBytes, 20 * 1024 * 1024),
            },
            instance_flags: {
              dataset_examples_multipart_enabled: true,
              gzip_body_enabled: true,
              zstd_compression_enabled: SUPPORTED_ENCODINGS.includes('zstd'),
              ch_query_enabled: true,
              sdb_query_enabled: false,
            },
          }),
        );
        await scope.register(langsmithIngestRoutes, { ...opts, hide });
        await scope.register(langsmithReadRoutes, { db: opts.db, projects: opts.projects, hide });
      },
      { prefix },
    );
  }
  await app.register(langsmithV2Routes, {
    prefix: '/api/v2',
    db: opts.db,
    projects: opts.projects,
    hide: false,
  });
};
