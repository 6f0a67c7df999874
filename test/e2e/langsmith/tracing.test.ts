/**
 * The official `langsmith` SDK (0.12) tracing into Loupe: `traceable` with a nested
 * trace (chain → failing tool, caught → llm with model/usage), read back field by field
 * through the LangSmith routes (readRun with child runs, listRuns, /api/v2/runs/*) and
 * through the native query API. Transports: `/api/v1` endpoint with the gzip bodies the
 * server's /info asks for, the root endpoint spelling uncompressed (chunked multipart),
 * and the JSON `/runs/batch` path (the SDK uses it when /info says no multipart).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client, Run } from 'langsmith';
import type { RunTree } from 'langsmith/run_trees';
import { getCurrentRunTree, traceable } from 'langsmith/traceable';
import { startTestServer, testBackends, type TestServer } from '@loupe/collector/testing';
import type { TraceNode } from '@loupe/contracts';
import {
  collect,
  httpJson,
  nativeApi,
  poll,
  sdkClient,
  withEnv,
  type FetchOptions,
  type RecordedRequest,
} from './helpers.js';

interface Scenario {
  root: RunTree;
  tool: RunTree;
  llm: RunTree;
  question: string;
  result: { answer: string; toolError: string | undefined };
}

const USAGE = {
  input_tokens: 11,
  output_tokens: 7,
  total_tokens: 18,
  input_token_details: { cache_read: 3 },
  output_token_details: { reasoning: 2 },
};

/** root chain → tool that throws (caught by the chain) → llm child with model + usage. */
async function runScenario(client: Client, project: string, question: string): Promise<Scenario> {
  const seen: Partial<Record<'root' | 'tool' | 'llm', RunTree>> = {};
  const common = { client, project_name: project, tracingEnabled: true };
  const tool = traceable(
    async (query: string): Promise<string> => {
      seen.tool = getCurrentRunTree();
      await new Promise((r) => setTimeout(r, 5));
      throw new Error(`tool failed: ${query}`);
    },
    { ...common, name: 'lookup-tool', run_type: 'tool', tags: ['tool-tag'] },
  );
  const llm = traceable(
    async (prompt: string) => {
      seen.llm = getCurrentRunTree();
      // longer than the SDK's 250 ms flush delay: the creates of the root and this run
      // travel in one request, their updates in a later one (post and patch split)
      await new Promise((r) => setTimeout(r, 400));
      return { text: `echo: ${prompt}`, usage_metadata: USAGE };
    },
    {
      ...common,
      name: 'fake-llm',
      run_type: 'llm',
      tags: ['llm-tag'],
      metadata: { ls_model_name: 'gpt-e2e', ls_provider: 'openai', temperature: 0.5 },
    },
  );
  const chain = traceable(
    async (input: { question: string }) => {
      seen.root = getCurrentRunTree();
      let toolError: string | undefined;
      try {
        await tool(input.question);
      } catch (error) {
        toolError = (error as Error).message;
      }
      const out = await llm(`q: ${input.question}`);
      return { answer: out.text, toolError };
    },
    {
      ...common,
      name: 'root-chain',
      run_type: 'chain',
      tags: ['e2e', 'root'],
      metadata: { user_id: 'u-42', flow: 'e2e', attempt: 1 },
    },
  );
  const result = await chain({ question });
  await client.awaitPendingTraceBatches();
  const { root, tool: t, llm: l } = seen;
  if (!root || !t || !l) throw new Error('a traced function did not run');
  return { root, tool: t, llm: l, question, result };
}

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
const sorted = (xs: readonly string[] | undefined) => [...(xs ?? [])].sort();

interface Variant {
  label: string;
  /** base URL the SDK is given */
  apiUrl: (url: string) => string;
  env: Record<string, string>;
  fetch: FetchOptions;
  /** what the recorded ingest requests must show */
  ingest: (requests: RecordedRequest[], prefix: string) => void;
}

const ingestRequests = (requests: RecordedRequest[], path: string) =>
  requests.filter((r) => r.method === 'POST' && r.path === path);

const VARIANTS: Variant[] = [
  {
    label: '/api/v1 endpoint, gzip multipart (as /info asks)',
    apiUrl: (url) => `${url}/api/v1`,
    env: {},
    fetch: {},
    ingest(requests, prefix) {
      const posts = ingestRequests(requests, `${prefix}/runs/multipart`);
      expect(posts.length).toBeGreaterThanOrEqual(2);
      for (const r of posts) {
        expect(r.headers['content-encoding']).toBe('gzip');
        expect(r.status).toBe(202);
      }
      expect(ingestRequests(requests, `${prefix}/runs/batch`)).toEqual([]);
    },
  },
  {
    label: 'root endpoint spelling, uncompressed chunked multipart',
    apiUrl: (url) => url,
    env: { LANGSMITH_DISABLE_RUN_COMPRESSION: 'true' },
    fetch: {},
    ingest(requests, prefix) {
      expect(prefix).toBe('');
      const posts = ingestRequests(requests, '/runs/multipart');
      expect(posts.length).toBeGreaterThanOrEqual(2);
      for (const r of posts) {
        expect(r.headers['content-encoding']).toBeUndefined();
        expect(r.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/);
        expect(r.status).toBe(202);
      }
      // nothing went to the /api/v1 spelling
      expect(requests.filter((r) => r.path.startsWith('/api/v1/'))).toEqual([]);
    },
  },
  {
    label: '/runs/batch JSON path (/info says use_multipart_endpoint: false)',
    apiUrl: (url) => `${url}/api/v1`,
    env: {},
    fetch: {
      rewriteJson: (path, body) =>
        path.endsWith('/info')
          ? {
              ...(body as Record<string, unknown>),
              batch_ingest_config: {
                ...((body as Record<string, unknown>).batch_ingest_config as object),
                use_multipart_endpoint: false,
              },
            }
          : body,
    },
    ingest(requests, prefix) {
      expect(ingestRequests(requests, `${prefix}/runs/multipart`)).toEqual([]);
      const posts = ingestRequests(requests, `${prefix}/runs/batch`);
      expect(posts.length).toBeGreaterThanOrEqual(2);
      for (const r of posts) expect(r.status).toBe(202);
    },
  },
];

describe.each(testBackends())('LangSmith SDK tracing → Loupe [%s]', (kind) => {
  let server: TestServer;
  const savedTracing = process.env.LANGSMITH_TRACING;

  beforeAll(async () => {
    process.env.LANGSMITH_TRACING = 'true';
    server = await startTestServer(kind);
  });
  afterAll(async () => {
    if (savedTracing === undefined) delete process.env.LANGSMITH_TRACING;
    else process.env.LANGSMITH_TRACING = savedTracing;
    await server?.close();
  });

  it.each(VARIANTS.map((v, i) => [v.label, v, i] as const))(
    '%s: nested trace reads back through the LangSmith routes and the native API',
    async (_label, variant, index) => {
      const apiUrl = variant.apiUrl(server.url);
      const prefix = new URL(apiUrl).pathname.replace(/\/$/, '');
      const { client, requests } = withEnv(variant.env, () =>
        sdkClient(apiUrl, server.apiKey, {}, variant.fetch),
      );
      const project = `e2e-tracing-${kind}-${index}`;
      const question = `what is up? #${index}`;
      const before = Date.now();
      const s = await runScenario(client, project, question);
      const after = Date.now();

      // --- what the traced code saw ---
      expect(s.result).toEqual({
        answer: `echo: q: ${question}`,
        toolError: `tool failed: ${question}`,
      });
      expect(s.tool.trace_id).toBe(s.root.id);
      expect(s.tool.dotted_order.startsWith(`${s.root.dotted_order}.`)).toBe(true);
      expect(s.llm.dotted_order.startsWith(`${s.root.dotted_order}.`)).toBe(true);

      const native = nativeApi(server.url, server.apiKey);
      // the SDK sends in the background: wait until all three runs have ended
      const trace = await poll('the trace with 3 finished runs', async () => {
        const t = await native.trace(s.root.id);
        const all: TraceNode[] = [];
        const walk = (n: TraceNode) => {
          all.push(n);
          n.children.forEach(walk);
        };
        t.roots.forEach(walk);
        return all.length === 3 && all.every((n) => n.status !== 'pending') ? t : undefined;
      });

      // --- transport as the variant demands; no SDK request failed ---
      variant.ingest(requests, prefix);
      expect(requests.filter((r) => r.status >= 400)).toEqual([]);

      // --- LangSmith routes ---
      const projectRow = await client.readProject({ projectName: project });
      expect(projectRow.name).toBe(project);
      expect(projectRow.run_count).toBe(1);

      const rootRun = await client.readRun(s.root.id, { loadChildRuns: true });
      expect(rootRun).toMatchObject({
        id: s.root.id,
        name: 'root-chain',
        run_type: 'chain',
        trace_id: s.root.id,
        dotted_order: s.root.dotted_order,
        session_id: projectRow.id,
        inputs: { question },
        outputs: { answer: `echo: q: ${question}`, toolError: `tool failed: ${question}` },
        error: null,
        status: 'success',
      });
      expect(rootRun.parent_run_id ?? null).toBeNull();
      expect(sorted(rootRun.tags)).toEqual(['e2e', 'root']);
      expect(rootRun.extra?.metadata).toMatchObject({ user_id: 'u-42', flow: 'e2e', attempt: 1 });
      expect(rootRun.extra?.runtime).toMatchObject({ sdk: 'langsmith-js' });
      expect(new Date(rootRun.start_time!).toISOString()).toBe(iso(s.root.start_time));
      expect(new Date(rootRun.end_time!).toISOString()).toBe(iso(s.root.end_time));
      expect(new Date(rootRun.start_time!).getTime()).toBeGreaterThanOrEqual(before);
      expect(new Date(rootRun.end_time!).getTime()).toBeLessThanOrEqual(after);

      const children = rootRun.child_runs ?? [];
      expect(children.map((c) => c.id)).toEqual([s.tool.id, s.llm.id]);
      const [toolRun, llmRun] = children as [Run, Run];
      expect(toolRun).toMatchObject({
        id: s.tool.id,
        name: 'lookup-tool',
        run_type: 'tool',
        parent_run_id: s.root.id,
        trace_id: s.root.id,
        dotted_order: s.tool.dotted_order,
        session_id: projectRow.id,
        inputs: { input: question },
        error: `Error: tool failed: ${question}`,
        status: 'error',
      });
      expect(toolRun.outputs ?? null).toBeNull();
      expect(sorted(toolRun.tags)).toEqual(sorted(s.tool.tags));
      expect(toolRun.tags).toContain('tool-tag');
      // user metadata is inherited by children
      expect(toolRun.extra?.metadata).toMatchObject({ user_id: 'u-42', flow: 'e2e' });
      expect(new Date(toolRun.end_time!).toISOString()).toBe(iso(s.tool.end_time));

      expect(llmRun).toMatchObject({
        id: s.llm.id,
        name: 'fake-llm',
        run_type: 'llm',
        parent_run_id: s.root.id,
        trace_id: s.root.id,
        dotted_order: s.llm.dotted_order,
        inputs: { input: `q: ${question}` },
        outputs: { text: `echo: q: ${question}`, usage_metadata: USAGE },
        error: null,
        status: 'success',
        prompt_tokens: 11,
        completion_tokens: 7,
        total_tokens: 18,
      });
      expect(llmRun.tags).toContain('llm-tag');
      expect(llmRun.extra?.metadata).toMatchObject({
        ls_model_name: 'gpt-e2e',
        ls_provider: 'openai',
        temperature: 0.5,
        usage_metadata: USAGE,
        user_id: 'u-42',
      });
      expect(new Date(llmRun.start_time!).toISOString()).toBe(iso(s.llm.start_time));
      expect(new Date(llmRun.end_time!).toISOString()).toBe(iso(s.llm.end_time));
      // siblings in execution order, inside the parent's time span
      expect(s.tool.start_time).toBeLessThanOrEqual(s.llm.start_time);
      expect(s.llm.end_time!).toBeLessThanOrEqual(s.root.end_time!);

      // listRuns (POST /runs/query)
      const all = await collect(client.listRuns({ projectName: project }));
      expect(sorted(all.map((r) => r.id))).toEqual(sorted([s.root.id, s.tool.id, s.llm.id]));
      const listedLlm = all.find((r) => r.id === s.llm.id);
      expect(listedLlm).toMatchObject({ total_tokens: 18, status: 'success' });
      expect(listedLlm?.extra?.metadata).toMatchObject({ ls_model_name: 'gpt-e2e' });
      const roots = await collect(client.listRuns({ projectName: project, isRoot: true }));
      expect(roots.map((r) => r.id)).toEqual([s.root.id]);
      const llms = await collect(client.listRuns({ projectName: project, runType: 'llm' }));
      expect(llms.map((r) => r.id)).toEqual([s.llm.id]);
      const errored = await collect(client.listRuns({ projectName: project, error: true }));
      expect(errored.map((r) => r.id)).toEqual([s.tool.id]);
      const byTrace = await collect(client.listRuns({ traceId: s.root.id }));
      expect(sorted(byTrace.map((r) => r.id))).toEqual(sorted([s.root.id, s.tool.id, s.llm.id]));
      const childrenOnly = await collect(client.listRuns({ traceId: s.root.id, isRoot: false }));
      expect(sorted(childrenOnly.map((r) => r.id))).toEqual(sorted([s.tool.id, s.llm.id]));
      // the same, one run per page: following the cursors still finds every child
      const paged: string[] = [];
      let cursor: string | null = null;
      for (let pages = 0; pages < 10; pages++) {
        type Page = { runs: Run[]; cursors: { next: string | null } };
        const page: Page = await httpJson<Page>(
          server.url,
          server.apiKey,
          'POST',
          `${prefix}/runs/query`,
          { trace: s.root.id, is_root: false, limit: 1, ...(cursor ? { cursor } : {}) },
        );
        paged.push(...page.runs.map((r) => r.id));
        cursor = page.cursors.next;
        if (cursor === null) break;
      }
      expect(cursor).toBeNull();
      expect(sorted(paged)).toEqual(sorted([s.tool.id, s.llm.id]));
      const byId = await collect(client.listRuns({ id: [s.tool.id] }));
      expect(byId.map((r) => r.error)).toEqual([`Error: tool failed: ${question}`]);

      // v2 (what the generated client calls): POST /api/v2/runs/query, GET /api/v2/runs/:id
      type V2 = { items: Run[]; next_cursor: string | null };
      const v2 = await httpJson<V2>(server.url, server.apiKey, 'POST', '/api/v2/runs/query', {
        project_ids: [projectRow.id],
        min_start_time: new Date(before - 3_600_000).toISOString(),
      });
      expect(sorted(v2.items.map((r) => r.id))).toEqual(sorted([s.root.id, s.tool.id, s.llm.id]));
      expect(v2.next_cursor).toBeNull();
      const v2Roots = await httpJson<V2>(server.url, server.apiKey, 'POST', '/api/v2/runs/query', {
        project_ids: [projectRow.id],
        min_start_time: new Date(before - 3_600_000).toISOString(),
        is_root: true,
      });
      expect(v2Roots.items.map((r) => r.id)).toEqual([s.root.id]);
      const v2Tool = v2.items.find((r) => r.id === s.tool.id);
      expect(v2Tool).toMatchObject({ status: 'error', parent_run_id: s.root.id });
      const v2Llm = await httpJson<Run>(
        server.url,
        server.apiKey,
        'GET',
        `/api/v2/runs/${s.llm.id}?project_id=${projectRow.id}`,
      );
      expect(v2Llm).toMatchObject({ id: s.llm.id, prompt_tokens: 11, completion_tokens: 7 });
      // a start window after the trace finds nothing
      const v2Later = await httpJson<V2>(server.url, server.apiKey, 'POST', '/api/v2/runs/query', {
        project_ids: [projectRow.id],
        min_start_time: new Date(after + 60_000).toISOString(),
      });
      expect(v2Later.items).toEqual([]);

      // --- native API ---
      expect(trace.trace_id).toBe(s.root.id);
      expect(trace.run_count).toBe(3);
      expect(trace.roots.map((r) => r.id)).toEqual([s.root.id]);
      const rootNode = trace.roots[0]!;
      expect(rootNode.parent_run_id).toBeNull();
      expect(rootNode.project_id).toBe(projectRow.id);
      expect(sorted(rootNode.children.map((c) => c.id))).toEqual(sorted([s.tool.id, s.llm.id]));
      for (const c of rootNode.children) {
        expect(c.parent_run_id).toBe(s.root.id);
        expect(c.trace_id).toBe(s.root.id);
        expect(c.children).toEqual([]);
      }

      const nRoot = await native.run(s.root.id);
      expect(nRoot).toMatchObject({
        id: s.root.id,
        trace_id: s.root.id,
        parent_run_id: null,
        project_id: projectRow.id,
        dotted_order: s.root.dotted_order,
        name: 'root-chain',
        run_type: 'chain',
        status: 'success',
        error: null,
        inputs: { question },
        outputs: { answer: `echo: q: ${question}`, toolError: `tool failed: ${question}` },
        user_id: 'u-42',
        start_time: iso(s.root.start_time),
        end_time: iso(s.root.end_time),
        latency_ms: s.root.end_time! - s.root.start_time,
        feedback: [],
      });
      expect(sorted(nRoot.tags)).toEqual(['e2e', 'root']);
      expect(nRoot.metadata).toMatchObject({ user_id: 'u-42', flow: 'e2e', attempt: 1 });

      const nTool = await native.run(s.tool.id);
      expect(nTool).toMatchObject({
        id: s.tool.id,
        parent_run_id: s.root.id,
        trace_id: s.root.id,
        name: 'lookup-tool',
        run_type: 'tool',
        status: 'error',
        error: `Error: tool failed: ${question}`,
        inputs: { input: question },
        outputs: null,
        start_time: iso(s.tool.start_time),
        end_time: iso(s.tool.end_time),
      });
      expect(nTool.tags).toContain('tool-tag');

      const nLlm = await native.run(s.llm.id);
      expect(nLlm).toMatchObject({
        id: s.llm.id,
        parent_run_id: s.root.id,
        name: 'fake-llm',
        run_type: 'llm',
        status: 'success',
        error: null,
        model: 'gpt-e2e',
        provider: 'openai',
        prompt_tokens: 11,
        completion_tokens: 7,
        total_tokens: 18,
        token_details: { cache_read: 3, reasoning: 2 },
        inputs: { input: `q: ${question}` },
        outputs: { text: `echo: q: ${question}` },
        start_time: iso(s.llm.start_time),
        end_time: iso(s.llm.end_time),
      });
      expect(nLlm.tags).toContain('llm-tag');
      expect(nLlm.metadata).toMatchObject({ ls_model_name: 'gpt-e2e', temperature: 0.5 });

      const list = await native.runs({ project });
      expect(sorted(list.runs.map((r) => r.id))).toEqual(sorted([s.root.id, s.tool.id, s.llm.id]));
      expect((await native.runs({ project, root: 'true' })).runs.map((r) => r.id)).toEqual([
        s.root.id,
      ]);
      expect((await native.runs({ project, error: 'true' })).runs.map((r) => r.id)).toEqual([
        s.tool.id,
      ]);
      expect((await native.runs({ project, tag: 'llm-tag' })).runs.map((r) => r.id)).toEqual([
        s.llm.id,
      ]);
      expect(
        sorted((await native.runs({ project, metadata: 'flow=e2e' })).runs.map((r) => r.id)),
      ).toEqual(sorted([s.root.id, s.tool.id, s.llm.id]));
    },
  );
});
