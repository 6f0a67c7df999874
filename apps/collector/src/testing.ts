/**
 * Helpers for tests of the collector and of the end-to-end suites: a fresh database
 * on each available backend (PGlite always; PostgreSQL when TEST_DATABASE_URL is
 * set) and a collector listening on a loopback port. Exported as
 * `@loupe/collector/testing`; not part of the runtime.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { FastifyInstance } from 'fastify';
import { loadConfig, type LoupeConfig } from './config.js';
import { openDatabase, type DatabaseHandle } from './db/database.js';

export const TEST_API_KEY = 'lp_test_0123456789abcdefghijklmnopqrstuv';

/** Child process ids of `pid` (Linux /proc; [] elsewhere or once it has exited). */
export function childProcesses(pid: number): number[] {
  try {
    return fs
      .readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

export interface TestDatabase {
  kind: 'pglite' | 'postgres';
  /** postgres://… for PostgreSQL, undefined for PGlite */
  url: string | undefined;
  dataDir: string;
  drop(): Promise<void>;
}

export type DatabaseKindName = TestDatabase['kind'];

/** The backends this run tests: always PGlite, PostgreSQL when TEST_DATABASE_URL is set. */
export function testBackends(): DatabaseKindName[] {
  return process.env.TEST_DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];
}

/** A fresh, empty database of the given kind (its own temp dir / its own PostgreSQL database). */
export async function createTestDatabase(kind: DatabaseKindName): Promise<TestDatabase> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'loupe-test-'));
  if (kind === 'pglite') {
    return {
      kind,
      url: undefined,
      dataDir,
      drop: async () => fs.rmSync(dataDir, { recursive: true, force: true }),
    };
  }
  const adminUrl = process.env.TEST_DATABASE_URL;
  if (!adminUrl) throw new Error('TEST_DATABASE_URL is not set');
  const name = `loupe_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    kind,
    url: url.toString(),
    dataDir,
    drop: async () => {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function testConfig(db: TestDatabase, env: Record<string, string> = {}): LoupeConfig {
  return loadConfig({
    PORT: '0',
    LOUPE_DATA_DIR: db.dataDir,
    LOUPE_INIT_API_KEY: TEST_API_KEY,
    LOUPE_LOG_LEVEL: 'silent',
    ...(db.url === undefined ? {} : { DATABASE_URL: db.url }),
    ...env,
  });
}

export interface TestServer {
  app: FastifyInstance;
  /** http://127.0.0.1:<port> */
  url: string;
  apiKey: string;
  database: TestDatabase;
  close(): Promise<void>;
}

/** A collector on a fresh database, listening on 127.0.0.1:<random port>. */
export async function startTestServer(
  kind: DatabaseKindName,
  env: Record<string, string> = {},
): Promise<TestServer> {
  const database = await createTestDatabase(kind);
  const config = testConfig(database, env);
  // loaded lazily so database-only tests do not pull in the whole app
  const { buildApp } = await import('./app.js');
  const app = await buildApp(config, { logger: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    app,
    url: `http://127.0.0.1:${port}`,
    apiKey: TEST_API_KEY,
    database,
    async close() {
      await app.close();
      await database.drop();
    },
  };
}

export { openDatabase, type DatabaseHandle };
