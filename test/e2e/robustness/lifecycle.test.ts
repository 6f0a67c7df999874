// The collector process as an operator sees it: SIGTERM drains in-flight work, a bad
// configuration fails fast with a message naming the variable, the admin key is
// printed once, LOUPE_INIT_API_KEY is idempotent, and health/docs endpoints answer.
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createTestDatabase,
  openDatabase,
  testBackends,
  TEST_API_KEY,
  type TestDatabase,
} from '@loupe/collector/testing';
import { generateOtlpBatches } from '../../support/robustness-otlp.js';
import {
  collectorEnv,
  freePort,
  killAllCollectors,
  spawnCollector,
  type CollectorProcess,
} from '../../support/robustness-process.js';
import { compareIds, listRunIds } from '../../support/robustness-http.js';

const KEY_LINE = /Admin API key \(shown once, store it now\): (\S+)/g;

async function start(env: Record<string, string>): Promise<CollectorProcess> {
  const proc = spawnCollector(await freePort(), env);
  await proc.waitHealthy(90_000);
  return proc;
}

async function statusWithKey(url: string, key: string): Promise<number> {
  const res = await fetch(`${url}/api/loupe/v1/runs?limit=1`, {
    headers: { 'x-api-key': key },
    signal: AbortSignal.timeout(10_000),
  });
  await res.arrayBuffer();
  return res.status;
}

afterEach(killAllCollectors);
afterAll(killAllCollectors);

describe('bad configuration fails fast', () => {
  let dataDir: string;
  beforeAll(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'loupe-robustness-config-'));
  });
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['LOUPE_INIT_API_KEY', 'short'],
    ['DATABASE_URL', 'mysql://root@127.0.0.1/loupe'],
    ['LOUPE_LOG_LEVEL', 'loud'],
    ['LOUPE_MAX_BODY_BYTES', '12abc'],
  ])('%s=%s → exit 78 with a message naming the variable', async (variable, value) => {
    // spawnCollector sets PORT itself; the case's value overrides it
    const proc = spawnCollector(0, { LOUPE_DATA_DIR: dataDir, [variable]: value });
    const t0 = Date.now();
    const exit = await Promise.race([
      proc.exited,
      sleep(30_000).then(() => ({ code: -1, signal: null })),
    ]);
    expect(exit.code, `stdout:\n${proc.stdout()}\nstderr:\n${proc.stderr()}`).toBe(78);
    expect(proc.stderr()).toContain(variable);
    expect(proc.stderr()).toMatch(/Invalid configuration/);
    expect(proc.stdout()).not.toMatch(/Loupe is running/);
    expect(Date.now() - t0).toBeLessThan(30_000);
  });
});

describe.each(testBackends())('process lifecycle (%s)', (kind) => {
  const databases: TestDatabase[] = [];
  const freshDatabase = async () => {
    const db = await createTestDatabase(kind);
    databases.push(db);
    return db;
  };
  afterAll(async () => {
    await killAllCollectors();
    for (const db of databases) await db.drop();
  });

  it('SIGTERM during an upload: the request completes with 200, its rows are committed, exit code 0', async () => {
    const db = await freshDatabase();
    const [batch] = await generateOtlpBatches({
      batches: 1,
      spansPerBatch: 2_000,
      attributeBytes: 1_024,
      format: 'protobuf',
    });
    const proc = await start(collectorEnv(db));

    // headers and the first half of the body go out, then SIGTERM, then the rest
    const req = http.request({
      host: '127.0.0.1',
      port: proc.port,
      method: 'POST',
      path: '/v1/traces',
      agent: false,
      headers: {
        'content-type': batch!.contentType,
        'content-length': batch!.body.length,
        'x-api-key': TEST_API_KEY,
      },
    });
    const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
      req.on('response', (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', reject);
      });
      req.on('error', reject);
    });
    const half = Math.floor(batch!.body.length / 2);
    req.write(batch!.body.subarray(0, half));
    await sleep(500);
    proc.child.kill('SIGTERM');
    await sleep(500);
    expect(proc.running(), 'the process exited with a request still being uploaded').toBe(true);
    req.end(batch!.body.subarray(half));

    const res = await response;
    expect(res.status, res.body).toBe(200);
    const exit = await Promise.race([
      proc.exited,
      sleep(45_000).then(() => ({ code: -1, signal: null })),
    ]);
    expect(exit, proc.stderr()).toEqual({ code: 0, signal: null });

    // the rows are there after a restart on the same database
    const again = await start(collectorEnv(db));
    const stored = await listRunIds(again.url, TEST_API_KEY);
    const cmp = compareIds(batch!.runIds, stored);
    expect(cmp).toMatchObject({ missing: [], duplicated: [], unexpected: [] });
    expect((await again.stop('SIGTERM')).code).toBe(0);
  }, 180_000);

  it('prints a generated admin key on the first start only; the key keeps working', async () => {
    const db = await freshDatabase();
    const env = {
      LOUPE_DATA_DIR: db.dataDir,
      ...(db.url === undefined ? {} : { DATABASE_URL: db.url }),
      LOUPE_LOG_LEVEL: 'warn',
    };

    const first = await start(env);
    const printed = [...first.stdout().matchAll(KEY_LINE)].map((m) => m[1]!);
    expect(printed, first.stdout()).toHaveLength(1);
    const key = printed[0]!;
    expect(await statusWithKey(first.url, key)).toBe(200);
    expect(await statusWithKey(first.url, `${key}x`)).toBe(401);
    expect(first.stderr()).not.toContain(key);
    expect((await first.stop('SIGTERM')).code).toBe(0);

    const second = await start(env);
    expect(second.stdout()).not.toMatch(/Admin API key/);
    expect(second.stdout()).not.toContain(key);
    expect(await statusWithKey(second.url, key)).toBe(200);
    expect((await second.stop('SIGTERM')).code).toBe(0);

    // LOUPE_INIT_API_KEY added later: accepted, never echoed, idempotent over restarts
    for (let i = 0; i < 2; i++) {
      const withInit = await start({ ...env, LOUPE_INIT_API_KEY: TEST_API_KEY });
      expect(withInit.stdout()).not.toMatch(KEY_LINE);
      expect(withInit.stdout() + withInit.stderr()).not.toContain(TEST_API_KEY);
      expect(await statusWithKey(withInit.url, TEST_API_KEY)).toBe(200);
      expect(await statusWithKey(withInit.url, key)).toBe(200);
      expect((await withInit.stop('SIGTERM')).code).toBe(0);
    }
  }, 240_000);

  it('with LOUPE_INIT_API_KEY from the first start: no generated key, same key across restarts', async () => {
    const db = await freshDatabase();
    for (let i = 0; i < 2; i++) {
      const proc = await start(collectorEnv(db));
      expect(proc.stdout()).not.toMatch(KEY_LINE);
      expect(proc.stdout()).toMatch(/Admin API key: the value of LOUPE_INIT_API_KEY/);
      expect(proc.stdout() + proc.stderr()).not.toContain(TEST_API_KEY);
      expect(await statusWithKey(proc.url, TEST_API_KEY)).toBe(200);
      expect((await proc.stop('SIGTERM')).code).toBe(0);
    }
  }, 180_000);

  it('serves /healthz, the OpenAPI UI at /docs and the OpenAPI document at /docs/json', async () => {
    const db = await freshDatabase();
    const proc = await start(collectorEnv(db));

    const health = await fetch(`${proc.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok', database: kind });

    const ui = await fetch(`${proc.url}/docs`, { redirect: 'follow' });
    expect(ui.status).toBe(200);
    expect(ui.headers.get('content-type')).toMatch(/text\/html/);
    expect(await ui.text()).toMatch(/swagger-ui/i);

    const doc = await fetch(`${proc.url}/docs/json`);
    expect(doc.status).toBe(200);
    const openapi = (await doc.json()) as {
      openapi: string;
      paths: Record<string, Record<string, unknown>>;
    };
    expect(openapi.openapi).toMatch(/^3\./);
    expect(openapi.paths['/api/loupe/v1/runs']).toHaveProperty('get');
    expect((await proc.stop('SIGTERM')).code).toBe(0);
  }, 120_000);
});

// PGlite is single-process: its data directory carries a pid lock (pgdata/loupe.lock).
describe.each(testBackends().filter((k) => k === 'pglite'))('data directory lock (%s)', (kind) => {
  const databases: TestDatabase[] = [];
  afterAll(async () => {
    await killAllCollectors();
    for (const db of databases) await db.drop();
  });

  it('a second collector on the same data directory fails fast and names the holder', async () => {
    const db = await createTestDatabase(kind);
    databases.push(db);
    const first = await start(collectorEnv(db));
    const second = spawnCollector(await freePort(), collectorEnv(db));
    const exit = await Promise.race([
      second.exited,
      sleep(60_000).then(() => ({ code: -1, signal: null })),
    ]);
    expect(exit.code, second.stdout()).toBe(1);
    expect(second.stderr()).toContain(`in use by process ${first.child.pid}`);
    // the first one is unharmed
    expect(await statusWithKey(first.url, TEST_API_KEY)).toBe(200);
    expect((await first.stop('SIGTERM')).code).toBe(0);
  }, 120_000);

  it('takes over a lock left by a killed process, even one that had the same pid', async () => {
    // In a container the collector is often PID 1 on every start: after a SIGKILL or an
    // OOM kill the lock file names the pid the new process has again.
    const db = await createTestDatabase(kind);
    databases.push(db);
    const lockPath = path.join(db.dataDir, 'pgdata', 'loupe.lock');
    fs.mkdirSync(path.dirname(lockPath), { recursive: true });
    fs.writeFileSync(lockPath, String(process.pid));
    const handle = await openDatabase({ databaseUrl: undefined, dataDir: db.dataDir });
    try {
      // while this process holds it, a second open in the same process is still refused
      await expect(openDatabase({ databaseUrl: undefined, dataDir: db.dataDir })).rejects.toThrow(
        /already open in this process/,
      );
    } finally {
      await handle.close();
    }
    expect(fs.existsSync(lockPath)).toBe(false);
  }, 120_000);
});
