import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../../src/app.js';
import {
  createTestDatabase,
  testBackends,
  testConfig,
  TEST_API_KEY,
  type TestDatabase,
} from '../../../src/testing.js';

const H = { 'x-api-key': TEST_API_KEY };

describe.each(testBackends())('native feedback and projects routes on %s', (kind) => {
  let tdb: TestDatabase;
  let app: FastifyInstance;
  const runId = randomUUID();

  beforeAll(async () => {
    tdb = await createTestDatabase(kind);
    app = await buildApp(testConfig(tdb), { logger: false });
    await app.loupe.writer.write(app.loupe.bootstrap.workspaceId, 'fb-project', {
      runs: [
        { id: runId, traceId: runId, name: 'answer', runType: 'chain', startTime: new Date() },
      ],
    });
  });
  afterAll(async () => {
    await app?.close();
    await tdb?.drop();
  });

  it('creates feedback on a run and shows it on the run', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/loupe/v1/feedback',
      headers: H,
      payload: {
        run_id: runId,
        key: 'thumbs',
        score: true,
        comment: 'great',
        correction: { answer: 'better' },
        source: { type: 'app' },
      },
    });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({
      run_id: runId,
      key: 'thumbs',
      score: 1,
      comment: 'great',
      correction: { answer: 'better' },
      feedback_source: { type: 'app' },
    });
    const run = await app.inject({ method: 'GET', url: `/api/loupe/v1/runs/${runId}`, headers: H });
    expect(run.json().feedback).toMatchObject([{ key: 'thumbs', score: 1 }]);
    // idempotent by client id
    const id = randomUUID();
    for (let i = 0; i < 2; i++) {
      const again = await app.inject({
        method: 'POST',
        url: '/api/loupe/v1/feedback',
        headers: H,
        payload: { id, run_id: runId, key: 'k2', score: 0.5 },
      });
      expect(again.statusCode).toBe(201);
    }
    const after = await app.inject({
      method: 'GET',
      url: `/api/loupe/v1/runs/${runId}`,
      headers: H,
    });
    expect(after.json().feedback.filter((f: { key: string }) => f.key === 'k2')).toHaveLength(1);
  });

  it('rejects feedback for unknown runs and bad bodies with clear errors', async () => {
    const missing = await app.inject({
      method: 'POST',
      url: '/api/loupe/v1/feedback',
      headers: H,
      payload: { run_id: randomUUID(), key: 'x' },
    });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().message).toMatch(/does not exist/);
    const noKey = await app.inject({
      method: 'POST',
      url: '/api/loupe/v1/feedback',
      headers: H,
      payload: { run_id: runId },
    });
    expect(noKey.statusCode).toBe(400);
    expect(noKey.json()).toMatchObject({ code: 'LOUPE_ERR_VALIDATION' });
    expect(noKey.json().message).toMatch(/key/);
  });

  it('lists projects with root-run counts', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/loupe/v1/projects', headers: H });
    expect(res.statusCode).toBe(200);
    expect(res.json().projects).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'fb-project', run_count: 1 })]),
    );
  });
});
