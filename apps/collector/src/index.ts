export { buildApp, DEFAULT_PROJECT, NATIVE_API_PREFIX, type BuildAppOptions } from './app.js';
export { loadConfig, ConfigError, type LoupeConfig, type IngestLimits } from './config.js';
export { openDatabase, type DatabaseHandle, type DatabaseKind } from './db/database.js';
export { migrateToLatest } from './db/migrate.js';
export { runIdFromOtel, traceIdFromOtel, hexToUuid } from './modules/ingest/ids.js';
export { serve, startServer } from './server.js';
export { decodeTraceRequest } from './modules/ingest/otlp/otlp-decode.js';
export { mapSpans } from './modules/ingest/otlp/otlp-map.js';
export type { RunUpsert } from './modules/ingest/run-upsert.js';
