import { describe, expect, it } from 'vitest';
import os from 'node:os';
import path from 'node:path';
import { AUTO_WORKERS_MAX, ConfigError, loadConfig } from '../src/config.js';

describe('loadConfig', () => {
  it('defaults to loopback:4318 with the embedded database under ./.loupe', () => {
    const c = loadConfig({});
    expect(c.host).toBe('127.0.0.1');
    expect(c.port).toBe(4318);
    expect(c.databaseUrl).toBeUndefined();
    expect(c.dataDir).toBe(path.resolve('.loupe'));
  });

  it.each([
    [{ PORT: 'abc' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ DATABASE_URL: 'mysql://x@y/z' }, 'DATABASE_URL'],
    [{ DATABASE_URL: 'not a url' }, 'DATABASE_URL'],
    [{ LOUPE_INIT_API_KEY: 'short' }, 'LOUPE_INIT_API_KEY'],
    [{ LOUPE_LOG_LEVEL: 'loud' }, 'LOUPE_LOG_LEVEL'],
    [{ LOUPE_MAX_BODY_BYTES: '-1' }, 'LOUPE_MAX_BODY_BYTES'],
    [{ LOUPE_WORKERS: 'many' }, 'LOUPE_WORKERS'],
    [{ LOUPE_WORKERS: '0', DATABASE_URL: 'postgres://h/db' }, 'LOUPE_WORKERS'],
    // the embedded database belongs to one process
    [{ LOUPE_WORKERS: '2' }, 'LOUPE_WORKERS'],
  ])('rejects %o naming %s', (env, variable) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(variable);
  });

  it('accepts postgres URLs, HOST, PORT and LOUPE_DATA_DIR', () => {
    const c = loadConfig({
      DATABASE_URL: 'postgresql://u:p@127.0.0.1:5432/db',
      HOST: '0.0.0.0',
      PORT: '9000',
      LOUPE_DATA_DIR: '/tmp/x',
    });
    expect(c.databaseUrl).toBe('postgresql://u:p@127.0.0.1:5432/db');
    expect(c.host).toBe('0.0.0.0');
    expect(c.port).toBe(9000);
    expect(c.dataDir).toBe('/tmp/x');
  });

  it('reads LOUPE_WORKERS as a count or "auto" (one per core) with PostgreSQL', () => {
    const pg = { DATABASE_URL: 'postgres://h/db' };
    expect(loadConfig({}).workers).toBe(1);
    expect(loadConfig({ ...pg, LOUPE_WORKERS: '3' }).workers).toBe(3);
    expect(loadConfig({ ...pg, LOUPE_WORKERS: 'auto' }).workers).toBe(
      Math.min(AUTO_WORKERS_MAX, os.availableParallelism()),
    );
  });
});
