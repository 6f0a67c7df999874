/**
 * Auth through the LangSmith SDK: a wrong (or missing) API key makes every SDK call
 * fail with 401 — reads, writes, and the background trace ingest — and nothing is
 * written. `/info` stays public (the SDK fetches it before it knows anything).
 */
import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest';
import { traceable } from 'langsmith/traceable';
import { startTestServer, testBackends, type TestServer } from '@loupe/collector/testing';
import {
  collect,
  httpJson,
  nativeApi,
  poll,
  rejectionStatus,
  sdkClient,
  withEnv,
  type SdkClient,
} from './helpers.js';

const PROJECT = 'e2e-auth';
const SOME_RUN = '01a21b95-12cb-7000-8000-000000000001';

describe.each(testBackends())('LangSmith SDK auth → Loupe [%s]', (kind) => {
  let server: TestServer;
  let good: SdkClient;
  const savedTracing = process.env.LANGSMITH_TRACING;

  beforeAll(async () => {
    process.env.LANGSMITH_TRACING = 'true';
    server = await startTestServer(kind);
    good = sdkClient(`${server.url}/api/v1`, server.apiKey);
  });
  afterAll(async () => {
    if (savedTracing === undefined) delete process.env.LANGSMITH_TRACING;
    else process.env.LANGSMITH_TRACING = savedTracing;
    await server?.close();
  });

  const badClients: [string, { sendsKey: boolean; make: () => SdkClient }][] = [
    [
      'wrong API key',
      {
        sendsKey: true,
        make: () =>
          // the SDK's own retry settings: a 401 must not be retried
          sdkClient(`${server.url}/api/v1`, 'lp_wrong_0123456789abcdefghijklmnopqrstuv', {
            callerOptions: {},
          }),
      },
    ],
    [
      'no API key at all',
      {
        sendsKey: false,
        make: () =>
          withEnv({ LANGSMITH_API_KEY: undefined, LANGCHAIN_API_KEY: undefined }, () =>
            sdkClient(`${server.url}/api/v1`, '', { callerOptions: {} }),
          ),
      },
    ],
  ];

  it.each(badClients)('%s: every SDK call is a 401 and nothing is written', async (_l, bad) => {
    const { client, requests } = bad.make();
    const reported = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const warned = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    onTestFinished(() => {
      reported.mockRestore();
      warned.mockRestore();
    });

    expect(await rejectionStatus(client.readProject({ projectName: PROJECT }))).toBe(401);
    expect(requests.map((r) => r.headers['x-api-key'] !== undefined)).toEqual([bad.sendsKey]);
    await expect(client.readProject({ projectName: PROJECT })).rejects.toThrow(/401/);
    expect(await rejectionStatus(client.hasProject({ projectName: PROJECT }))).toBe(401);
    expect(await rejectionStatus(collect(client.listProjects()))).toBe(401);
    expect(
      await rejectionStatus(client.createProject({ projectName: PROJECT, description: 'x' })),
    ).toBe(401);
    expect(
      await rejectionStatus(
        client.createFeedback(SOME_RUN, 'k', { score: 1, sessionId: SOME_RUN }),
      ),
    ).toBe(401);
    expect(await rejectionStatus(client.readRun(SOME_RUN))).toBe(401);
    expect(await rejectionStatus(collect(client.listRuns({ traceId: SOME_RUN })))).toBe(401);
    expect(await rejectionStatus(collect(client.listFeedback({ runIds: [SOME_RUN] })))).toBe(401);

    // background ingest: traceable returns normally, the multipart POST gets a 401
    requests.length = 0;
    const traced = traceable(async (x: number) => x + 1, {
      name: 'unauthorised',
      client,
      project_name: PROJECT,
      tracingEnabled: true,
    });
    expect(await traced(1)).toBe(2);
    await client.awaitPendingTraceBatches();
    const ingest = await poll('the ingest request to be answered', async () =>
      requests.find((r) => r.method === 'POST' && r.path === '/api/v1/runs/multipart'),
    );
    expect(ingest.status).toBe(401);
    // ingest errors never reach user code; the SDK logs them
    const logged = [...reported.mock.calls, ...warned.mock.calls].map((c) =>
      c.map(String).join(' '),
    );
    expect(logged.some((m) => m.includes('multipart') && m.includes('401'))).toBe(true);
    // /info is public, everything else answered 401
    expect(requests.filter((r) => !r.path.endsWith('/info')).map((r) => r.status)).toEqual(
      requests.filter((r) => !r.path.endsWith('/info')).map(() => 401),
    );

    // the v2 routes and the native API guard the same way
    await expect(
      httpJson(server.url, 'lp_wrong_key', 'POST', '/api/v2/runs/query', { project_ids: [] }),
    ).rejects.toMatchObject({ status: 401 });
    await expect(
      httpJson(server.url, 'lp_wrong_key', 'GET', '/api/loupe/v1/runs'),
    ).rejects.toMatchObject({ status: 401 });

    // nothing was written
    expect(await good.client.hasProject({ projectName: PROJECT })).toBe(false);
    const projects = await collect(good.client.listProjects());
    expect(projects.map((p) => p.name)).not.toContain(PROJECT);
    expect((await nativeApi(server.url, server.apiKey).runs({})).runs).toEqual([]);
    expect(await collect(good.client.listFeedback())).toEqual([]);
  });
});
