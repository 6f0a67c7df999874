/**
 * LangSmith SDK feedback calls against Loupe: `createFeedback` over `POST /feedback`
 * and (with `traceId`) as a `feedback.<id>` part of `/runs/multipart`, project-level
 * feedback, read/list/update/delete, and the same feedback on the native API (run
 * detail and the `feedback_key` filter of the run list).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Feedback } from 'langsmith';
import { getCurrentRunTree, traceable } from 'langsmith/traceable';
import { startTestServer, testBackends, type TestServer } from '@loupe/collector/testing';
import {
  collect,
  nativeApi,
  poll,
  rejectionStatus,
  sdkClient,
  type NativeApi,
  type SdkClient,
} from './helpers.js';

const PROJECT = 'e2e-feedback';

describe.each(testBackends())('LangSmith SDK feedback → Loupe [%s]', (kind) => {
  let server: TestServer;
  let sdk: SdkClient;
  let native: NativeApi;
  let projectId: string;
  /** root run of the trace, its child, and the child's start time */
  const ids = { root: '', child: '', childStart: 0 };
  const savedTracing = process.env.LANGSMITH_TRACING;

  beforeAll(async () => {
    process.env.LANGSMITH_TRACING = 'true';
    server = await startTestServer(kind);
    sdk = sdkClient(`${server.url}/api/v1`, server.apiKey);
    native = nativeApi(server.url, server.apiKey);
    const common = { client: sdk.client, project_name: PROJECT, tracingEnabled: true };
    const answer = traceable(
      async (q: string) => {
        const rt = getCurrentRunTree();
        ids.child = rt.id;
        ids.childStart = rt.start_time;
        return `answer to ${q}`;
      },
      { ...common, name: 'answer', run_type: 'llm' },
    );
    const pipeline = traceable(
      async (q: string) => {
        ids.root = getCurrentRunTree().id;
        return answer(q);
      },
      { ...common, name: 'pipeline' },
    );
    await pipeline('why?');
    await sdk.client.awaitPendingTraceBatches();
    await poll('both runs stored', async () => {
      const page = await native.runs({ project: PROJECT });
      return page.runs.length === 2 ? page : undefined;
    });
    projectId = (await sdk.client.readProject({ projectName: PROJECT })).id;
  });
  afterAll(async () => {
    if (savedTracing === undefined) delete process.env.LANGSMITH_TRACING;
    else process.env.LANGSMITH_TRACING = savedTracing;
    await server?.close();
  });

  it('create over POST /feedback, over /runs/multipart (with traceId), read, list, update, delete; visible on the native API', async () => {
    const { client, requests } = sdk;

    // --- POST /feedback (runId only; the legacy signature of the brief) ---
    requests.length = 0;
    const direct = await client.createFeedback(ids.root, 'correctness', {
      score: 0.87654,
      comment: 'looks right',
      correction: { answer: 'better answer' },
      value: 'good',
    });
    expect(direct.id).toMatch(/^[0-9a-f-]{36}$/);
    const feedbackPosts = requests.filter(
      (r) => r.method === 'POST' && r.path === '/api/v1/feedback',
    );
    expect(feedbackPosts.map((r) => r.status)).toEqual([200]);

    const readDirect = await client.readFeedback(direct.id);
    expect(readDirect).toMatchObject({
      id: direct.id,
      run_id: ids.root,
      key: 'correctness',
      score: 0.8765, // the SDK rounds to 4 decimals
      value: 'good',
      comment: 'looks right',
      correction: { answer: 'better answer' },
      feedback_source: { type: 'api', metadata: {} },
      session_id: projectId, // resolved from the run
    });
    expect(Number.isNaN(Date.parse(readDirect.created_at))).toBe(false);

    // --- feedback.<id> part of /runs/multipart (runId + traceId) ---
    requests.length = 0;
    const batched = await client.createFeedback(ids.child, 'helpfulness', {
      score: 1,
      value: { label: 'helpful' },
      comment: 'batched',
      traceId: ids.root,
      sessionId: projectId,
      startTime: ids.childStart,
      feedbackSourceType: 'model',
      sourceInfo: { judge: 'e2e' },
    });
    await client.awaitPendingTraceBatches();
    const readBatched = await poll('the batched feedback', async () => {
      try {
        return await client.readFeedback(batched.id);
      } catch {
        return undefined;
      }
    });
    const multipart = requests.filter(
      (r) => r.method === 'POST' && r.path === '/api/v1/runs/multipart',
    );
    expect(multipart.length).toBeGreaterThan(0);
    expect(multipart.every((r) => r.status === 202)).toBe(true);
    expect(requests.filter((r) => r.path === '/api/v1/feedback')).toEqual([]);
    expect(readBatched).toMatchObject({
      id: batched.id,
      run_id: ids.child,
      trace_id: ids.root,
      session_id: projectId,
      key: 'helpfulness',
      score: 1,
      value: { label: 'helpful' },
      comment: 'batched',
      feedback_source: { type: 'model', metadata: { judge: 'e2e' } },
    });

    // --- project-level feedback (no run) ---
    const projectLevel = await client.createFeedback(null, 'project-note', {
      projectId,
      comment: 'whole project',
      score: 0,
    });
    expect(await client.readFeedback(projectLevel.id)).toMatchObject({
      run_id: null,
      session_id: projectId,
      key: 'project-note',
      score: 0,
      comment: 'whole project',
    });

    // --- listFeedback ---
    const byRuns = await collect(client.listFeedback({ runIds: [ids.root, ids.child] }));
    expect(byRuns.map((f) => f.id).sort()).toEqual([direct.id, batched.id].sort());
    const byKey = await collect(
      client.listFeedback({ runIds: [ids.root, ids.child], feedbackKeys: ['helpfulness'] }),
    );
    expect(byKey.map((f) => f.id)).toEqual([batched.id]);
    const byRoot = await collect(client.listFeedback({ runIds: [ids.root] }));
    expect(byRoot.map((f) => f.id)).toEqual([direct.id]);
    const bySource = await collect(client.listFeedback({ feedbackSourceTypes: ['model'] }));
    expect(bySource.map((f) => f.id)).toEqual([batched.id]);
    const allKeys = await collect(
      client.listFeedback({ feedbackKeys: ['correctness', 'project-note'] }),
    );
    expect(allKeys.map((f) => f.id).sort()).toEqual([direct.id, projectLevel.id].sort());

    // --- native API: feedback on the run, feedback_key filter ---
    const nRoot = await native.run(ids.root);
    expect(nRoot.feedback).toHaveLength(1);
    expect(nRoot.feedback[0]).toMatchObject({
      id: direct.id,
      run_id: ids.root,
      project_id: projectId,
      key: 'correctness',
      score: 0.8765,
      value: 'good',
      comment: 'looks right',
      correction: { answer: 'better answer' },
    });
    const nChild = await native.run(ids.child);
    expect(nChild.feedback.map((f) => [f.id, f.key, f.trace_id])).toEqual([
      [batched.id, 'helpfulness', ids.root],
    ]);
    const keyIds = async (key: string, extra: Record<string, string> = {}) =>
      (await native.runs({ project: PROJECT, feedback_key: key, ...extra })).runs.map((r) => r.id);
    expect(await keyIds('correctness')).toEqual([ids.root]);
    expect(await keyIds('helpfulness')).toEqual([ids.child]);
    expect(await keyIds('no-such-key')).toEqual([]);
    expect(await keyIds('correctness', { feedback_score_gte: '0.8' })).toEqual([ids.root]);
    expect(await keyIds('correctness', { feedback_score_lte: '0.5' })).toEqual([]);

    // --- updateFeedback: only the given keys change; null clears ---
    await client.updateFeedback(direct.id, { score: 0.25, comment: 'revised' });
    const updated = await client.readFeedback(direct.id);
    expect(updated).toMatchObject({
      id: direct.id,
      score: 0.25,
      comment: 'revised',
      value: 'good',
      correction: { answer: 'better answer' },
      key: 'correctness',
      run_id: ids.root,
    });
    expect(Date.parse(updated.modified_at)).toBeGreaterThanOrEqual(
      Date.parse(readDirect.modified_at),
    );
    await client.updateFeedback(direct.id, { correction: null, value: { v: 2 } });
    expect(await client.readFeedback(direct.id)).toMatchObject({
      score: 0.25,
      comment: 'revised',
      correction: null,
      value: { v: 2 },
    });
    expect((await native.run(ids.root)).feedback[0]).toMatchObject({
      score: 0.25,
      comment: 'revised',
    });
    expect(await keyIds('correctness', { feedback_score_gte: '0.8' })).toEqual([]);
    expect(
      await rejectionStatus(
        client.updateFeedback('00000000-0000-4000-8000-0000000000fb', { score: 1 }),
      ),
    ).toBe(404);

    // --- deleteFeedback ---
    await client.deleteFeedback(direct.id);
    expect(await rejectionStatus(client.readFeedback(direct.id))).toBe(404);
    const afterDelete = await collect(client.listFeedback({ runIds: [ids.root, ids.child] }));
    expect(afterDelete.map((f: Feedback) => f.id)).toEqual([batched.id]);
    expect((await native.run(ids.root)).feedback).toEqual([]);
    expect(await keyIds('correctness')).toEqual([]);
    expect(await rejectionStatus(client.deleteFeedback(direct.id))).toBe(404);
  });
});
