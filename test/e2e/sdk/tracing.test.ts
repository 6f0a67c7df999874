// @loupe/sdk tracing end to end: init() → traceable / withRunContext → the real collector
// on each backend → checked field by field through the native query API (read with the
// suite's own plain-fetch client, not the SDK's, so the SDK does not grade itself).
//
// init() works once per process, so it points at a small forwarding proxy whose target
// switches to the collector of the backend under test.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trace } from '@opentelemetry/api';
import type { RunDetail } from '@loupe/contracts';
import { runIdFromOtel } from '@loupe/contracts/ids';
import {
  startTestServer,
  testBackends,
  TEST_API_KEY,
  type TestServer,
} from '@loupe/collector/testing';
import {
  flush,
  getCurrentRunId,
  getCurrentTraceId,
  init,
  shutdown,
  traceable,
  withMetadata,
  withRunContext,
} from '@loupe/sdk';
import { loupeApi, type LoupeApi } from '../../support/otel-helpers.js';
import { startSwitchableProxy, type SwitchableProxy } from '../../support/switchable-proxy.js';

const SERVICE = 'sdk-e2e-tracing';

let proxy: SwitchableProxy;

beforeAll(async () => {
  proxy = await startSwitchableProxy();
  init({
    endpoint: proxy.url,
    apiKey: TEST_API_KEY,
    serviceName: SERVICE, // no `project`: runs go to loupe.project, else the service name
    scheduledDelayMillis: 50,
    redact: (value, info) => {
      if (info.name === 'redact-throws') throw new Error('redactor bug');
      if (info.kind !== 'inputs' || typeof value !== 'object' || value === null) return value;
      return 'password' in value ? { ...value, password: '[redacted]' } : value;
    },
    hideOutputs: (_value, info) => info.name === 'secret-output',
  });
});

afterAll(async () => {
  await shutdown();
  await proxy?.close();
});

/** Details of every run of a trace (UUID), by name; fails listing names when one is missing. */
async function traceRuns(api: LoupeApi, traceId: string): Promise<Map<string, RunDetail>> {
  const summaries = await api.runs({ trace_id: traceId });
  const details = await Promise.all(summaries.map((s) => api.run(s.id)));
  return new Map(details.map((d) => [d.name ?? '', d]));
}

function named(runs: Map<string, RunDetail>, name: string): RunDetail {
  const run = runs.get(name);
  if (run === undefined) throw new Error(`no run "${name}" among [${[...runs.keys()].join(', ')}]`);
  return run;
}

describe.each(testBackends())('@loupe/sdk tracing → collector (%s)', (backend) => {
  let server: TestServer;
  let api: LoupeApi;

  beforeAll(async () => {
    server = await startTestServer(backend);
    proxy.state.target = server.url;
    api = loupeApi(server);
  });

  afterAll(async () => {
    await flush();
    await server?.close();
  });

  it('a nested async tree: ids, parents, run types, inputs/outputs, metadata, tags, session, user', async () => {
    const ids: Record<string, string | undefined> = {};
    const retrieve = traceable(
      async (_query: string) => {
        ids.retrieve = getCurrentRunId();
        await sleep(5);
        return [{ doc: 'a', score: 0.9 }, { doc: 'b' }];
      },
      { name: 'retrieve', runType: 'retriever' },
    );
    const llm = traceable(
      async ({ prompt }: { prompt: string }) => {
        await sleep(2);
        return { text: `answer to ${prompt}` };
      },
      { name: 'llm-call', runType: 'llm', metadata: { temperature: 0.2 } },
    );
    const add = traceable((a: number, b: number) => a + b, { name: 'add', runType: 'tool' });
    const pipeline = traceable(
      async (question: string) => {
        ids.root = getCurrentRunId();
        ids.trace = getCurrentTraceId();
        const docs = await retrieve(question);
        const [answer, sum] = await Promise.all([
          llm({ prompt: question }),
          new Promise<number>((resolve) => setTimeout(() => resolve(add(2, 3)), 5)),
        ]);
        return { answer: answer.text, docs: docs.length, sum };
      },
      {
        name: 'pipeline',
        metadata: { env: 'e2e', attempt: 1, flags: { beta: true } },
        tags: ['e2e', 'tree'],
        sessionId: 'sess-42',
        userId: 'user-7',
        promptVersion: 'v2',
      },
    );

    expect(await pipeline('why is the sky blue?')).toEqual({
      answer: 'answer to why is the sky blue?',
      docs: 2,
      sum: 5,
    });
    await flush();

    const tree = await api.trace(ids.trace!);
    expect(tree.run_count).toBe(4);
    expect(tree.roots).toHaveLength(1);
    const rootNode = tree.roots[0]!;
    expect(rootNode.id).toBe(ids.root);
    expect(rootNode.children.map((c) => c.name).sort()).toEqual(['add', 'llm-call', 'retrieve']);

    const runs = await traceRuns(api, ids.trace!);
    const root = named(runs, 'pipeline');
    expect(root).toMatchObject({
      id: ids.root,
      trace_id: ids.trace,
      parent_run_id: null,
      run_type: 'chain',
      status: 'success',
      error: null,
      session_id: 'sess-42',
      user_id: 'user-7',
      inputs: { input: 'why is the sky blue?' },
      outputs: { answer: 'answer to why is the sky blue?', docs: 2, sum: 5 },
    });
    expect(root.metadata).toMatchObject({
      env: 'e2e',
      attempt: 1,
      flags: '{"beta":true}',
      prompt_version: 'v2',
      otel_scope: '@loupe/sdk',
      service_name: SERVICE,
    });
    expect([...root.tags].sort()).toEqual(['e2e', 'tree']);
    expect(Date.parse(root.end_time!)).toBeGreaterThanOrEqual(Date.parse(root.start_time!));
    // the id getCurrentRunId() gave is the stored id of the span
    expect(root.id).toBe(runIdFromOtel(root.otel_trace_id!, root.otel_span_id!));

    const retrieveRun = named(runs, 'retrieve');
    expect(retrieveRun).toMatchObject({
      id: ids.retrieve,
      parent_run_id: ids.root,
      run_type: 'retriever',
      inputs: { input: 'why is the sky blue?' },
      outputs: { output: [{ doc: 'a', score: 0.9 }, { doc: 'b' }] },
      session_id: 'sess-42',
      user_id: 'user-7',
    });
    // the root's options reach every run below it
    for (const child of ['retrieve', 'llm-call', 'add']) {
      const run = named(runs, child);
      expect(run.parent_run_id).toBe(ids.root);
      expect(run.metadata).toMatchObject({ env: 'e2e', attempt: 1, prompt_version: 'v2' });
      expect([...run.tags].sort()).toEqual(['e2e', 'tree']);
      expect(run.session_id).toBe('sess-42');
      expect(run.user_id).toBe('user-7');
    }
    const llmRun = named(runs, 'llm-call');
    expect(llmRun.run_type).toBe('llm');
    expect(llmRun.inputs).toEqual({ prompt: 'why is the sky blue?' });
    expect(llmRun.outputs).toEqual({ text: 'answer to why is the sky blue?' });
    expect(llmRun.metadata).toMatchObject({ temperature: 0.2 });
    expect(named(runs, 'add')).toMatchObject({
      run_type: 'tool',
      inputs: { args: [2, 3] },
      outputs: { output: 5 },
    });
  });

  it('errors: recorded with message, type and stack; rethrown to the caller unchanged', async () => {
    const ids: Record<string, string | undefined> = {};
    const boom = new TypeError('upstream exploded');
    const failing = traceable(
      async () => {
        ids.child = getCurrentRunId();
        await sleep(1);
        throw boom;
      },
      { name: 'failing-step', runType: 'tool' },
    );
    let caughtInParent: unknown;
    const parent = traceable(
      async () => {
        ids.root = getCurrentRunId();
        ids.trace = getCurrentTraceId();
        try {
          await failing();
        } catch (error) {
          caughtInParent = error;
        }
        throw new Error('parent gave up');
      },
      { name: 'failing-parent' },
    );
    await expect(parent()).rejects.toThrow('parent gave up');
    expect(caughtInParent).toBe(boom);
    await flush();

    const child = await api.run(ids.child!);
    expect(child).toMatchObject({
      name: 'failing-step',
      parent_run_id: ids.root,
      status: 'error',
      error: 'upstream exploded',
      outputs: null,
    });
    expect(child.metadata).toMatchObject({ error_type: 'TypeError' });
    expect(String(child.metadata.error_stacktrace)).toContain('upstream exploded');
    const root = await api.run(ids.root!);
    expect(root).toMatchObject({ status: 'error', error: 'parent gave up' });
    expect(await api.runs({ trace_id: ids.trace!, error: true })).toHaveLength(2);
  });

  it('async generator: one run over the whole stream, items as outputs, children nested; break ends it', async () => {
    const ids: Record<string, string | undefined> = {};
    const tokenize = traceable(async (chunk: string) => chunk.trim(), { name: 'tokenize' });
    const stream = traceable(
      async function* streamAnswer(_prompt: string) {
        ids.stream = getCurrentRunId();
        ids.trace = getCurrentTraceId();
        for (const chunk of ['Hel', 'lo ', 'world']) {
          await sleep(2);
          yield await tokenize(chunk);
        }
        return 'stop';
      },
      { runType: 'llm' },
    );
    const got: string[] = [];
    for await (const token of stream('greet')) got.push(token);
    expect(got).toEqual(['Hel', 'lo', 'world']);

    let cleanedUp = false;
    const endless = traceable(async function* endless() {
      ids.endless = getCurrentRunId();
      try {
        for (let i = 0; ; i++) yield i;
      } finally {
        cleanedUp = true;
      }
    });
    for await (const i of endless()) if (i === 2) break;
    expect(cleanedUp).toBe(true);
    await flush();

    const run = await api.run(ids.stream!);
    expect(run).toMatchObject({
      name: 'streamAnswer',
      run_type: 'llm',
      status: 'success',
      inputs: { input: 'greet' },
      outputs: { output: ['Hel', 'lo', 'world'], return_value: 'stop' },
    });
    expect(await api.runs({ trace_id: ids.trace! })).toHaveLength(1 + 3);
    const children = (await api.runs({ trace_id: ids.trace!, name: 'tokenize' })).map(
      (r) => r.parent_run_id,
    );
    expect(children).toEqual([ids.stream, ids.stream, ids.stream]);
    expect(await api.run(ids.endless!)).toMatchObject({
      status: 'success',
      outputs: { output: [0, 1, 2] },
    });
  });

  it('withRunContext reaches runs of other instrumentations too (threadId, metadata, prompt version)', async () => {
    const ids: Record<string, string | undefined> = {};
    await withRunContext(
      { threadId: 'thread-1', userId: 'u-ctx', tags: ['ctx'], promptVersion: 'pv-9' },
      () =>
        withMetadata({ tenant: 'acme' }, () =>
          traceable(
            async () => {
              ids.root = getCurrentRunId();
              await sleep(1);
              // a span of some third-party instrumentation, started below the traced run
              trace
                .getTracer('third-party-instrumentation')
                .startActiveSpan('foreign-span', (span) => {
                  ids.foreign = getCurrentRunId();
                  span.end();
                });
            },
            { name: 'ctx-root' },
          )(),
        ),
    );
    await flush();

    for (const id of [ids.root!, ids.foreign!]) {
      const run = await api.run(id);
      expect(run.session_id).toBe('thread-1');
      expect(run.user_id).toBe('u-ctx');
      expect(run.tags).toEqual(['ctx']);
      expect(run.metadata).toMatchObject({ tenant: 'acme', prompt_version: 'pv-9' });
    }
    const foreign = await api.run(ids.foreign!);
    expect(foreign.parent_run_id).toBe(ids.root);
    expect(foreign.metadata.otel_scope).toBe('third-party-instrumentation');
    // filters of the native API find them by these fields
    expect((await api.runs({ session_id: 'thread-1' })).map((r) => r.id).sort()).toEqual(
      [ids.root, ids.foreign].sort(),
    );
    expect((await api.runs({ metadata: 'prompt_version=pv-9' })).length).toBe(2);
  });

  it('the project option routes the run and its children; others go to the service name', async () => {
    const ids: Record<string, string | undefined> = {};
    const child = traceable(
      async () => {
        ids.child = getCurrentRunId();
      },
      { name: 'project-child' },
    );
    await traceable(
      async () => {
        ids.root = getCurrentRunId();
        await child();
      },
      { name: 'project-root', project: 'sdk-e2e-other' },
    )();
    await traceable(
      async () => {
        ids.plain = getCurrentRunId();
      },
      { name: 'plain-run' },
    )();
    await flush();

    const other = await api.runs({ project: 'sdk-e2e-other' });
    expect(other.map((r) => r.id).sort()).toEqual([ids.root, ids.child].sort());
    const plain = await api.runs({ project: SERVICE, name: 'plain-run' });
    expect(plain.map((r) => r.id)).toEqual([ids.plain]);
  });

  it('payloads: serialisation rules, redact, hideOutputs, a throwing redact, the size cap', async () => {
    const ids: Record<string, string | undefined> = {};
    const circular: Record<string, unknown> = { id: 1 };
    circular.self = circular;
    await traceable(
      async (_when: Date, _tags: Map<string, number>, _n: bigint, _b: Buffer, _c: unknown) => {
        ids.rules = getCurrentRunId();
        return new Set(['x']);
      },
      { name: 'rules' },
    )(
      new Date('2024-01-02T03:04:05.006Z'),
      new Map([['k', 1]]),
      2n ** 70n,
      Buffer.from('hi'),
      circular,
    );
    await traceable(
      async (_login: { user: string; password: string }) => {
        ids.redacted = getCurrentRunId();
        return 'ok';
      },
      { name: 'login' },
    )({ user: 'bob', password: 'hunter2' });
    await traceable(
      async () => {
        ids.hidden = getCurrentRunId();
        return { token: 'secret' };
      },
      { name: 'secret-output' },
    )();
    const survived = await traceable(
      async (x: number) => {
        ids.throws = getCurrentRunId();
        return x * 2;
      },
      { name: 'redact-throws' },
    )(21);
    expect(survived).toBe(42);
    await traceable(
      async (_big: string) => {
        ids.big = getCurrentRunId();
      },
      { name: 'big-input' },
    )('x'.repeat(300_000));
    await flush();

    const rules = await api.run(ids.rules!);
    expect(rules.inputs).toEqual({
      args: [
        '2024-01-02T03:04:05.006Z',
        { k: 1 },
        '1180591620717411303424',
        { type: 'Buffer', byteLength: 2, base64: 'aGk=' },
        { id: 1, self: '[Circular]' },
      ],
    });
    expect(rules.outputs).toEqual({ output: ['x'] });
    expect((await api.run(ids.redacted!)).inputs).toEqual({ user: 'bob', password: '[redacted]' });
    const hidden = await api.run(ids.hidden!);
    expect(hidden.outputs).toEqual({ __loupe_hidden__: true });
    expect(hidden.inputs).toEqual({});
    const throwing = await api.run(ids.throws!);
    expect(throwing).toMatchObject({
      status: 'success',
      inputs: { __loupe_hidden__: true },
      outputs: { __loupe_hidden__: true },
    });
    const big = await api.run(ids.big!);
    const input = (big.inputs as { input: string }).input;
    expect(input.length).toBeLessThan(70_000);
    expect(input).toMatch(/…\[truncated 234464 chars\]$/);
  });
});
