/**
 * Configuration comes from the environment only, validated once at start. Every
 * failure names the variable and what was expected, so a bad deployment fails fast
 * with a message an operator can act on.
 */
import os from 'node:os';
import path from 'node:path';

export interface LoupeConfig {
  host: string;
  port: number;
  /** postgres://… when set; otherwise the embedded PGlite database under dataDir */
  databaseUrl: string | undefined;
  dataDir: string;
  initApiKey: string | undefined;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /**
   * Collector processes sharing the port (PostgreSQL only): each decodes, maps and
   * writes on its own core. 1 = a single process, no cluster. `auto` = one per core,
   * at most AUTO_WORKERS_MAX.
   */
  workers: number;
  ingest: IngestLimits;
}

export interface IngestLimits {
  /** request body cap in bytes, measured after decompression */
  maxBodyBytes: number;
  /** rows waiting for commit before new requests get 503 */
  maxPendingRows: number;
  /** rows per group-commit transaction */
  maxBatchRows: number;
  /** concurrent group-commit transactions (PostgreSQL); PGlite always uses 1 */
  writerConcurrency: number;
}

export class ConfigError extends Error {
  constructor(variable: string, problem: string) {
    super(`Invalid configuration: ${variable} ${problem}`);
    this.name = 'ConfigError';
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

function intVar(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw.trim()))
    throw new ConfigError(name, `must be a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max)
    throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

export const DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024;

/**
 * `LOUPE_WORKERS=auto` stops here: every worker holds its own connection pool
 * (LOUPE_WRITER_CONCURRENCY + 4), and PostgreSQL allows 100 connections by default.
 */
export const AUTO_WORKERS_MAX = 8;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): LoupeConfig {
  const host = env.HOST?.trim() || '127.0.0.1';
  const port = intVar(env, 'PORT', 4318, 0, 65535);

  let databaseUrl = env.DATABASE_URL?.trim() || undefined;
  if (databaseUrl !== undefined) {
    let parsed: URL;
    try {
      parsed = new URL(databaseUrl);
    } catch {
      throw new ConfigError(
        'DATABASE_URL',
        'must be a URL like postgres://user:password@host:5432/db',
      );
    }
    if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
      throw new ConfigError(
        'DATABASE_URL',
        `must start with postgres:// or postgresql://, got "${parsed.protocol}//"`,
      );
    }
    databaseUrl = parsed.toString();
  }

  const dataDir = path.resolve(env.LOUPE_DATA_DIR?.trim() || '.loupe');

  const initApiKey = env.LOUPE_INIT_API_KEY?.trim() || undefined;
  if (initApiKey !== undefined && (initApiKey.length < 16 || /\s/.test(initApiKey))) {
    throw new ConfigError(
      'LOUPE_INIT_API_KEY',
      'must be at least 16 characters without whitespace',
    );
  }

  const logLevel = (env.LOUPE_LOG_LEVEL?.trim() || 'info') as LoupeConfig['logLevel'];
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(
      'LOUPE_LOG_LEVEL',
      `must be one of ${LOG_LEVELS.join(', ')}, got "${String(logLevel)}"`,
    );
  }

  const workersRaw = env.LOUPE_WORKERS?.trim().toLowerCase() ?? '';
  if (workersRaw !== '' && workersRaw !== 'auto' && !/^\d+$/.test(workersRaw)) {
    throw new ConfigError('LOUPE_WORKERS', `must be a whole number or "auto", got "${workersRaw}"`);
  }
  const workers =
    workersRaw === 'auto'
      ? Math.max(1, Math.min(AUTO_WORKERS_MAX, os.availableParallelism()))
      : intVar(env, 'LOUPE_WORKERS', 1, 1, 64);
  if (workers > 1 && databaseUrl === undefined) {
    throw new ConfigError(
      'LOUPE_WORKERS',
      `needs DATABASE_URL: the embedded database belongs to one process (got ${workers} workers)`,
    );
  }

  return {
    host,
    port,
    databaseUrl,
    dataDir,
    initApiKey,
    logLevel,
    workers,
    ingest: {
      maxBodyBytes: intVar(
        env,
        'LOUPE_MAX_BODY_BYTES',
        DEFAULT_MAX_BODY_BYTES,
        1024,
        1024 * 1024 * 1024,
      ),
      maxPendingRows: intVar(env, 'LOUPE_MAX_PENDING_ROWS', 50_000, 1, 10_000_000),
      maxBatchRows: intVar(env, 'LOUPE_MAX_BATCH_ROWS', 2_000, 1, 100_000),
      writerConcurrency: intVar(env, 'LOUPE_WRITER_CONCURRENCY', 2, 1, 64),
    },
  };
}
