// @loupe/sdk's transport against the real collector on each backend: init() in a fresh
// process configured from the environment (LOUPE_*), the existing-provider path
// (loupeSpanProcessor, LoupeExporter under a BatchSpanProcessor) in-process, and a
// permanent failure (wrong key) that must be counted, not retried.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { startTestServer, testBackends, type TestServer } from '@loupe/collector/testing';
import { runIdFromOtel } from '@loupe/contracts/ids';
import { LoupeExporter, LoupeSpanProcessor, loupeSpanProcessor } from '@loupe/sdk';
import { loupeApi, waitForRun, waitForRuns, type LoupeApi } from '../../support/otel-helpers.js';

const TEST_DIR = fileURLToPath(new URL('../..', import.meta.url));

interface ChildIds {
  traceId: string;
  root: string;
  child: string;
  plain: { traceId: string; spanId: string };
}

/** Runs `init()` → spans → `await shutdown()` in a clean Node process with `env`. */
function runInitChild(env: Record<string, string>): Promise<{
  code: number | null;
  ids: ChildIds;
  stats: Record<string, number>;
  stderr: string;
}> {
  const script = `
    const { init, shutdown, getStats, withRunContext } = await import('@loupe/sdk');
    const { trace } = await import('@opentelemetry/api');
    init({ serviceName: 'transport-e2e', scheduledDelayMillis: 50 });
    // spans of a "third-party instrumentation": plain OTel, no Loupe attributes of their own
    const tracer = trace.getTracer('third-party');
    const ids = withRunContext(
      {
        metadata: { tenant: 'acme', attempt: 2, flags: { beta: true } },
        tags: ['e2e', 'sdk'],
        sessionId: 'sess-9',
        userId: 'user-9',
        promptVersion: 'pv-3',
      },
      () =>
        tracer.startActiveSpan('handler', (root) => {
          const child = tracer.startSpan('db.query');
          child.end();
          root.end();
          return {
            traceId: root.spanContext().traceId,
            root: root.spanContext().spanId,
            child: child.spanContext().spanId,
          };
        }),
    );
    const plain = tracer.startSpan('plain');
    plain.end();
    ids.plain = { traceId: plain.spanContext().traceId, spanId: plain.spanContext().spanId };
    await shutdown();
    console.log('RESULT ' + JSON.stringify({ ids, stats: getStats() }));
  `;
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('LOUPE_') && !k.startsWith('OTEL_')),
  );
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--conditions=loupe-source', '--import', 'tsx', '--input-type=module', '-e', script],
      {
        cwd: TEST_DIR,
        env: { ...clean, NODE_OPTIONS: '', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(killer);
      const line = /RESULT (.*)/.exec(stdout)?.[1];
      if (line === undefined) {
        reject(
          new Error(
            `child exited ${code} without a result\nstdout:\n${stdout}\nstderr:\n${stderr}`,
          ),
        );
        return;
      }
      const parsed = JSON.parse(line) as { ids: ChildIds; stats: Record<string, number> };
      resolve({ code, ...parsed, stderr });
    });
  });
}

describe.each(testBackends())('SDK transport → collector (%s)', (kind) => {
  let server: TestServer;
  let api: LoupeApi;

  beforeAll(async () => {
    server = await startTestServer(kind);
    api = loupeApi(server);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('init() from LOUPE_* env: spans arrive in the project with run-context attributes', async () => {
    const project = `sdk-init-${kind}`;
    const { code, ids, stats, stderr } = await runInitChild({
      LOUPE_ENDPOINT: server.url,
      LOUPE_API_KEY: server.apiKey,
      LOUPE_PROJECT: project,
      LOUPE_SAMPLE_RATE: '1',
    });
    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(stats).toMatchObject({ exported: 3, dropped: 0, queued: 0, failedExports: 0 });

    const runs = await waitForRuns(api, { project }, (r) => r.length === 3);
    const rootId = runIdFromOtel(ids.traceId, ids.root);
    const childId = runIdFromOtel(ids.traceId, ids.child);
    const plainId = runIdFromOtel(ids.plain.traceId, ids.plain.spanId);
    expect(runs.map((r) => r.id).sort()).toEqual([rootId, childId, plainId].sort());

    for (const id of [rootId, childId]) {
      const run = await api.run(id);
      expect(run.tags).toEqual(expect.arrayContaining(['e2e', 'sdk']));
      expect(run.session_id).toBe('sess-9');
      expect(run.user_id).toBe('user-9');
      expect(run.metadata).toMatchObject({
        tenant: 'acme',
        attempt: 2,
        prompt_version: 'pv-3',
      });
      expect(JSON.stringify(run.metadata.flags)).toContain('beta');
    }
    const child = await api.run(childId);
    expect(child.name).toBe('db.query');
    expect(child.parent_run_id).toBe(rootId);
    const plain = await api.run(plainId);
    expect(plain.tags).toEqual([]);
    expect(plain.session_id).toBeNull();
    expect(plain.metadata).not.toHaveProperty('tenant');
  });

  it('loupeSpanProcessor and LoupeExporter plug into an existing provider', async () => {
    const project = `sdk-existing-${kind}`;
    const processor = loupeSpanProcessor({
      endpoint: server.url,
      apiKey: server.apiKey,
      project,
      scheduledDelayMillis: 50,
    });
    const exporter = new LoupeExporter({ endpoint: server.url, apiKey: server.apiKey, project });
    const provider = new BasicTracerProvider({
      spanProcessors: [processor, new BatchSpanProcessor(exporter, { scheduledDelayMillis: 50 })],
    });
    const tracer = provider.getTracer('app');
    const root = tracer.startSpan('agent', { attributes: { 'gen_ai.operation.name': 'chat' } });
    const tool = tracer.startSpan('tool', {}, trace.setSpan(ROOT_CONTEXT, root));
    tool.end();
    root.end();
    await provider.shutdown();
    expect((processor as LoupeSpanProcessor).getStats()).toMatchObject({ exported: 2, queued: 0 });

    // both pipelines sent the same two spans: same ids, so the collector holds two runs
    const runs = await waitForRuns(api, { project }, (r) => r.length === 2);
    const traceId = root.spanContext().traceId;
    const toolRun = await waitForRun(api, runIdFromOtel(traceId, tool.spanContext().spanId));
    expect(toolRun.parent_run_id).toBe(runIdFromOtel(traceId, root.spanContext().spanId));
    expect(runs.map((r) => r.name).sort()).toEqual(['agent', 'tool']);
  });

  it('a wrong API key is a permanent failure: counted, not retried', async () => {
    const processor = new LoupeSpanProcessor({
      endpoint: server.url,
      apiKey: 'lp_wrong_key_000000000000000000000000000',
      project: `sdk-denied-${kind}`,
      scheduledDelayMillis: 10,
    });
    const tracer = new BasicTracerProvider({ spanProcessors: [processor] }).getTracer('app');
    tracer.startSpan('denied').end();
    await processor.forceFlush();
    expect(processor.getStats()).toMatchObject({
      exported: 0,
      dropped: 1,
      failedExports: 1,
      retries: 0,
    });
    await processor.shutdown();
  });
});
