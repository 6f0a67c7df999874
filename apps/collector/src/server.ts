/**
 * `npm start`: read config, build, listen, print where to send data, and drain on
 * SIGTERM/SIGINT (in-flight requests finish and their rows commit before exit).
 *
 * With LOUPE_WORKERS > 1 (PostgreSQL only) this process becomes a small supervisor
 * (cluster.ts) and the collectors run as worker processes sharing the port.
 */
import cluster from 'node:cluster';
import os from 'node:os';
import { buildApp, NATIVE_API_PREFIX } from './app.js';
import { runCluster, type WorkerReady } from './cluster.js';
import { ConfigError, loadConfig, type LoupeConfig } from './config.js';

/** What the startup banner says: where to send data and, on first start, the admin key. */
export function banner(config: LoupeConfig, ready: WorkerReady, workers = 1): string {
  const base = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${ready.port}`;
  const where =
    ready.databaseKind === 'pglite' ? `embedded database in ${config.dataDir}` : 'PostgreSQL';
  const lines = [
    '',
    `Loupe is running at ${base} (${where}${workers > 1 ? `, ${workers} worker processes` : ''})`,
    `  OTLP/HTTP endpoint:   ${base}   (OTEL_EXPORTER_OTLP_ENDPOINT; traces at /v1/traces, logs at /v1/logs)`,
    `  LANGSMITH_ENDPOINT:   ${base}/api/v1`,
    `  API docs:             ${base}/docs   (native API under ${NATIVE_API_PREFIX})`,
  ];
  const cores = os.availableParallelism();
  if (ready.databaseKind === 'postgres' && workers === 1 && cores > 1) {
    lines.push(
      `  Ingest uses one core; LOUPE_WORKERS=auto runs one collector process per core (${cores}).`,
    );
  }
  if (ready.createdApiKey !== undefined) {
    lines.push(
      '',
      `  Admin API key (shown once, store it now): ${ready.createdApiKey}`,
      '  Send it as x-api-key: <key> or Authorization: Bearer <key>.',
    );
  } else if (config.initApiKey !== undefined) {
    lines.push('', '  Admin API key: the value of LOUPE_INIT_API_KEY');
  }
  return lines.join('\n') + '\n';
}

/**
 * Builds the collector, listens and drains on SIGTERM/SIGINT. `announce: false` in a
 * cluster worker: the supervisor prints the banner once, from what the worker reports.
 */
export async function startServer(
  config: LoupeConfig,
  options: { announce?: boolean } = {},
): Promise<WorkerReady> {
  const app = await buildApp(config);
  await app.listen({ host: config.host, port: config.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;
  const ready: WorkerReady = {
    type: 'loupe:ready',
    port,
    databaseKind: app.loupe.database.kind,
    ...(app.loupe.bootstrap.createdApiKey === undefined
      ? {}
      : { createdApiKey: app.loupe.bootstrap.createdApiKey }),
  };
  if (options.announce !== false) console.log(banner(config, ready));

  let stopping = false;
  const stop = (reason: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ reason }, 'shutting down: draining in-flight requests');
    const force = setTimeout(() => {
      app.log.error('shutdown took longer than 30 s; exiting');
      process.exit(1);
    }, 30_000);
    force.unref();
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        app.log.error({ err: error }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // a cluster worker whose supervisor is gone (killed) drains and exits instead of
  // serving on unsupervised
  if (cluster.isWorker) process.on('disconnect', () => stop('supervisor exited'));
  return ready;
}

/** Runs the collector per config: one process, a cluster supervisor, or a cluster worker. */
export async function serve(config: LoupeConfig): Promise<void> {
  if (cluster.isWorker) {
    const ready = await startServer(config, { announce: false });
    process.send?.(ready);
  } else if (config.workers > 1) {
    await runCluster(config, (ready) => console.log(banner(config, ready, config.workers)));
  } else {
    await startServer(config);
  }
}

async function main(): Promise<void> {
  let config: LoupeConfig;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
  await serve(config);
}

const isEntry =
  process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/\\/g, '/'));
if (isEntry) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? `Loupe failed to start: ${error.message}` : error);
    process.exit(1);
  });
}
