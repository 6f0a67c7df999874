import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { openDatabase, type DatabaseHandle } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { bootstrapWorkspace } from '../../src/modules/workspaces/bootstrap.service.js';
import { ProjectResolver } from '../../src/modules/projects/projects.service.js';
import { RunWriter } from '../../src/modules/ingest/run-writer.js';
import { findRunWithPayload, listTraceRuns } from '../../src/modules/runs/runs.repository.js';
import { createTestDatabase, testBackends, type TestDatabase } from '../../src/testing.js';
import type { RunUpsert } from '../../src/modules/ingest/run-upsert.js';

const silentLog = { warn() {}, error() {}, info() {}, debug() {} } as never;

describe.each(testBackends())('RunWriter on %s', (kind) => {
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
