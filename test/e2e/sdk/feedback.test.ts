// @loupe/sdk feedback and data client end to end: getCurrentRunId() inside a traced run →
// createFeedback / LoupeClient.createFeedback → the real collector on each backend; the
// feedback must land on exactly that run (checked on GET /runs/:id with a plain fetch).
// Also the LoupeClient's project / run / trace calls and its typed errors.
//
// init() works once per process, so it points at a forwarding proxy whose target
// switches to the collector of the backend under test; the proxy also logs the
// feedback requests, to show the not-yet-ingested retries.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startTestServer,
  testBackends,
  TEST_API_KEY,
  type TestServer,
} from '@loupe/collector/testing';
import {
  createFeedback,
  flush,
  getCurrentRunId,
  getCurrentTraceId,
  init,
  LoupeApiError,
  LoupeClient,
  shutdown,
  traceable,
} from '@loupe/sdk';
import { loupeApi, type LoupeApi } from '../../support/otel-helpers.js';
import { startSwitchableProxy, type SwitchableProxy } from '../../support/switchable-proxy.js';

const PROJECT = 'sdk-e2e-feedback';
const UNKNOWN_RUN = '00000000-0000-4000-8000-000000000000';

let proxy: SwitchableProxy;

beforeAll(async () => {
  proxy = await startSwitchableProxy();
  // default batching (spans leave about a second after they end): createFeedback
  // right after a run must cope with the run not being stored yet
  init({ endpoint: proxy.url, apiKey: TEST_API_KEY, project: PROJECT, serviceName: 'sdk-e2e' });
});

afterAll(async () => {
  await shutdown();
  await proxy?.close();
});

/** An "app request": a traced handler with a traced child; returns the ids the app would keep. */
async function handleRequest(question: string) {
  const ids: { root?: string; child?: string; trace?: string } = {};
  const generate = traceable(
    async (q: string) => {
      ids.child = getCurrentRunId();
      return `answer to ${q}`;
    },
    { name: 'generate', runType: 'llm' },
  );
  const answer = await traceable(
    async (q: string) => {
      ids.root = getCurrentRunId();
      ids.trace = getCurrentTraceId();
      return generate(q);
    },
    { name: 'handle-request' },
  )(question);
  return { answer, root: ids.root!, child: ids.child!, trace: ids.trace! };
}

describe.each(testBackends())('@loupe/sdk feedback and client → collector (%s)', (backend) => {
  let server: TestServer;
  let api: LoupeApi;
  let client: LoupeClient;

  beforeAll(async () => {
    server = await startTestServer(backend);
    proxy.state.target = server.url;
    api = loupeApi(server);
    client = new LoupeClient({ endpoint: server.url, apiKey: server.apiKey });
  });

  afterAll(async () => {
    await flush();
    await server?.close();
  });

  it('createFeedback with getCurrentRunId() lands on that run, even sent before the run is stored', async () => {
    const req = await handleRequest('is it raining?');
    expect(req.answer).toBe('answer to is it raining?');
    proxy.state.log.length = 0;

    // no flush: the end user clicks 👍 right away
    const result = await createFeedback(
      { runId: req.root, key: 'user_thumbs', score: true, comment: 'helpful' },
      { endpoint: proxy.url, apiKey: TEST_API_KEY },
    );
    if (!result.ok) throw result.error;
    expect(result.feedback).toMatchObject({
      run_id: req.root,
      trace_id: req.trace,
      key: 'user_thumbs',
      score: 1,
      comment: 'helpful',
      feedback_source: { type: 'app' },
    });

    // it was early (404: not ingested yet) and retried with the same feedback id
    const attempts = proxy.state.log.filter((l) => l.path === '/api/loupe/v1/feedback');
    expect(attempts.map((a) => a.status).at(-1)).toBe(201);
    expect(attempts.slice(0, -1).every((a) => a.status === 404)).toBe(true);
    expect(attempts.length).toBeGreaterThanOrEqual(2);
    const sentIds = new Set(attempts.map((a) => (JSON.parse(a.body) as { id: string }).id));
    expect([...sentIds]).toEqual([result.feedback.id]);

    const run = await api.run(req.root);
    expect(run.name).toBe('handle-request');
    expect(run.feedback).toHaveLength(1);
    expect(run.feedback[0]).toMatchObject({
      id: result.feedback.id,
      key: 'user_thumbs',
      score: 1,
      comment: 'helpful',
    });
    // the child run of the same request has none
    await flush();
    expect((await api.run(req.child)).feedback).toEqual([]);
  });

  it('feedback on a child run lands on the child, not on the root', async () => {
    const req = await handleRequest('child?');
    const result = await createFeedback(
      { runId: req.child, key: 'correctness', score: 0, correction: { answer: 'no' } },
      { endpoint: proxy.url, apiKey: TEST_API_KEY },
    );
    expect(result.ok).toBe(true);
    await flush();
    const child = await api.run(req.child);
    expect(child.name).toBe('generate');
    expect(child.feedback.map((f) => [f.key, f.score, f.correction])).toEqual([
      ['correctness', 0, { answer: 'no' }],
    ]);
    expect((await api.run(req.root)).feedback).toEqual([]);
  });

  it('LoupeClient.createFeedback: value, source, upsert by id; the feedback_key filter finds the run', async () => {
    const req = await handleRequest('upsert?');
    await flush();
    const id = '6f1c0c84-8d6e-4b8e-9d1e-2a3b4c5d6e7f';
    const first = await client.createFeedback({
      id,
      runId: req.root,
      key: 'label',
      value: 'meh',
      source: { type: 'human', metadata: { reviewer: 'qa-1' } },
    });
    expect(first).toMatchObject({ id, run_id: req.root, value: 'meh', score: null });
    const second = await client.createFeedback({
      id,
      runId: req.root,
      key: 'label',
      value: 'good',
    });
    expect(second.id).toBe(id);

    const run = await api.run(req.root);
    expect(run.feedback).toHaveLength(1);
    expect(run.feedback[0]).toMatchObject({ id, value: 'good' });
    const found = await api.runs({ feedback_key: 'label' });
    expect(found.map((r) => r.id)).toContain(req.root);
  });

  it('LoupeClient: projects, stats, paged runs, a run, a trace — same data as the raw API', async () => {
    const reqs = [];
    for (const q of ['a', 'b', 'c']) reqs.push(await handleRequest(q));
    await flush();

    const projects = await client.listProjects();
    const project = projects.find((p) => p.name === PROJECT);
    expect(project).toBeDefined();
    expect(project!.run_count).toBeGreaterThanOrEqual(3);

    const stats = await client.projectStats(PROJECT, { root: true });
    expect(stats.project_id).toBe(project!.id);
    expect(stats.run_count).toBe(project!.run_count);
    expect(stats.error_count).toBe(0);

    const viaClient: string[] = [];
    for await (const run of client.listRuns({ project: PROJECT, limit: 2 })) viaClient.push(run.id);
    const viaRaw = (await api.runs({ project: PROJECT })).map((r) => r.id);
    expect(viaClient).toEqual(viaRaw);
    expect(viaClient.length).toBeGreaterThan(2); // more than one page

    const page = await client.listRunsPage({ project: PROJECT, name: 'generate', limit: 1 });
    expect(page.runs).toHaveLength(1);
    expect(page.next_cursor).not.toBeNull();

    const last = reqs[2]!;
    expect(await client.getRun(last.root)).toEqual(await api.run(last.root));
    const tree = await client.getTrace(last.trace);
    expect(tree.run_count).toBe(2);
    expect(tree.roots.map((r) => [r.id, r.children.map((c) => c.id)])).toEqual([
      [last.root, [last.child]],
    ]);
  });

  it('errors: typed LoupeApiError from the client; {ok: false} from createFeedback', async () => {
    let error: unknown;
    try {
      await client.getRun(UNKNOWN_RUN);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(LoupeApiError);
    expect(error).toMatchObject({ status: 404, code: 'LOUPE_ERR_NOT_FOUND' });
    expect((error as LoupeApiError).requestId).toMatch(/^[0-9a-f-]{36}$/);

    const unauthenticated = new LoupeClient({
      endpoint: server.url,
      apiKey: 'lp_wrong_key_0123456789abcdef',
    });
    await expect(unauthenticated.listProjects()).rejects.toMatchObject({
      status: 401,
      code: 'LOUPE_ERR_UNAUTHENTICATED',
    });

    const invalid = await createFeedback(
      { runId: 'not-a-uuid', key: 'k', score: 1 },
      { endpoint: server.url, apiKey: server.apiKey },
    );
    expect(invalid).toMatchObject({ ok: false, error: { status: 400 } });

    const missing = await createFeedback(
      { runId: UNKNOWN_RUN, key: 'k', score: 1 },
      { endpoint: server.url, apiKey: server.apiKey, timeoutMs: 800 },
    );
    expect(missing).toMatchObject({
      ok: false,
      error: { status: 404, code: 'LOUPE_ERR_NOT_FOUND' },
    });
  });
});
