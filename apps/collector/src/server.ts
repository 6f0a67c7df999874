/**
 * `npm start`: read config, build, listen, print where to send data, and drain on
 * SIGTERM/SIGINT (in-flight requests finish and their rows commit before exit).
 */
import { buildApp, NATIVE_API_PREFIX } from './app.js';
import { ConfigError, loadConfig, type LoupeConfig } from './config.js';

export async function startServer(config: LoupeConfig): Promise<void> {
  const app = await buildApp(config);
  await app.listen({ host: config.host, port: config.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;
  const base = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  const { bootstrap, database } = app.loupe;
  const lines = [
    '',
    `Loupe is running at ${base} (${database.kind === 'pglite' ? `embedded database in ${config.dataDir}` : 'PostgreSQL'})`,
    `  OTLP/HTTP endpoint:   ${base}   (OTEL_EXPORTER_OTLP_ENDPOINT; traces at /v1/traces, logs at /v1/logs)`,
    `  LANGSMITH_ENDPOINT:   ${base}/api/v1`,
    `  API docs:             ${base}/docs   (native API under ${NATIVE_API_PREFIX})`,
  ];
  if (bootstrap.createdApiKey !== undefined) {
    lines.push(
      '',
      `  Admin API key (shown once, store it now): ${bootstrap.createdApiKey}`,
      '  Send it as x-api-key: <key> or Authorization: Bearer <key>.',
    );
  } else if (config.initApiKey !== undefined) {
    lines.push('', '  Admin API key: the value of LOUPE_INIT_API_KEY');
  }
  console.log(lines.join('\n') + '\n');

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'shutting down: draining in-flight requests');
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
  await startServer(config);
}

const isEntry =
  process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/\\/g, '/'));
if (isEntry) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? `Loupe failed to start: ${error.message}` : error);
    process.exit(1);
  });
}
