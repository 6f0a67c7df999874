/**
 * Drives the official `langsmith` SDK (0.12) against a recording stand-in server and
 * feeds the captured bodies through the LangSmith ingest mappers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from 'langsmith';
import { traceable } from 'langsmith/traceable';
import {
  parseRunsMultipart,
  type RunOp,
  type AttachmentPart,
  type FeedbackPart,
} from '../../../../src/modules/ingest/langsmith/multipart.js';
import { applyOpsInOrder } from '../../../../src/modules/ingest/langsmith/langsmith-map.js';
import {
  mapFeedbackBody,
  multipartToWriteBatch,
  runsBatchToWriteBatch,
} from '../../../../src/modules/ingest/langsmith/langsmith-batch.js';
import type { RunUpsert } from '../../../../src/modules/ingest/run-upsert.js';
import { foldById } from '../../../../src/modules/ingest/run-merge.js';
import {
  infoBody,
  partNames,
  startRecorder,
  type CapturedRequest,
  type Recorder,
} from './helpers.js';

const PROJECT = 'loupe-sdk-test';
const FEEDBACK_SESSION = '0b5c2d3e-0000-4000-8000-000000000001';
const PNG_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
const OCTET_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => 255 - i));

const savedEnv = { ...process.env };
beforeAll(() => {
  process.env.LANGSMITH_TRACING = 'true';
  delete process.env.LANGSMITH_ENDPOINT;
  delete process.env.LANGCHAIN_ENDPOINT;
  delete process.env.LANGSMITH_RUNS_ENDPOINTS;
});
afterAll(() => {
  process.env = savedEnv;
});

/** parent chain → failing tool + llm (usage, model metadata, attachments). */
async function runScenario(client: Client): Promise<void> {
  const tool = traceable(
    (query: string): Promise<string> =>
      Promise.reject(new Error(`tool failed: boom (${query.length})`)),
    { name: 'lookup-tool', run_type: 'tool', client, tags: ['tool-tag'] },
  );
  const llm = traceable(
    async (prompt: string) => {
      await new Promise((r) => setTimeout(r, 300)); // lets the create and the update travel separately
      return {
        text: `echo: ${prompt}`,
        usage_metadata: {
          input_tokens: 10,
          output_tokens: 5,
          total_tokens: 15,
          input_token_details: { cache_read: 2 },
          output_token_details: { reasoning: 1 },
        },
      };
    },
    {
      name: 'fake-llm',
      run_type: 'llm',
      client,
      metadata: { ls_model_name: 'gpt-test', ls_provider: 'openai' },
      extractAttachments: (prompt: string) => [
        {
          notes: ['text/plain', Buffer.from('hello attachment')],
          image: ['image/png', PNG_BYTES],
          blob: ['application/octet-stream', OCTET_BYTES],
        },
        { prompt },
      ],
    },
  );
  const parent = traceable(
    async (input: { question: string }) => {
      let toolError = '';
      try {
        await tool(input.question);
      } catch (err) {
        toolError = (err as Error).message;
      }
      const out = await llm(input.question);
      return { answer: out.text, toolError };
    },
    {
      name: 'parent-chain',
      client,
      tags: ['probe', 'parent'],
      metadata: { user_id: 'u-123', thread_id: 'thread-9', flow: 'tracing', prompt_version: 'v3' },
      project_name: PROJECT,
    },
  );
  await parent({ question: 'what is up?' });
  await client.awaitPendingTraceBatches();
}

function byName(runs: RunUpsert[], name: string): RunUpsert {
  const run = runs.find((r) => r.name === name);
  if (!run) throw new Error(`no run named ${name}; got ${runs.map((r) => r.name).join(', ')}`);
  return run;
}

/** Field-by-field checks shared by the three transports. */
function assertTree(runs: RunUpsert[]): { root: RunUpsert; tool: RunUpsert; llm: RunUpsert } {
  expect(runs).toHaveLength(3);
  const root = byName(runs, 'parent-chain');
  const tool = byName(runs, 'lookup-tool');
  const llm = byName(runs, 'fake-llm');

  expect(root).toMatchObject({
    traceId: root.id,
    parentRunId: null,
    runType: 'chain',
    projectName: PROJECT,
    tags: ['probe', 'parent'],
    inputs: { question: 'what is up?' },
    outputs: { answer: 'echo: what is up?', toolError: 'tool failed: boom (11)' },
    userId: 'u-123',
    sessionId: 'thread-9',
  });
  expect(root.dottedOrder).toMatch(new RegExp(`^\\d{8}T\\d{12}Z${root.id}$`));
  expect(root.metadata).toMatchObject({
    user_id: 'u-123',
    flow: 'tracing',
    prompt_version: 'v3',
    LANGSMITH_TRACING: 'true',
  });
  expect(root.extra).toMatchObject({ runtime: { sdk: 'langsmith-js', sdk_version: '0.12.0' } });
  expect(root.error).toBeUndefined();

  expect(tool).toMatchObject({
    traceId: root.id,
    parentRunId: root.id,
    runType: 'tool',
    projectName: PROJECT,
    tags: ['tool-tag'],
    inputs: { input: 'what is up?' },
    error: 'Error: tool failed: boom (11)',
  });
  expect(tool.outputs).toBeUndefined();
  expect(tool.dottedOrder?.startsWith(`${root.dottedOrder}.`)).toBe(true);
  expect(tool.dottedOrder?.endsWith(tool.id)).toBe(true);
  expect(tool.metadata).toMatchObject({ user_id: 'u-123' }); // inherited by children

  expect(llm).toMatchObject({
    traceId: root.id,
    parentRunId: root.id,
    runType: 'llm',
    model: 'gpt-test',
    provider: 'openai',
    inputs: { prompt: 'what is up?' },
    promptTokens: 10,
    completionTokens: 5,
    totalTokens: 15,
    tokenDetails: { cache_read: 2, reasoning: 1 },
  });
  expect(llm.outputs).toMatchObject({ text: 'echo: what is up?' });

  for (const run of runs) {
    expect(run.startTime).toBeInstanceOf(Date);
    expect(run.endTime).toBeInstanceOf(Date);
    expect(run.endTime!.getTime()).toBeGreaterThanOrEqual(run.startTime!.getTime());
    expect(Math.abs(run.startTime!.getTime() - Date.now())).toBeLessThan(60_000);
  }
  expect(tool.startTime!.getTime()).toBeGreaterThanOrEqual(root.startTime!.getTime());
  expect(llm.endTime!.getTime() - llm.startTime!.getTime()).toBeGreaterThanOrEqual(250);
  return { root, tool, llm };
}

function assertAttachments(
  attachments: AttachmentPart[],
  llmId: string,
  opts: { binary: boolean },
): void {
  const find = (name: string) => attachments.find((a) => a.name === name && a.runId === llmId);
  expect(find('notes')).toMatchObject({ contentType: 'text/plain' });
  expect(find('notes')!.data.toString('utf8')).toBe('hello attachment');
  if (opts.binary) {
    expect(find('image')).toMatchObject({ contentType: 'image/png' });
    expect(find('image')!.data.equals(PNG_BYTES)).toBe(true);
    expect(find('blob')).toMatchObject({ contentType: 'application/octet-stream' });
    expect(find('blob')!.data.equals(OCTET_BYTES)).toBe(true);
  }
}

async function parseAll(requests: CapturedRequest[]) {
  const ingest = requests.filter((r) => r.method === 'POST' && r.path === '/runs/multipart');
  const ops: RunOp[] = [];
  const attachments: AttachmentPart[] = [];
  const feedback: FeedbackPart[] = [];
  const perBody: RunOp[][] = [];
  for (const req of ingest) {
    expect(req.headers['x-api-key']).toBe('x');
    const parsed = await parseRunsMultipart(req.body, req.headers['content-type']!);
    expect(parsed.warnings).toEqual([]);
    perBody.push(parsed.runs);
    ops.push(...parsed.runs);
    attachments.push(...parsed.attachments);
    feedback.push(...parsed.feedback);
  }
  return { ingest, ops, attachments, feedback, perBody };
}

describe('langsmith SDK 0.12 → multipart ingest (uncompressed, streamed)', () => {
  let recorder: Recorder;
  beforeAll(async () => {
    recorder = await startRecorder(infoBody());
  });
  afterAll(() => recorder.close());

  it('maps a traced tree with an error, metadata, usage and attachments', async () => {
    const client = new Client({ apiUrl: recorder.url, apiKey: 'x' });
    await runScenario(client);
    const { ingest, ops, attachments } = await parseAll(recorder.requests);

    expect(ingest.length).toBeGreaterThanOrEqual(1);
    expect(ingest.every((r) => r.headers['content-encoding'] === undefined)).toBe(true);
    // the uncompressed path merges create+update of short runs into one post
    const toolOps = ops.filter((o) => o.run.name === 'lookup-tool');
    expect(toolOps.map((o) => o.kind)).toEqual(['post']);
    expect(toolOps[0]!.run.error).toBe('Error: tool failed: boom (11)');

    const runs = applyOpsInOrder(ops);
    const { root, llm } = assertTree(runs);
    assertAttachments(attachments, llm.id, { binary: true });

    // the same through the WriteBatch helper, body by body (how the route will call it)
    const batches = await Promise.all(
      ingest.map(async (r) =>
        multipartToWriteBatch(await parseRunsMultipart(r.body, r.headers['content-type']!)),
      ),
    );
    expect(
      batches.flatMap((b) => b.runs).filter((r) => r.id === root.id).length,
    ).toBeGreaterThanOrEqual(1);
  });

  it('maps feedback sent as POST /feedback and as a batched feedback.<id> part', async () => {
    recorder.requests.length = 0;
    const client = new Client({ apiUrl: recorder.url, apiKey: 'x' });
    await runScenario(client);
    const { ops } = await parseAll(recorder.requests);
    const root = byName(applyOpsInOrder(ops), 'parent-chain');
    recorder.requests.length = 0;

    // no traceId → POST /feedback (JSON)
    const direct = await client.createFeedback(root.id, 'correctness', {
      score: 0.87654,
      comment: 'looks right',
      sessionId: FEEDBACK_SESSION,
    });
    // runId + traceId + multipart enabled → feedback.<id> part of /runs/multipart
    const batched = await client.createFeedback(root.id, 'exact_match', {
      score: true,
      comment: 'identical',
      traceId: root.traceId,
      sessionId: FEEDBACK_SESSION,
      feedbackConfig: { type: 'continuous', min: 0, max: 1 },
      sourceRunId: root.id,
      feedbackSourceType: 'model',
      startTime: root.startTime!.getTime(),
    });
    await client.awaitPendingTraceBatches();

    const post = recorder.requests.find((r) => r.method === 'POST' && r.path === '/feedback');
    expect(post?.headers['content-type']).toContain('application/json');
    const fb = mapFeedbackBody(JSON.parse(post!.body.toString('utf8')));
    expect(fb).toMatchObject({
      id: direct.id,
      runId: root.id,
      key: 'correctness',
      score: 0.8765,
      comment: 'looks right',
      projectId: FEEDBACK_SESSION,
      feedbackSource: { type: 'api', metadata: {} },
    });

    const { feedback } = await parseAll(recorder.requests);
    expect(feedback).toHaveLength(1);
    const mp = recorder.requests.find((r) => r.path === '/runs/multipart')!;
    expect(partNames(mp.body)).toEqual([`feedback.${batched.id}`]);
    const [mapped] = multipartToWriteBatch({
      runs: [],
      attachments: [],
      feedback,
      warnings: [],
    }).feedback!;
    expect(mapped).toMatchObject({
      id: batched.id,
      runId: root.id,
      traceId: root.id,
      key: 'exact_match',
      score: 1,
      comment: 'identical',
      projectId: FEEDBACK_SESSION,
      feedbackConfig: { type: 'continuous', min: 0, max: 1 },
      feedbackSource: { type: 'model', metadata: { __run: { run_id: root.id } } },
    });
  });
});

describe('langsmith SDK 0.12 → multipart ingest (gzip, compressed path)', () => {
  let recorder: Recorder;
  beforeAll(async () => {
    recorder = await startRecorder(infoBody({ gzip: true }));
  });
  afterAll(() => recorder.close());

  it('applies unmerged post/patch parts of one run in body order', async () => {
    const client = new Client({ apiUrl: recorder.url, apiKey: 'x' });
    await runScenario(client);
    const { ingest, ops, attachments, perBody } = await parseAll(recorder.requests);

    expect(ingest.length).toBeGreaterThanOrEqual(1);
    expect(ingest.every((r) => r.headers['content-encoding'] === 'gzip')).toBe(true);
    expect(ingest.every((r) => !r.raw.equals(r.body))).toBe(true);
    // compressed bodies are not merged: the failing tool's post and patch share a body
    const tool = ops.find((o) => o.run.name === 'lookup-tool')!;
    const sameBody = perBody.find((b) => b.some((o) => o.id === tool.id))!;
    expect(sameBody.filter((o) => o.id === tool.id).map((o) => o.kind)).toEqual(['post', 'patch']);
    const toolPatch = sameBody.find((o) => o.id === tool.id && o.kind === 'patch')!;
    expect(toolPatch.run.inputs).toBeUndefined(); // patches exclude inputs
    expect(toolPatch.run.error).toBe('Error: tool failed: boom (11)');

    const runs = applyOpsInOrder(ops);
    const { llm } = assertTree(runs);
    assertAttachments(attachments, llm.id, { binary: true });
  });
});

describe('langsmith SDK 0.12 → /runs/batch fallback (use_multipart_endpoint:false)', () => {
  let recorder: Recorder;
  beforeAll(async () => {
    recorder = await startRecorder(infoBody({ multipart: false }));
  });
  afterAll(() => recorder.close());

  it('maps {post, patch} JSON bodies, including inline attachments', async () => {
    const client = new Client({ apiUrl: recorder.url, apiKey: 'x' });
    await runScenario(client);
    const batches = recorder.requests.filter(
      (r) => r.method === 'POST' && r.path === '/runs/batch',
    );
    expect(batches.length).toBeGreaterThanOrEqual(1);
    expect(recorder.requests.some((r) => r.path === '/runs/multipart')).toBe(false);

    const runs: RunUpsert[] = [];
    const attachments: AttachmentPart[] = [];
    for (const req of batches) {
      expect(req.headers['content-type']).toContain('application/json');
      const { batch, warnings } = runsBatchToWriteBatch(JSON.parse(req.body.toString('utf8')));
      expect(warnings).toEqual([]);
      runs.push(...batch.runs);
      attachments.push(...(batch.attachments ?? []));
    }
    // fold the per-request upserts with the storage merge rule
    const { llm } = assertTree([...foldById(runs).values()]);
    assertAttachments(attachments, llm.id, { binary: true });
  });
});
