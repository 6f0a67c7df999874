import Fastify, { LogController, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { LoupeConfig } from './config.js';
import { openDatabase, type DatabaseHandle } from './db/database.js';
import { migrateToLatest } from './db/migrate.js';
import { errorHandlerPlugin } from './plugins/error-handler.plugin.js';
import { authPlugin } from './plugins/auth.plugin.js';
import {
  bootstrapWorkspace,
  type BootstrapResult,
} from './modules/workspaces/bootstrap.service.js';
import { ProjectResolver } from './modules/projects/projects.service.js';
import { RunWriter } from './modules/ingest/run-writer.js';
import { otlpRoutes } from './modules/ingest/otlp/otlp.routes.js';
import { langsmithRoutes } from './modules/ingest/langsmith/langsmith.routes.js';
import { runsRoutes } from './modules/runs/runs.routes.js';
import { feedbackRoutes } from './modules/feedback/feedback.routes.js';

export const NATIVE_API_PREFIX = '/api/loupe/v1';
export const DEFAULT_PROJECT = 'default';

declare module 'fastify' {
  interface FastifyInstance {
    loupe: {
      database: DatabaseHandle;
      bootstrap: BootstrapResult;
      writer: RunWriter;
      projects: ProjectResolver;
    };
  }
}

export interface BuildAppOptions {
  /** a database opened by the caller (tests share one); the app then does not close it */
  database?: DatabaseHandle;
  logger?: boolean;
}

/**
 * Registers every plugin and module and returns the instance without listening
 * (server.ts listens; tests use inject or listen on port 0). Migrations and
 * workspace bootstrap run here, so a built app is a ready app.
 */
export async function buildApp(
  config: LoupeConfig,
  options: BuildAppOptions = {},
): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger === false ? false : { level: config.logLevel },
    bodyLimit: config.ingest.maxBodyBytes,
    routerOptions: { ignoreTrailingSlash: true },
    requestIdHeader: 'x-request-id',
    // in-flight requests finish on close; idle keep-alive sockets are dropped
    forceCloseConnections: 'idle',
    // one line per request at info is noise for an ingest server; errors are still logged
    logController: new LogController({ disableRequestLogging: true }),
  }).withTypeProvider<TypeBoxTypeProvider>();

  const ownsDatabase = options.database === undefined;
  const database =
    options.database ??
    (await openDatabase({
      databaseUrl: config.databaseUrl,
      dataDir: config.dataDir,
      poolSize: config.ingest.writerConcurrency + 4,
    }));
  try {
    await migrateToLatest(database.db);
    const bootstrap = await bootstrapWorkspace(database.db, config.initApiKey);
    const projects = new ProjectResolver(database.db);
    const writer = new RunWriter(
      database.db,
      projects,
      {
        maxPendingRows: config.ingest.maxPendingRows,
        maxBatchRows: config.ingest.maxBatchRows,
        concurrency: Math.min(config.ingest.writerConcurrency, database.writeConcurrency),
        ...(database.kind === 'postgres' ? { copyPool: database.pool } : {}),
      },
      app.log,
    );
    app.decorate('loupe', { database, bootstrap, writer, projects });
  } catch (error) {
    if (ownsDatabase) await database.close();
    throw error;
  }

  app.addHook('onClose', async () => {
    await app.loupe.writer.drain();
    if (ownsDatabase) await database.close();
  });

  await app.register(errorHandlerPlugin);
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Loupe API',
        version: '0.1.0',
        description:
          'Native query API of Loupe. Ingest: OTLP/HTTP at /v1/traces and /v1/logs; LangSmith-compatible API under /api/v1 (and the root spelling).',
      },
      components: {
        securitySchemes: {
          apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' },
          bearer: { type: 'http', scheme: 'bearer' },
        },
      },
      security: [{ apiKey: [] }, { bearer: [] }],
    },
  });
  // swagger-ui's own routes must stay public
  app.addHook('onRoute', (route) => {
    if (route.url.startsWith('/docs')) route.config = { ...(route.config ?? {}), public: true };
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list' } });
  await app.register(authPlugin, { db: database.db });

  app.get('/healthz', { config: { public: true }, schema: { hide: true } }, async () => {
    return { status: 'ok', database: database.kind };
  });

  const db = database.db;
  const writer = app.loupe.writer;
  await app.register(runsRoutes, { prefix: NATIVE_API_PREFIX, db });
  await app.register(feedbackRoutes, {
    prefix: NATIVE_API_PREFIX,
    db,
    writer,
    defaultProject: DEFAULT_PROJECT,
  });
  await app.register(otlpRoutes, {
    writer,
    maxBodyBytes: config.ingest.maxBodyBytes,
    defaultProject: DEFAULT_PROJECT,
  });
  await app.register(langsmithRoutes, {
    db,
    writer,
    projects: app.loupe.projects,
    maxBodyBytes: config.ingest.maxBodyBytes,
    defaultProject: DEFAULT_PROJECT,
  });
  return app;
}
