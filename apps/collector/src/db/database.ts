import path from 'node:path';
import pg from 'pg';
import { CompiledQuery, Kysely, PostgresDialect } from 'kysely';
import type { Database } from './schema.js';
import { startPgliteHost, type PgliteHost } from './pglite-host.js';

export type DatabaseKind = 'pglite' | 'postgres';

export interface DatabaseHandle {
  kind: DatabaseKind;
  db: Kysely<Database>;
  pool: pg.Pool;
  /** concurrent write transactions this backend can usefully run */
  writeConcurrency: number;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  databaseUrl: string | undefined;
  dataDir: string;
  /** pool size for PostgreSQL */
  poolSize?: number;
}

const TIMESTAMPTZ_OID = 1184;
const TIMESTAMP_OID = 1114;
const INT8_OID = 20;

/** '2026-11-27 05:56:06.770001+00' → '2026-11-27T05:56:06.770001Z' (sessions run in UTC). */
export function pgTimestampToIso(value: string): string {
  const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(\.\d+)?(?:\+00(?::00)?)?$/.exec(value);
  if (m === null) return new Date(value).toISOString();
  const frac = (m[3] ?? '.000').padEnd(4, '0');
  return `${m[1]}T${m[2]}${frac}Z`;
}

const typeParsers: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) => {
    if (oid === TIMESTAMPTZ_OID || oid === TIMESTAMP_OID) return pgTimestampToIso;
    // counts fit in a double; keeps arithmetic simple in services
    if (oid === INT8_OID) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format as 'text') as (v: string) => unknown;
  }) as pg.CustomTypesConfig['getTypeParser'],
};

const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  '57P01',
  '57P02',
  '57P03',
  '53300',
]);

/**
 * True when `error` means the database cannot be reached right now (network, restart,
 * shutdown, too many connections): the request may succeed later (→ 503), unlike an
 * error caused by the query or its data.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown } | null | undefined;
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = typeof e?.message === 'string' ? e.message : String(error);
  return (
    UNAVAILABLE_CODES.has(code) ||
    code.startsWith('08') ||
    /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|connect ECONNREFUSED/i.test(
      message,
    )
  );
}

export async function openDatabase(options: OpenDatabaseOptions): Promise<DatabaseHandle> {
  let host: PgliteHost | undefined;
  let pool: pg.Pool;
  let kind: DatabaseKind;
  if (options.databaseUrl !== undefined) {
    kind = 'postgres';
    pool = new pg.Pool({
      connectionString: options.databaseUrl,
      max: options.poolSize ?? 8,
      types: typeParsers,
      connectionTimeoutMillis: 5_000,
      // keep a stuck statement from pinning a connection forever
      statement_timeout: 60_000,
    });
  } else {
    kind = 'pglite';
    host = await startPgliteHost(path.join(options.dataDir, 'pgdata'));
    pool = new pg.Pool({
      host: '127.0.0.1',
      port: host.port,
      user: 'postgres',
      database: 'postgres',
      max: 1,
      types: typeParsers,
      connectionTimeoutMillis: 60_000,
    });
  }
  // An idle client that errors (server restart, network) must not crash the process.
  pool.on('error', () => undefined);
  // A checked-out client has no pool listener: a connection error while a request holds
  // it (database restart, network cut between two statements of a transaction) would be
  // an unhandled 'error' event and kill the process. The pending query still rejects
  // (→ 503) and the pool discards the broken client when it is released.
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
  });
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({
      pool,
      // Timestamps are parsed from text (µs kept); make that text always UTC.
      onCreateConnection: async (conn) => {
        await conn.executeQuery(CompiledQuery.raw("SET TIME ZONE 'UTC'"));
      },
    }),
  });
  let closed: Promise<void> | undefined;
  return {
    kind,
    db,
    pool,
    writeConcurrency: kind === 'pglite' ? 1 : Math.max(1, Math.min(4, (options.poolSize ?? 8) - 2)),
    close() {
      closed ??= (async () => {
        await db.destroy();
        await host?.close();
      })();
      return closed;
    },
  };
}
