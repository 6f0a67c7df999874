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
import type { RunUpsert } from '../../../src/modules/ingest/run-upsert.js';

const H = { 'x-api-key': TEST_API_KEY };

describe.each(testBackends())('native query API on %s', (kind) => {
  let tdb: TestDatabase;
  let app: FastifyInstance;
  let ws: string;
  const trace = randomUUID();
  const root = randomUUID();
  const llm = randomUUID();
  const tool = randomUUID();
  const base = Date.parse('2026-11-20T10:00:00.000Z');
  const at = (ms: number) => new Date(base + ms);

  const get = async (url: string) => {
    const res = await app.inject({ method: 'GET', url, headers: H });
    return { status: res.statusCode, body: res.json() };
  };

  beforeAll(async () => {
    tdb = await createTestDatabase(kind);
    app = await buildApp(testConfig(tdb), { logger: false });
    ws = app.loupe.bootstrap.workspaceId;
    const runs: RunUpsert[] = [
      {
        id: root,
        traceId: trace,
        projectName: 'alpha',
        name: 'agent',
        runType: 'chain',
        startTime: at(0),
        endTime: at(1000),
        inputs: { question: 'what is the capital of France' },
        outputs: { answer: 'Paris' },
        tags: ['prod', 'v2'],
        metadata: { user_tier: 'gold', attempt: 2 },
        sessionId: 's-1',
        userId: 'u-1',
      },
      {
        id: llm,
        traceId: trace,
        parentRunId: root,
        projectName: 'alpha',
        name: 'chat',
        runType: 'llm',
        startTime: at(100),
        endTime: at(400),
        model: 'gpt-4o-mini',
        provider: 'openai',
        promptTokens: 10,
        completionTokens: 5,
        totalTokens: 15,
        tokenDetails: { cache_read: 4 },
        cost: 0.002,
        inputs: { messages: [{ role: 'user', content: 'capital of France?' }] },
        outputs: { messages: [{ role: 'assistant', content: 'Paris' }] },
      },
      {
        id: tool,
        traceId: trace,
        parentRunId: root,
        projectName: 'alpha',
        name: 'search',
        runType: 'tool',
        startTime: at(500),
        endTime: at(900),
        error: 'Error: timeout',
        inputs: { q: 'zebra' },
      },
    ];
    // 30 more root runs to page through, in another project
    for (let i = 0; i < 30; i++) {
      const id = randomUUID();
      runs.push({
        id,
        traceId: id,
        projectName: 'beta',
        name: `r${i}`,
        runType: i % 2 === 0 ? 'llm' : 'chain',
        startTime: at(10_000 + (i % 10) * 1000),
        endTime: at(10_000 + (i % 10) * 1000 + i * 10),
        totalTokens: 1,
      });
    }
    await app.loupe.writer.write(ws, 'default', {
      runs,
      feedback: [
        { id: randomUUID(), runId: llm, key: 'correctness', score: 0.9 },
        { id: randomUUID(), runId: tool, key: 'correctness', score: 0.1 },
      ],
    });
  });
  afterAll(async () => {
    await app?.close();
    await tdb?.drop();
  });

  it('requires an API key', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/loupe/v1/runs' });
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({
      statusCode: 401,
      code: 'LOUPE_ERR_UNAUTHENTICATED',
      error: 'Unauthorized',
    });
    expect(res.json().requestId).toBeTypeOf('string');
  });

  it('filters by project (name or id), run type, name, status and error', async () => {
    const alpha = await get('/api/loupe/v1/runs?project=alpha');
    expect(alpha.body.runs.map((r: { id: string }) => r.id).sort()).toEqual(
      [root, llm, tool].sort(),
    );
    const byId = await get(`/api/loupe/v1/runs?project=${alpha.body.runs[0].project_id}`);
    expect(byId.body.runs).toHaveLength(3);
    expect(
      (await get('/api/loupe/v1/runs?project=alpha&run_type=llm,tool')).body.runs,
    ).toHaveLength(2);
    expect((await get('/api/loupe/v1/runs?project=alpha&name=search')).body.runs[0].id).toBe(tool);
    expect(
      (await get('/api/loupe/v1/runs?project=alpha&status=error')).body.runs.map(
        (r: { id: string }) => r.id,
      ),
    ).toEqual([tool]);
    expect((await get('/api/loupe/v1/runs?project=alpha&error=true')).body.runs).toHaveLength(1);
    expect((await get('/api/loupe/v1/runs?project=alpha&error=false')).body.runs).toHaveLength(2);
    expect((await get('/api/loupe/v1/runs?project=nope')).status).toBe(404);
  });

  it('filters by tags, metadata, time range, root, session, user and trace', async () => {
    expect(
      (await get('/api/loupe/v1/runs?tag=prod&tag=v2')).body.runs.map((r: { id: string }) => r.id),
    ).toEqual([root]);
    expect((await get('/api/loupe/v1/runs?tag=prod&tag=nope')).body.runs).toHaveLength(0);
    expect(
      (await get('/api/loupe/v1/runs?metadata=user_tier=gold')).body.runs.map(
        (r: { id: string }) => r.id,
      ),
    ).toEqual([root]);
    expect((await get('/api/loupe/v1/runs?metadata=attempt=2')).body.runs).toHaveLength(1);
    expect((await get('/api/loupe/v1/runs?metadata=user_tier=silver')).body.runs).toHaveLength(0);
    expect((await get('/api/loupe/v1/runs?metadata=novalue')).status).toBe(400);
    const range = await get(
      `/api/loupe/v1/runs?project=alpha&start_time_gte=${at(100).toISOString()}&start_time_lt=${at(500).toISOString()}`,
    );
    expect(range.body.runs.map((r: { id: string }) => r.id)).toEqual([llm]);
    expect(
      (await get('/api/loupe/v1/runs?project=alpha&root=true')).body.runs.map(
        (r: { id: string }) => r.id,
      ),
    ).toEqual([root]);
    expect((await get('/api/loupe/v1/runs?session_id=s-1')).body.runs).toHaveLength(1);
    expect((await get('/api/loupe/v1/runs?user_id=u-1')).body.runs).toHaveLength(1);
    expect((await get(`/api/loupe/v1/runs?trace_id=${trace}`)).body.runs).toHaveLength(3);
  });

  it('filters by feedback key and score', async () => {
    expect((await get('/api/loupe/v1/runs?feedback_key=correctness')).body.runs).toHaveLength(2);
    expect(
      (
        await get('/api/loupe/v1/runs?feedback_key=correctness&feedback_score_gte=0.5')
      ).body.runs.map((r: { id: string }) => r.id),
    ).toEqual([llm]);
    expect(
      (
        await get('/api/loupe/v1/runs?feedback_key=correctness&feedback_score_lte=0.5')
      ).body.runs.map((r: { id: string }) => r.id),
    ).toEqual([tool]);
  });

  it('searches the text of inputs and outputs', async () => {
    expect(
      (await get('/api/loupe/v1/runs?q=France')).body.runs.map((r: { id: string }) => r.id).sort(),
    ).toEqual([root, llm].sort());
    expect(
      (await get('/api/loupe/v1/runs?q=zebra')).body.runs.map((r: { id: string }) => r.id),
    ).toEqual([tool]);
    expect((await get('/api/loupe/v1/runs?q=nothingmatches')).body.runs).toHaveLength(0);
  });

  it('pages with keyset cursors: every run once, newest first', async () => {
    const seen: { id: string; start_time: string }[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await get(
        `/api/loupe/v1/runs?project=beta&limit=7${cursor === null ? '' : `&cursor=${cursor}`}`,
      );
      expect(page.status).toBe(200);
      seen.push(...page.body.runs);
      cursor = page.body.next_cursor;
      pages++;
    } while (cursor !== null && pages < 20);
    expect(pages).toBe(5);
    expect(new Set(seen.map((r) => r.id)).size).toBe(30);
    const times = seen.map((r) => Date.parse(r.start_time));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    expect((await get('/api/loupe/v1/runs?cursor=garbage')).status).toBe(400);
  });

  it('returns one run with payloads, feedback, tokens and latency', async () => {
    const { status, body } = await get(`/api/loupe/v1/runs/${llm}`);
    expect(status).toBe(200);
    expect(body).toMatchObject({
      id: llm,
      parent_run_id: root,
      run_type: 'llm',
      status: 'success',
      model: 'gpt-4o-mini',
      provider: 'openai',
      prompt_tokens: 10,
      completion_tokens: 5,
      total_tokens: 15,
      token_details: { cache_read: 4 },
      cost: 0.002,
      latency_ms: 300,
      inputs: { messages: [{ role: 'user', content: 'capital of France?' }] },
      outputs: { messages: [{ role: 'assistant', content: 'Paris' }] },
      attachments: [],
    });
    expect(body.feedback).toMatchObject([{ key: 'correctness', score: 0.9 }]);
    expect((await get(`/api/loupe/v1/runs/${randomUUID()}`)).status).toBe(404);
    expect((await get('/api/loupe/v1/runs/not-a-uuid')).status).toBe(400);
  });

  it('returns a trace as a tree', async () => {
    const { body } = await get(`/api/loupe/v1/traces/${trace}`);
    expect(body.run_count).toBe(3);
    expect(body.roots).toHaveLength(1);
    expect(body.roots[0].id).toBe(root);
    expect(body.roots[0].children.map((c: { id: string }) => c.id)).toEqual([llm, tool]);
  });

  it('computes project stats over a time range', async () => {
    const { body } = await get('/api/loupe/v1/projects/alpha/stats');
    expect(body).toMatchObject({
      run_count: 3,
      error_count: 1,
      prompt_tokens: 10,
      completion_tokens: 5,
      total_tokens: 15,
      cost: 0.002,
    });
    expect(body.error_rate).toBeCloseTo(1 / 3);
    // latencies 1000, 300, 400 ms → p50 = 400, p95 = 940 (linear interpolation)
    expect(body.latency_p50_ms).toBeCloseTo(400);
    expect(body.latency_p95_ms).toBeCloseTo(940);
    const ranged = await get(
      `/api/loupe/v1/projects/alpha/stats?start_time_gte=${at(450).toISOString()}`,
    );
    expect(ranged.body).toMatchObject({ run_count: 1, error_count: 1, error_rate: 1 });
    const empty = await get(
      `/api/loupe/v1/projects/alpha/stats?start_time_gte=${at(99_999).toISOString()}`,
    );
    expect(empty.body).toMatchObject({
      run_count: 0,
      error_rate: null,
      latency_p50_ms: null,
      cost: null,
    });
  });

  it('serves the OpenAPI document with the native routes', async () => {
    const res = await app.inject({ method: 'GET', url: '/docs/json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/loupe/v1/runs',
        '/api/loupe/v1/runs/{id}',
        '/api/loupe/v1/traces/{traceId}',
        '/api/loupe/v1/projects/{project}/stats',
      ]),
    );
  });
});
