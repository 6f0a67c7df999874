import { describe, expect, it } from 'vitest';
import {
  applyOpsInOrder,
  mapFeedback,
  mapRunCreate,
  mapRunUpdate,
} from '../../../../src/modules/ingest/langsmith/langsmith-map.js';
import {
  mapFeedbackBody,
  mapRunsBatch,
  mapSingleRunCreate,
  mapSingleRunUpdate,
  runsBatchToWriteBatch,
} from '../../../../src/modules/ingest/langsmith/langsmith-batch.js';
import { parseTimestamp } from '../../../../src/modules/ingest/langsmith/langsmith-values.js';
import { LoupeError } from '../../../../src/errors.js';

const ROOT = '01a21b93-47f2-7000-8000-01efe8cb9a5c';
const CHILD = '01a21b93-4a5e-7000-8000-0123456789ab';
const OTHER = '01a21b93-ffff-7000-8000-0123456789ab';
const ROOT_DOTTED = `20261127T055606770001Z${ROOT}`;
const CHILD_DOTTED = `${ROOT_DOTTED}.20261127T055607390004Z${CHILD}`;

const base = { id: ROOT, name: 'r', run_type: 'chain', start_time: '2026-11-27T05:56:06.770001Z' };

function badRequestMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(LoupeError);
    expect((err as LoupeError).statusCode).toBe(400);
    return (err as LoupeError).message;
  }
  throw new Error('expected a 400');
}

describe('timestamps', () => {
  it('accepts ISO with µs, offsets, no zone, and epoch ms numbers', () => {
    const iso = (v: unknown) => {
      const p = parseTimestamp(v);
      if (!p.ok) throw new Error(p.problem);
      return p.value?.toISOString();
    };
    expect(iso('2026-11-27T05:56:06.770001Z')).toBe('2026-11-27T05:56:06.770Z');
    expect(iso('2026-11-27T06:56:06.5+01:00')).toBe('2026-11-27T05:56:06.500Z');
    expect(iso('2026-11-27T05:56:06.123456')).toBe('2026-11-27T05:56:06.123Z');
    expect(iso('2026-11-27 05:56:06-0130')).toBe('2026-11-27T07:26:06.000Z');
    expect(iso(1795758967391)).toBe(new Date(1795758967391).toISOString());
    expect(iso(null)).toBeUndefined();
  });

  it('rejects invalid timestamps with the run and field in the message', () => {
    const cases: [unknown, RegExp][] = [
      ['yesterday', /not an ISO 8601 timestamp/],
      ['2026-02-30T00:00:00Z', /not a valid date\/time/],
      ['2026-11-27T25:00:00Z', /not a valid date\/time/],
      [1795758967, /looks like epoch seconds/],
      [Number.NaN, /epoch milliseconds or an ISO 8601 string/],
      [true, /ISO 8601 string or epoch milliseconds/],
    ];
    for (const [value, pattern] of cases) {
      const msg = badRequestMessage(() => mapRunCreate({ ...base, end_time: value }));
      expect(msg).toContain(`run ${ROOT}: field 'end_time'`);
      expect(msg).toMatch(pattern);
    }
    expect(badRequestMessage(() => mapRunCreate({ ...base, start_time: '27/11/2026' }))).toContain(
      "'start_time'",
    );
  });
});

describe('mapRunCreate / mapRunUpdate', () => {
  it('validates run_type (case-insensitive) and required fields', () => {
    expect(mapRunCreate({ ...base, run_type: 'LLM' }).runType).toBe('llm');
    expect(badRequestMessage(() => mapRunCreate({ ...base, run_type: 'banana' }))).toBe(
      `run ${ROOT}: field 'run_type' must be one of llm, chain, tool, retriever, embedding, prompt, parser, agent; got "banana"`,
    );
    expect(badRequestMessage(() => mapRunCreate({ ...base, run_type: undefined }))).toContain(
      "'run_type' is required",
    );
    expect(badRequestMessage(() => mapRunCreate({ ...base, name: '' }))).toContain(
      "'name' is required",
    );
    expect(badRequestMessage(() => mapRunCreate({ ...base, id: 'nope' }))).toContain(
      "field 'id' must be a UUID",
    );
    expect(badRequestMessage(() => mapRunCreate([base]))).toContain('must be a JSON object');
    expect(mapRunUpdate(ROOT, { trace_id: ROOT, run_type: undefined }).runType).toBeUndefined();
  });

  it('trace id: trace_id, else dotted_order root, else own id for a parentless create', () => {
    expect(mapRunCreate(base)).toMatchObject({ traceId: ROOT, parentRunId: null });
    expect(mapRunCreate({ ...base, id: CHILD, dotted_order: CHILD_DOTTED })).toMatchObject({
      traceId: ROOT,
      parentRunId: ROOT, // derived from the dotted order
    });
    expect(badRequestMessage(() => mapRunCreate({ ...base, id: CHILD, parent_run_id: ROOT }))).toBe(
      `run ${CHILD}: field 'trace_id' is required for a child run (or send dotted_order)`,
    );
    expect(badRequestMessage(() => mapRunUpdate(ROOT, { end_time: 1795758967391 }))).toContain(
      "field 'trace_id' is required on run updates",
    );
    // inside one body an update inherits the trace of an earlier op of the same run
    const [run] = applyOpsInOrder([
      { kind: 'post', id: CHILD, run: { ...base, id: CHILD, parent_run_id: ROOT, trace_id: ROOT } },
      { kind: 'patch', id: CHILD, run: { end_time: 1795758967391 } },
    ]);
    expect(run).toMatchObject({ traceId: ROOT, parentRunId: ROOT });
    expect(run!.endTime).toBeInstanceOf(Date);
  });

  it('checks dotted_order shape and consistency', () => {
    expect(badRequestMessage(() => mapRunCreate({ ...base, dotted_order: 'garbage' }))).toContain(
      "field 'dotted_order' is malformed",
    );
    expect(
      badRequestMessage(() => mapRunCreate({ ...base, id: CHILD, dotted_order: ROOT_DOTTED })),
    ).toContain("must end with the run's own id");
    expect(
      badRequestMessage(() =>
        mapRunCreate({ ...base, id: CHILD, dotted_order: CHILD_DOTTED, parent_run_id: OTHER }),
      ),
    ).toContain("field 'parent_run_id'");
    expect(
      badRequestMessage(() =>
        mapRunCreate({ ...base, id: CHILD, dotted_order: CHILD_DOTTED, trace_id: OTHER }),
      ),
    ).toContain("field 'trace_id'");
  });

  it('maps scalar fields, metadata-derived ids and keeps payloads as sent', () => {
    const run = mapRunCreate({
      ...base,
      id: ROOT.toUpperCase(),
      session_name: 'proj',
      session_id: OTHER,
      tags: ['x', 'x', 'y'],
      reference_example_id: CHILD,
      inputs: { args: [1, null, { a: [] }] },
      outputs: null,
      serialized: { huge: true },
      child_runs: [],
      extra: {
        metadata: {
          conversation_id: 'c-1',
          user_id: 42,
          prompt_version: 'v2',
          ls_provider: 'anthropic',
        },
        invocation_params: { model: 'claude-x' },
      },
    });
    expect(run).toEqual({
      id: ROOT,
      traceId: ROOT,
      parentRunId: null,
      name: 'r',
      runType: 'chain',
      startTime: new Date('2026-11-27T05:56:06.770Z'),
      projectName: 'proj',
      projectId: OTHER,
      tags: ['x', 'y'],
      referenceExampleId: CHILD,
      inputs: { args: [1, null, { a: [] }] },
      extra: {
        metadata: {
          conversation_id: 'c-1',
          user_id: 42,
          prompt_version: 'v2',
          ls_provider: 'anthropic',
        },
        invocation_params: { model: 'claude-x' },
      },
      metadata: {
        conversation_id: 'c-1',
        user_id: 42,
        prompt_version: 'v2',
        ls_provider: 'anthropic',
      },
      sessionId: 'c-1',
      userId: '42',
      model: 'claude-x',
      provider: 'anthropic',
    });
  });

  it('rejects wrongly typed schema fields', () => {
    expect(badRequestMessage(() => mapRunCreate({ ...base, tags: ['a', 1] }))).toContain(
      "'tags' must be an array of strings",
    );
    expect(badRequestMessage(() => mapRunCreate({ ...base, session_id: 'proj' }))).toContain(
      "'session_id' must be a UUID",
    );
    expect(badRequestMessage(() => mapRunCreate({ ...base, error: { m: 1 } }))).toContain(
      "'error' must be a string",
    );
    expect(badRequestMessage(() => mapRunCreate({ ...base, events: {} }))).toContain(
      "'events' must be an array",
    );
    expect(badRequestMessage(() => mapRunCreate({ ...base, extra: [] }))).toContain(
      "'extra' must be an object",
    );
    expect(badRequestMessage(() => mapRunCreate({ ...base, prompt_tokens: -1 }))).toContain(
      "'prompt_tokens'",
    );
    expect(badRequestMessage(() => mapRunUpdate(ROOT, { id: CHILD, trace_id: ROOT }))).toContain(
      'does not match',
    );
  });

  it('usage: top-level fields win, then usage_metadata, then outputs', () => {
    const fromTop = mapRunCreate({
      ...base,
      prompt_tokens: 7,
      completion_tokens: 3,
      prompt_cost: '0.001',
      completion_cost: 0.002,
      extra: {
        metadata: { usage_metadata: { input_tokens: 100, output_tokens: 50, total_tokens: 150 } },
      },
    });
    expect(fromTop).toMatchObject({ promptTokens: 7, completionTokens: 3, totalTokens: 150 });
    expect(fromTop.cost).toBeCloseTo(0.003);

    const fromMeta = mapRunCreate({
      ...base,
      extra: {
        metadata: {
          usage_metadata: {
            input_tokens: 100,
            output_tokens: 50,
            input_token_details: { cache_read: 20, cache_creation: 5, audio: 1 },
            output_token_details: { reasoning: 9, bogus: 'x' },
            total_cost: 0.5,
          },
        },
      },
    });
    expect(fromMeta).toMatchObject({
      promptTokens: 100,
      completionTokens: 50,
      totalTokens: 150,
      cost: 0.5,
      tokenDetails: { cache_read: 20, cache_write: 5, input_audio: 1, reasoning: 9 },
    });

    const fromLegacy = mapRunCreate({
      ...base,
      outputs: {
        llm_output: { token_usage: { prompt_tokens: 4, completion_tokens: 6, total_tokens: 10 } },
      },
    });
    expect(fromLegacy).toMatchObject({ promptTokens: 4, completionTokens: 6, totalTokens: 10 });
    const fromOutputs = mapRunCreate({
      ...base,
      outputs: { usage_metadata: { input_tokens: 'junk', output_tokens: 2 } },
    });
    expect(fromOutputs.promptTokens).toBeUndefined();
    expect(fromOutputs.completionTokens).toBe(2);
  });

  it('first_token_time: explicit, else the first new_token event', () => {
    const explicit = mapRunCreate({ ...base, first_token_time: '2026-11-27T05:56:07Z' });
    expect(explicit.firstTokenTime?.toISOString()).toBe('2026-11-27T05:56:07.000Z');
    const fromEvents = mapRunCreate({
      ...base,
      events: [
        { name: 'start', time: '2026-11-27T05:56:06.800Z' },
        { name: 'new_token', time: '2026-11-27T05:56:07.200Z', kwargs: { token: 'b' } },
        { name: 'new_token', time: '2026-11-27T05:56:07.100Z', kwargs: { token: 'a' } },
      ],
    });
    expect(fromEvents.firstTokenTime?.toISOString()).toBe('2026-11-27T05:56:07.100Z');
  });

  it('null / absent fields are not carried; later carried fields win in order', () => {
    const [run] = applyOpsInOrder([
      {
        kind: 'post',
        id: ROOT,
        run: { ...base, inputs: { a: 1 }, tags: ['t1'], extra: { metadata: { k1: 1, k2: 1 } } },
      },
      {
        kind: 'patch',
        id: ROOT,
        run: {
          trace_id: ROOT,
          outputs: { o: 1 },
          inputs: null,
          tags: ['t2'],
          extra: { metadata: { k2: 2 } },
        },
      },
      {
        kind: 'patch',
        id: ROOT,
        run: { trace_id: ROOT, outputs: { o: 2 }, error: 'boom', name: 'renamed' },
      },
    ]);
    expect(run).toMatchObject({
      inputs: { a: 1 },
      outputs: { o: 2 },
      error: 'boom',
      name: 'renamed',
      tags: ['t1', 't2'],
      metadata: { k1: 1, k2: 2 },
    });
  });
});

describe('mapFeedback', () => {
  const fb = { id: CHILD, run_id: ROOT, key: 'correctness' };
  it('maps fields, scores and the camelCase feedbackConfig quirk', () => {
    expect(
      mapFeedback({
        ...fb,
        trace_id: ROOT,
        session_id: OTHER,
        score: true,
        value: 'good',
        comment: null,
        correction: { answer: 'x' },
        feedback_source: { type: 'api', metadata: {} },
        feedbackConfig: { type: 'continuous' },
        created_at: '2026-11-27T05:58:24.651Z',
        start_time: '2026-11-27T05:58:24.651Z',
        extend_trace_retention: true,
      }),
    ).toEqual({
      id: CHILD,
      runId: ROOT,
      traceId: ROOT,
      projectId: OTHER,
      key: 'correctness',
      score: 1,
      value: 'good',
      comment: null,
      correction: { answer: 'x' },
      feedbackSource: { type: 'api', metadata: {} },
      feedbackConfig: { type: 'continuous' },
      createdAt: new Date('2026-11-27T05:58:24.651Z'),
    });
    expect(mapFeedback({ ...fb, score: false }).score).toBe(0);
    expect(mapFeedback({ ...fb, score: 0.25, feedback_config: { type: 'x' } })).toMatchObject({
      score: 0.25,
      feedbackConfig: { type: 'x' },
    });
    expect(mapFeedback({ key: 'k', run_id: null, session_id: OTHER })).toMatchObject({
      runId: null,
      projectId: OTHER,
    });
    expect(mapFeedback({ key: 'k', run_id: ROOT }).id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('rejects bad feedback with precise messages', () => {
    expect(badRequestMessage(() => mapFeedbackBody({ ...fb, key: '' }))).toBe(
      `POST /feedback: feedback ${CHILD}: field 'key' is required (non-empty string); got ""`,
    );
    expect(badRequestMessage(() => mapFeedback({ ...fb, score: '0.5' }))).toContain(
      "'score' must be a number",
    );
    expect(badRequestMessage(() => mapFeedback({ ...fb, run_id: 'x' }))).toContain(
      "'run_id' must be a UUID",
    );
    expect(badRequestMessage(() => mapFeedback({ key: 'k' }))).toContain(
      "'run_id' is required unless session_id",
    );
    expect(badRequestMessage(() => mapFeedback({ ...fb, start_time: 'soon' }))).toContain(
      "'start_time'",
    );
    expect(badRequestMessage(() => mapFeedback({ ...fb, id: 'x' }))).toContain(
      "feedback: field 'id' must be a UUID",
    );
  });
});

describe('JSON ingest bodies', () => {
  const post = { ...base, trace_id: ROOT, dotted_order: ROOT_DOTTED, inputs: { q: 1 } };
  const patch = {
    id: ROOT,
    trace_id: ROOT,
    dotted_order: ROOT_DOTTED,
    end_time: 1795758967391,
    outputs: { a: 1 },
  };

  it('/runs/batch applies posts first, then patches', () => {
    // patch listed first in the JSON still applies after the post
    const runs = mapRunsBatch({
      patch: [patch],
      post: [post, { ...post, id: CHILD, parent_run_id: ROOT, dotted_order: CHILD_DOTTED }],
    });
    expect(runs.map((r) => r.id)).toEqual([ROOT, CHILD]);
    expect(runs[0]).toMatchObject({ inputs: { q: 1 }, outputs: { a: 1 } });
    expect(mapRunsBatch({ post: null })).toEqual([]);
  });

  it('/runs/batch errors say which entry is wrong', () => {
    expect(badRequestMessage(() => mapRunsBatch([]))).toContain(
      '/runs/batch body must be a JSON object',
    );
    expect(badRequestMessage(() => mapRunsBatch({ post: {} }))).toContain(
      "'post' must be an array",
    );
    expect(badRequestMessage(() => mapRunsBatch({ patch: [1] }))).toContain(
      '/runs/batch patch[0] must be a JSON object',
    );
    expect(badRequestMessage(() => mapRunsBatch({ patch: [{ outputs: {} }] }))).toContain(
      "/runs/batch patch[0]: field 'id'",
    );
    expect(
      badRequestMessage(() => mapRunsBatch({ post: [post, { ...post, run_type: 'x' }] })),
    ).toContain(`/runs/batch post[1]: run ${ROOT}: field 'run_type'`);
  });

  it('/runs/batch inline attachments (SDK Buffer JSON, {mimeType,data}, base64)', () => {
    const { batch, warnings } = runsBatchToWriteBatch({
      post: [
        {
          ...post,
          attachments: {
            a: ['text/plain', { type: 'Buffer', data: [104, 105] }],
            b: { mimeType: 'image/png; x=1', data: Buffer.from([1, 2]).toString('base64') },
            c: ['text/plain', { 0: 1 }],
          },
        },
      ],
    });
    expect(batch.attachments).toEqual([
      { runId: ROOT, name: 'a', contentType: 'text/plain', data: Buffer.from('hi') },
      { runId: ROOT, name: 'b', contentType: 'image/png', data: Buffer.from([1, 2]) },
    ]);
    expect(warnings).toEqual([
      `run ${ROOT}: inline attachment "c" has an unsupported shape; skipped`,
    ]);
    expect(batch.runs[0]).not.toHaveProperty('attachments');
  });

  it('POST /runs and PATCH /runs/{id}', () => {
    expect(mapSingleRunCreate(post)).toMatchObject({ id: ROOT, inputs: { q: 1 } });
    const { id: _id, ...patchBody } = patch;
    expect(mapSingleRunUpdate(ROOT, patchBody)).toMatchObject({
      id: ROOT,
      outputs: { a: 1 },
      parentRunId: null,
    });
    expect(badRequestMessage(() => mapSingleRunUpdate('abc', patchBody))).toContain(
      "field 'id' must be a UUID",
    );
    expect(badRequestMessage(() => mapSingleRunUpdate(ROOT, { ...patchBody, end_time: 'x' }))).toBe(
      `PATCH /runs/${ROOT}: run ${ROOT}: field 'end_time' is not an ISO 8601 timestamp: "x"`,
    );
  });
});
