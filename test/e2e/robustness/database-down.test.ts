// PostgreSQL goes away mid-load (a TCP proxy between the collector and the database
// drops every connection and refuses new ones), then comes back. Ingest must answer
// 503 + Retry-After with a google.rpc.Status body, /healthz keeps answering, the
// process survives, and after the database returns every retried batch is stored
// exactly once.
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createTestDatabase,
  testBackends,
  TEST_API_KEY,
  type TestDatabase,
} from '@loupe/collector/testing';
import {
  decodeRpcStatus,
  generateOtlpBatches,
  type OtlpBatch,
  type RpcStatus,
} from '../../support/robustness-otlp.js';
import {
  collectorEnv,
  freePort,
  killAllCollectors,
  spawnCollector,
} from '../../support/robustness-process.js';
import { startTcpProxy, type TcpProxy } from '../../support/robustness-proxy.js';
import {
  compareIds,
  deliver,
  listRunIds,
  waitUntil,
  type Attempt,
  type DeliveryResult,
} from '../../support/robustness-http.js';

// The outage needs a server-side database: PostgreSQL only (PGlite lives in-process).
const backends = testBackends().filter((k) => k === 'postgres');

const CLIENTS = 4; // clients 0-2 send protobuf, client 3 sends OTLP/JSON
const BATCHES_PER_CLIENT = 60;
const SPANS_PER_BATCH = 20;
const MIN_OUTAGE_MS = 4_000;

function statusBody(a: Attempt): RpcStatus {
  const body = a.body ?? Buffer.alloc(0);
  if (a.contentType?.startsWith('application/json')) {
    const parsed = JSON.parse(body.toString('utf8')) as unknown;
    expect(parsed).toEqual({ code: expect.any(Number), message: expect.any(String) });
    return parsed as RpcStatus;
  }
  expect(a.contentType).toMatch(/^application\/x-protobuf/);
  return decodeRpcStatus(body);
}

describe('the TCP proxy used to cut the database', () => {
  it('forwards, cuts every connection, refuses new ones, and restores on the same port', async () => {
    const echo = net.createServer((s) => s.pipe(s));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
    const echoPort = (echo.address() as net.AddressInfo).port;
    const proxy = await startTcpProxy('127.0.0.1', echoPort);
    const roundTrip = () =>
      new Promise<string>((resolve, reject) => {
        const s = net.connect(proxy.port, '127.0.0.1', () => s.write('ping'));
        s.once('data', (d) => {
          resolve(d.toString());
          s.destroy();
        });
        s.once('error', reject);
      });
    try {
      expect(await roundTrip()).toBe('ping');
      const held = net.connect(proxy.port, '127.0.0.1');
      await new Promise<void>((r) => held.once('connect', () => r()));
      const heldClosed = new Promise<void>((r) => held.once('close', () => r()));
      held.on('error', () => undefined);
      await proxy.cut();
      await heldClosed; // an open connection is dropped
      await expect(roundTrip()).rejects.toMatchObject({ code: 'ECONNREFUSED' });
      await proxy.restore();
      expect(await roundTrip()).toBe('ping');
    } finally {
      await proxy.close();
      await new Promise<void>((r) => echo.close(() => r()));
    }
  });
});

describe.each(backends)('database down mid-load (%s behind a TCP proxy)', (kind) => {
  let db: TestDatabase;
  let proxy: TcpProxy;
  let protobufBatches: OtlpBatch[];
  let jsonBatches: OtlpBatch[];

  beforeAll(async () => {
    db = await createTestDatabase(kind);
    const target = new URL(db.url!);
    proxy = await startTcpProxy(target.hostname, Number(target.port || 5432));
    [protobufBatches, jsonBatches] = await Promise.all([
      generateOtlpBatches({
        batches: BATCHES_PER_CLIENT * (CLIENTS - 1),
        spansPerBatch: SPANS_PER_BATCH,
        format: 'protobuf',
      }),
      generateOtlpBatches({
        batches: BATCHES_PER_CLIENT,
        spansPerBatch: SPANS_PER_BATCH,
        format: 'json',
      }),
    ]);
  });
  afterEach(killAllCollectors);
  afterAll(async () => {
    await killAllCollectors();
    await proxy?.close();
    await db?.drop();
  });

  it('answers 503 + Retry-After while the database is gone, keeps /healthz up, then recovers', async () => {
    const viaProxy = new URL(db.url!);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(proxy.port);
    const port = await freePort();
    const proc = spawnCollector(port, collectorEnv(db, { DATABASE_URL: viaProxy.toString() }));
    await proc.waitHealthy(90_000);

    // /healthz is polled the whole time
    const health: { status: number; at: number }[] = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const at = Date.now();
        try {
          const res = await fetch(`${proc.url}/healthz`, { signal: AbortSignal.timeout(5_000) });
          await res.arrayBuffer();
          health.push({ status: res.status, at });
        } catch {
          health.push({ status: 0, at });
        }
        await sleep(100);
      }
    })();

    const deadline = Date.now() + 180_000;
    const attempts: (Attempt & { format: 'protobuf' | 'json' })[] = [];
    const results: { batch: OtlpBatch; result: DeliveryResult }[] = [];
    let acked = 0;
    const client = async (mine: OtlpBatch[], format: 'protobuf' | 'json') => {
      for (const batch of mine) {
        const result = await deliver(() => proc.url, batch.body, {
          apiKey: TEST_API_KEY,
          contentType: batch.contentType,
          deadline,
          shouldStop: () => !proc.running(),
          onAttempt: (a) => {
            attempts.push({ ...a, format });
            if (a.status === 200) acked++;
          },
        });
        results.push({ batch, result });
      }
    };
    const clients = [
      ...Array.from({ length: CLIENTS - 1 }, (_, c) =>
        client(
          protobufBatches.filter((b) => b.index % (CLIENTS - 1) === c),
          'protobuf',
        ),
      ),
      client(jsonBatches, 'json'),
    ];
    const total = protobufBatches.length + jsonBatches.length;

    // a LangSmith batch and a query, sent while the database is away
    const lsRunId = randomUUID();
    const lsBody = Buffer.from(
      JSON.stringify({
        post: [
          {
            id: lsRunId,
            name: 'during the outage',
            run_type: 'chain',
            start_time: new Date().toISOString(),
            inputs: { q: 1 },
          },
        ],
      }),
    );
    const duringOutage: {
      what: string;
      status: number;
      retryAfter: string | null;
      body: string;
    }[] = [];
    const probe = async (what: string, init: RequestInit, path: string) => {
      const res = await fetch(`${proc.url}${path}`, {
        ...init,
        headers: { 'x-api-key': TEST_API_KEY, 'content-type': 'application/json' },
        signal: AbortSignal.timeout(30_000),
      });
      duringOutage.push({
        what,
        status: res.status,
        retryAfter: res.headers.get('retry-after'),
        body: await res.text(),
      });
    };

    let cutAt = 0;
    let restoredAt = 0;
    try {
      await waitUntil(
        () => acked >= total * 0.25 || !proc.running(),
        120_000,
        '25% of the batches acknowledged',
      );
      cutAt = Date.now();
      await proxy.cut();
      const seen503 = (format: string) =>
        attempts.some((a) => a.status === 503 && a.format === format && a.at >= cutAt);
      await waitUntil(
        () =>
          (Date.now() - cutAt >= MIN_OUTAGE_MS && seen503('protobuf') && seen503('json')) ||
          !proc.running(),
        60_000,
        'a 503 for a protobuf and for a JSON request while the database is cut',
      );
      await probe('LangSmith /runs/batch', { method: 'POST', body: lsBody }, '/api/v1/runs/batch');
      await probe('GET /api/loupe/v1/runs', { method: 'GET' }, '/api/loupe/v1/runs?limit=5');
      await proxy.restore();
      restoredAt = Date.now();
    } finally {
      await proxy.restore();
      await Promise.all(clients);
      polling = false;
      await poller;
    }

    expect(proc.running(), `collector died:\n${proc.stderr()}`).toBe(true);

    // every response was 200 or 503: no other 5xx, no dropped connection
    const statuses = new Map<number, number>();
    for (const a of attempts) statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
    expect([...statuses.keys()].sort(), JSON.stringify([...statuses])).toEqual([200, 503]);

    const unavailable = attempts.filter((a) => a.status === 503);
    for (const a of unavailable) {
      expect(Number(a.retryAfter), 'Retry-After on a 503').toBeGreaterThanOrEqual(1);
      const status = statusBody(a);
      expect(status.code).toBe(14); // UNAVAILABLE
      expect(status.message).toMatch(/database/i);
    }
    // 503s only while the database was away (plus requests already in flight at restore)
    const latest503 = Math.max(...unavailable.map((a) => a.at));
    expect(latest503).toBeLessThan(restoredAt + 5_000);
    expect(attempts.some((a) => a.status === 200 && a.at > restoredAt)).toBe(true);

    // /healthz answered 200 throughout, including during the outage
    expect(health.filter((h) => h.status !== 200)).toEqual([]);
    expect(health.filter((h) => h.at > cutAt && h.at < restoredAt).length).toBeGreaterThan(5);

    // non-OTLP routes answer 503 + Retry-After with the Loupe error envelope
    for (const p of duringOutage) {
      expect({ what: p.what, status: p.status }).toEqual({ what: p.what, status: 503 });
      expect(Number(p.retryAfter), p.what).toBeGreaterThanOrEqual(1);
      const envelope = JSON.parse(p.body) as Record<string, unknown>;
      expect(envelope).toMatchObject({
        statusCode: 503,
        code: 'LOUPE_ERR_DATABASE_UNAVAILABLE',
        error: 'Service Unavailable',
      });
      expect(Object.keys(envelope).sort()).toEqual([
        'code',
        'error',
        'message',
        'requestId',
        'statusCode',
      ]);
    }
    // …and the LangSmith batch goes through once the database is back
    const retry = await fetch(`${proc.url}/api/v1/runs/batch`, {
      method: 'POST',
      headers: { 'x-api-key': TEST_API_KEY, 'content-type': 'application/json' },
      body: lsBody,
    });
    expect(retry.status, await retry.text()).toBe(202);

    // every batch was eventually acknowledged, and stored exactly once
    expect(
      results
        .filter((r) => !r.result.ok)
        .map((r) => r.result.attempts.map((a) => `${a.status} ${a.detail ?? ''}`)),
    ).toEqual([]);
    expect(results).toHaveLength(total);
    const expected = [...protobufBatches, ...jsonBatches].flatMap((b) => b.runIds);
    expected.push(lsRunId);
    const stored = await listRunIds(proc.url, TEST_API_KEY);
    const cmp = compareIds(expected, stored);
    expect(cmp.missing).toEqual([]);
    expect(cmp.duplicated).toEqual([]);
    expect(cmp.unexpected).toEqual([]);
    expect(stored.length).toBe(new Set(expected).size);

    console.info(
      `[database-down ${kind}] outage ${restoredAt - cutAt} ms; attempts by status ${JSON.stringify([...statuses])}; ` +
        `healthz polls during outage: ${health.filter((h) => h.at > cutAt && h.at < restoredAt).length}; ` +
        `stored ${stored.length}/${expected.length}`,
    );

    const exit = await proc.stop('SIGTERM');
    expect(exit.code).toBe(0);
  }, 240_000);
});
