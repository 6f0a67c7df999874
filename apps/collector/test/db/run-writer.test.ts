import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { openDatabase, type DatabaseHandle } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { bootstrapWorkspace } from '../../src/modules/workspaces/bootstrap.service.js';
import { ProjectResolver } from '../../src/modules/projects/projects.service.js';
import { RunWriter } from '../../src/modules/ingest/run-writer.js';
import { findRunWithPayload, listTraceRuns } from '../../src/modules/runs/runs.repository.js';
import {
  createTestDatabase,
  testBackends,
  type DatabaseKindName,
  type TestDatabase,
} from '../../src/testing.js';
import type { RunUpsert } from '../../src/modules/ingest/run-upsert.js';

const silentLog = { warn() {}, error() {}, info() {}, debug() {} } as never;

/**
 * Every write path: PGlite upserts; PostgreSQL copies new runs (runs-copy.repository.ts)
 * and upserts stored ones — and is also tested with the upsert path alone.
 */
const PATHS: Array<[DatabaseKindName, 'copy' | 'upsert']> = testBackends().flatMap(
  (kind): Array<[DatabaseKindName, 'copy' | 'upsert']> =>
    kind === 'postgres'
      ? [
          [kind, 'copy'],
          [kind, 'upsert'],
        ]
      : [[kind, 'upsert']],
);

describe.each(PATHS)('RunWriter on %s (%s)', (kind, path) => {
  let tdb: TestDatabase;
  let handle: DatabaseHandle;
  let writer: RunWriter;
  let ws: string;

  beforeAll(async () => {
    tdb = await createTestDatabase(kind);
    handle = await openDatabase({ databaseUrl: tdb.url, dataDir: tdb.dataDir });
    await migrateToLatest(handle.db);
    ws = (await bootstrapWorkspace(handle.db, 'lp_writer_test_key_0123456789')).workspaceId;
    writer = new RunWriter(
      handle.db,
      new ProjectResolver(handle.db),
      {
        maxPendingRows: 10_000,
        maxBatchRows: 500,
        concurrency: handle.writeConcurrency,
        ...(path === 'copy' ? { copyPool: handle.pool } : {}),
      },
      silentLog,
    );
  });
  afterAll(async () => {
    await handle?.close();
    await tdb?.drop();
  });

  const get = (id: string) => findRunWithPayload(handle.db, ws, id);

  it('child before parent, patch before post and duplicates converge to one tree', async () => {
    const trace = randomUUID();
    const parent = randomUUID();
    const child = randomUUID();
    const t0 = new Date('2026-11-27T10:00:00.000Z');
    const t1 = new Date('2026-11-27T10:00:01.000Z');
    // child's end arrives first (patch-before-post), then the child post, then the parent twice
    await writer.write(ws, 'conv', {
      runs: [{ id: child, traceId: trace, parentRunId: parent, endTime: t1, outputs: { a: 1 } }],
    });
    await writer.write(ws, 'conv', {
      runs: [
        {
          id: child,
          traceId: trace,
          parentRunId: parent,
          name: 'child',
          runType: 'tool',
          startTime: t0,
          inputs: { q: 'x' },
          tags: ['c'],
        },
      ],
    });
    const parentPost: RunUpsert = {
      id: parent,
      traceId: trace,
      name: 'parent',
      runType: 'chain',
      startTime: t0,
      inputs: { question: 'hi' },
      metadata: { a: 1 },
    };
    await writer.write(ws, 'conv', { runs: [parentPost] });
    await writer.write(ws, 'conv', { runs: [parentPost] });
    // the parent's patch carries no inputs: stored inputs must survive
    await writer.write(ws, 'conv', {
      runs: [
        {
          id: parent,
          traceId: trace,
          endTime: t1,
          outputs: { answer: 42 },
          metadata: { b: 2 },
          tags: ['p'],
        },
      ],
    });

    const rows = await listTraceRuns(handle.db, ws, trace);
    expect(rows.map((r) => r.id).sort()).toEqual([parent, child].sort());
    const c = (await get(child))!;
    expect(c).toMatchObject({
      name: 'child',
      run_type: 'tool',
      parent_run_id: parent,
      status: 'success',
      inputs: { q: 'x' },
      outputs: { a: 1 },
      tags: ['c'],
    });
    expect(c.start_time).toBe('2026-11-27T10:00:00.000Z');
    expect(c.end_time).toBe('2026-11-27T10:00:01.000Z');
    const p = (await get(parent))!;
    expect(p).toMatchObject({
      name: 'parent',
      status: 'success',
      inputs: { question: 'hi' },
      outputs: { answer: 42 },
      metadata: { a: 1, b: 2 },
      tags: ['p'],
    });
    expect(p.latency_ms).toBe(1000);
  });

  it('an error anywhere makes the run errored; a later update without error keeps it', async () => {
    const id = randomUUID();
    await writer.write(ws, 'conv', {
      runs: [{ id, traceId: id, name: 'e', startTime: new Date(), error: 'Error: boom' }],
    });
    await writer.write(ws, 'conv', { runs: [{ id, traceId: id, endTime: new Date() }] });
    expect(await get(id)).toMatchObject({ status: 'error', error: 'Error: boom' });
  });

  it('group-commits concurrent requests and folds repeated ids within a group', async () => {
    const before = writer.getStats().committedTransactions;
    const ids = Array.from({ length: 40 }, () => randomUUID());
    await Promise.all(
      ids.map((id, i) =>
        writer.write(ws, 'group', {
          runs: [
            { id, traceId: id, name: `r${i}`, startTime: new Date(), inputs: { i } },
            { id, traceId: id, endTime: new Date(), outputs: { i } },
          ],
        }),
      ),
    );
    const after = writer.getStats().committedTransactions;
    // 40 concurrent requests must not need 40 transactions
    expect(after - before).toBeLessThan(40);
    for (const id of ids.slice(0, 5)) expect(await get(id)).toMatchObject({ status: 'success' });
  });

  it("one request's bad row fails only that request", async () => {
    const good = randomUUID();
    const results = await Promise.allSettled([
      writer.write(ws, 'iso', {
        runs: [{ id: good, traceId: good, name: 'good', startTime: new Date() }],
      }),
      writer.write(ws, 'iso', { runs: [{ id: 'not-a-uuid', traceId: good, name: 'bad' }] }),
    ]);
    expect(results[0].status).toBe('fulfilled');
    expect(results[1].status).toBe('rejected');
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ statusCode: 400 });
    expect(await get(good)).toMatchObject({ name: 'good' });
  });

  it('stores NUL characters and unpaired surrogates as U+FFFD instead of failing the batch', async () => {
    const id = randomUUID();
    await writer.write(ws, 'text', {
      runs: [
        {
          id,
          traceId: id,
          name: 'nul\u0000name',
          error: 'bad \ud83d tail',
          inputs: { text: 'a\u0000b', emoji: '\ud83d\ude00 ok \udc00' },
        },
      ],
    });
    expect(await get(id)).toMatchObject({
      name: 'nul\ufffdname',
      error: 'bad \ufffd tail',
      inputs: { text: 'a\ufffdb', emoji: '\ud83d\ude00 ok \ufffd' },
    });
  });

  it('round-trips text that COPY must escape, arrays, numbers and JSON exactly', async () => {
    const id = randomUUID();
    const awkward = 'tab\there\nnew line\r\\back\\slash \\N "quoted" {braces} ünïcødé 🎉';
    const run: RunUpsert = {
      id,
      traceId: randomUUID(),
      parentRunId: randomUUID(),
      dottedOrder: '20261127T100000000000Z' + id,
      name: awkward,
      runType: 'llm',
      startTime: new Date('2026-11-27T10:00:00.123Z'),
      endTime: new Date('2026-11-27T10:00:01.456Z'),
      error: `Error: ${awkward}`,
      model: 'gpt\\4o',
      provider: 'openai',
      promptTokens: 2_000_000_000,
      completionTokens: 0,
      totalTokens: 2_000_000_000,
      tokenDetails: { cache_read: 7 },
      cost: 0.0000001234,
      tags: ['plain', 'with,comma', 'with "quote"', 'back\\slash', '{brace}', 'NULL', ''],
      metadata: { awkward, nested: { list: [1, 'two', null, true] }, 'key with\ttab': 'v' },
      sessionId: 's\t1',
      userId: 'u\\1',
      firstTokenTime: new Date('2026-11-27T10:00:00.500Z'),
      otelTraceId: '0af7651916cd43dd8448eb211c80319c',
      otelSpanId: 'b7ad6b7169203331',
      inputs: { messages: [{ role: 'user', content: awkward }] },
      outputs: { text: awkward, backslashes: '\\\\' },
      extra: { invocation_params: { temperature: 0.2 } },
      events: [{ name: 'e', attributes: { a: awkward } }],
      otel: { attributes: { 'x.y': awkward } },
      logRecords: { k1: { body: awkward } },
    };
    await writer.write(ws, 'escapes', { runs: [run] });
    const stored = await get(id);
    expect(stored).toMatchObject({
      name: awkward,
      status: 'error',
      error: `Error: ${awkward}`,
      model: 'gpt\\4o',
      prompt_tokens: 2_000_000_000,
      completion_tokens: 0,
      token_details: { cache_read: 7 },
      tags: ['plain', 'with,comma', 'with "quote"', 'back\\slash', '{brace}', 'NULL', ''],
      metadata: run.metadata,
      session_id: 's\t1',
      user_id: 'u\\1',
      inputs: run.inputs,
      outputs: run.outputs,
      extra: run.extra,
      events: run.events,
      otel: run.otel,
      log_records: run.logRecords,
    });
    expect(Number(stored!.cost)).toBeCloseTo(0.0000001234, 12);
    // the run was new: on the copy path it went in by COPY
    if (path === 'copy') expect(writer.getStats().copiedRuns).toBeGreaterThan(0);
    else expect(writer.getStats().copiedRuns).toBe(0);
    expect(new Date(stored!.start_time as unknown as string).toISOString()).toBe(
      '2026-11-27T10:00:00.123Z',
    );
  });

  it('upserts a stored run in place (no COPY, no race), however its id is spelled', async () => {
    const id = randomUUID();
    await writer.write(ws, 'again', { runs: [{ id, traceId: id, name: 'first', tags: ['a'] }] });
    const before = writer.getStats();
    await writer.write(ws, 'again', {
      runs: [{ id: id.toUpperCase(), traceId: id, endTime: new Date(), tags: ['b'] }],
    });
    const after = writer.getStats();
    // the second write found the stored row: it was merged, not copied and not raced
    expect(after.copiedRuns).toBe(before.copiedRuns);
    expect(after.insertRaces).toBe(before.insertRaces);
    expect(await get(id)).toMatchObject({ name: 'first', status: 'success', tags: ['a', 'b'] });
  });

  it('refuses with 503 when more rows wait than allowed', async () => {
    const small = new RunWriter(
      handle.db,
      new ProjectResolver(handle.db),
      { maxPendingRows: 5, maxBatchRows: 5, concurrency: 1 },
      silentLog,
    );
    const mk = () => ({
      runs: Array.from({ length: 4 }, () => {
        const id = randomUUID();
        return { id, traceId: id, name: 'x' };
      }),
    });
    const results = await Promise.allSettled([
      small.write(ws, 'bp', mk()),
      small.write(ws, 'bp', mk()),
      small.write(ws, 'bp', mk()),
    ]);
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(rejected.length).toBeGreaterThan(0);
    expect(rejected[0]!.reason).toMatchObject({ statusCode: 503, retryAfter: 1 });
    expect(small.getStats().refusedRequests).toBe(rejected.length);
  });

  it('never lets another workspace overwrite a run', async () => {
    const id = randomUUID();
    await writer.write(ws, 'mine', {
      runs: [{ id, traceId: id, name: 'mine', inputs: { secret: 1 } }],
    });
    const { insertWorkspace } =
      await import('../../src/modules/workspaces/workspaces.repository.js');
    const other = await insertWorkspace(handle.db, 'other');
    await writer.write(other, 'theirs', {
      runs: [{ id, traceId: id, name: 'theirs', inputs: { secret: 2 } }],
    });
    expect(await get(id)).toMatchObject({ name: 'mine', inputs: { secret: 1 } });
    expect(await findRunWithPayload(handle.db, other, id)).toBeUndefined();
  });
});

describe.runIf(testBackends().includes('postgres'))('COPY fast path on PostgreSQL', () => {
  let tdb: TestDatabase;
  let handle: DatabaseHandle;
  let ws: string;

  beforeAll(async () => {
    tdb = await createTestDatabase('postgres');
    handle = await openDatabase({ databaseUrl: tdb.url, dataDir: tdb.dataDir });
    await migrateToLatest(handle.db);
    ws = (await bootstrapWorkspace(handle.db, 'lp_copy_test_key_0123456789ab')).workspaceId;
  });
  afterAll(async () => {
    await handle?.close();
    await tdb?.drop();
  });

  it('loses an insert race to another writer, retries as an upsert and merges', async () => {
    const writer = new RunWriter(
      handle.db,
      new ProjectResolver(handle.db),
      { maxPendingRows: 100, maxBatchRows: 100, concurrency: 1, copyPool: handle.pool },
      silentLog,
    );
    const id = randomUUID();
    const project = await new ProjectResolver(handle.db).idForName(ws, 'race');
    // another writer has inserted the same id but not committed yet: our SELECT cannot
    // see it, so the run looks new and goes to COPY, which must wait for that row
    const other = await handle.pool.connect();
    await other.query('BEGIN');
    await other.query(
      `INSERT INTO runs (id, workspace_id, project_id, trace_id, status, name, tags, metadata)
       VALUES ($1, $2, $3, $1, 'pending', 'first', '{a}', '{"from": "other"}')`,
      [id, ws, project],
    );
    const write = writer.write(ws, 'race', {
      runs: [
        {
          id,
          traceId: id,
          endTime: new Date('2026-11-27T10:00:01Z'),
          tags: ['b'],
          metadata: { mine: 1 },
          outputs: { answer: 42 },
        },
      ],
    });
    await new Promise((r) => setTimeout(r, 300));
    await other.query('COMMIT');
    other.release();
    await write;
    expect(writer.getStats()).toMatchObject({ insertRaces: 1, copiedRuns: 0 });
    expect(await findRunWithPayload(handle.db, ws, id)).toMatchObject({
      name: 'first',
      status: 'success',
      tags: ['a', 'b'],
      metadata: { from: 'other', mine: 1 },
      outputs: { answer: 42 },
    });
  });
});
