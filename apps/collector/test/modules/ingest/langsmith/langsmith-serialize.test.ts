import { describe, expect, it } from 'vitest';
import {
  DEFAULT_TENANT_ID,
  isoTime,
  toLangSmithFeedback,
  toLangSmithProject,
  toLangSmithRun,
  type StoredRunView,
} from '../../../../src/modules/ingest/langsmith/langsmith-serialize.js';
import { mapRunCreate } from '../../../../src/modules/ingest/langsmith/langsmith-map.js';
import {
  buildDottedOrder,
  parseDottedOrder,
} from '../../../../src/modules/ingest/langsmith/langsmith-values.js';

const ROOT = '01a21b93-47f2-7000-8000-01efe8cb9a5c';
const CHILD = '01a21b93-4a5e-7000-8000-0123456789ab';
const PROJECT = '109d9b52-0000-4000-8000-000000000001';
const ROOT_DOTTED = `20261127T055606770001Z${ROOT}`;
const CHILD_DOTTED = `${ROOT_DOTTED}.20261127T055607390004Z${CHILD}`;

describe('toLangSmithRun', () => {
  it('round-trips a mapped create into the LangSmith run shape', () => {
    const upsert = mapRunCreate({
      id: CHILD,
      name: 'lookup-tool',
      run_type: 'tool',
      start_time: '2026-11-27T05:56:07.390004Z',
      end_time: 1795758967400,
      parent_run_id: ROOT,
      trace_id: ROOT,
      dotted_order: CHILD_DOTTED,
      tags: ['t'],
      inputs: { q: 1 },
      error: 'Error: boom',
      extra: { metadata: { a: 1 }, runtime: { sdk: 'langsmith-js' } },
      reference_example_id: PROJECT,
      prompt_tokens: 3,
      completion_tokens: 4,
    });
    const view: StoredRunView = {
      ...upsert,
      projectId: PROJECT,
      status: 'error',
      createdAt: new Date(1795758967500),
      cost: '0.0125',
    };
    expect(toLangSmithRun(view)).toEqual({
      id: CHILD,
      name: 'lookup-tool',
      run_type: 'tool',
      start_time: '2026-11-27T05:56:07.390004Z', // µs restored from the dotted-order stamp
      end_time: new Date(1795758967400).toISOString(),
      inputs: { q: 1 },
      outputs: null,
      error: 'Error: boom',
      extra: { metadata: { a: 1 }, runtime: { sdk: 'langsmith-js' } },
      tags: ['t'],
      parent_run_id: ROOT,
      trace_id: ROOT,
      dotted_order: CHILD_DOTTED,
      session_id: PROJECT,
      reference_example_id: PROJECT,
      status: 'error',
      events: [],
      prompt_tokens: 3,
      completion_tokens: 4,
      total_tokens: 7,
      prompt_token_details: null,
      completion_token_details: null,
      prompt_cost: null,
      completion_cost: null,
      total_cost: 0.0125,
      first_token_time: null,
      feedback_stats: null,
      app_path: null,
      child_run_ids: null,
      parent_run_ids: [ROOT],
      thread_id: null,
      created_at: new Date(1795758967500).toISOString(),
    });
  });

  it('handles OTLP-style rows without dotted_order and sparse rows', () => {
    const root = toLangSmithRun({
      id: ROOT,
      traceId: ROOT,
      projectId: PROJECT,
      status: 'success',
      parentRunId: null,
      startTime: '2026-11-27 05:56:06.5', // no zone → UTC
      metadata: { k: 'v' },
      extra: { metadata: { old: true } },
      tokenDetails: { cache_read: 5, cache_write: 1, reasoning: 2, input_audio: 3 },
    });
    expect(root).toMatchObject({
      start_time: '2026-11-27T05:56:06.500Z',
      end_time: null,
      dotted_order: null,
      parent_run_ids: [],
      name: '',
      run_type: 'chain',
      inputs: {},
      tags: [],
      extra: { metadata: { old: true, k: 'v' } },
      prompt_token_details: { cache_read: 5, cache_creation: 1, audio: 3 },
      completion_token_details: { reasoning: 2 },
    });
    const child = toLangSmithRun({
      id: CHILD,
      traceId: ROOT,
      projectId: PROJECT,
      status: 'pending',
      parentRunId: ROOT,
    });
    expect(child.parent_run_ids).toBeNull(); // the repository must supply ancestors
    const supplied = toLangSmithRun({
      id: CHILD,
      traceId: ROOT,
      projectId: PROJECT,
      status: 'pending',
      parentRunIds: [ROOT],
    });
    expect(supplied.parent_run_ids).toEqual([ROOT]);
  });

  it('keeps ms precision when the stored time disagrees with the dotted stamp', () => {
    const run = toLangSmithRun({
      id: ROOT,
      traceId: ROOT,
      projectId: PROJECT,
      status: 'success',
      startTime: new Date('2026-11-27T05:56:06.999Z'),
      dottedOrder: ROOT_DOTTED,
    });
    expect(run.start_time).toBe('2026-11-27T05:56:06.999Z');
  });
});

describe('dotted order helpers', () => {
  it('buildDottedOrder is what parseDottedOrder reads back', () => {
    const dotted = buildDottedOrder([
      { id: ROOT, startTime: new Date('2026-11-27T05:56:06.770Z') },
      { id: CHILD.toUpperCase(), startTime: new Date('2026-11-27T05:56:07.390Z') },
    ]);
    expect(dotted).toBe(`20261127T055606770000Z${ROOT}.20261127T055607390000Z${CHILD}`);
    expect(parseDottedOrder(dotted)?.map((s) => s.id)).toEqual([ROOT, CHILD]);
    expect(parseDottedOrder(`${ROOT_DOTTED}.`)).toBeUndefined();
  });
});

describe('toLangSmithFeedback / toLangSmithProject', () => {
  it('feedback', () => {
    expect(
      toLangSmithFeedback({
        id: CHILD,
        runId: ROOT,
        traceId: ROOT,
        projectId: PROJECT,
        key: 'correctness',
        score: 0.8765,
        comment: 'ok',
        feedbackSource: { type: 'api', metadata: {} },
        createdAt: new Date('2026-11-27T05:58:24.651Z'),
      }),
    ).toEqual({
      id: CHILD,
      run_id: ROOT,
      trace_id: ROOT,
      session_id: PROJECT,
      key: 'correctness',
      score: 0.8765,
      value: null,
      comment: 'ok',
      correction: null,
      feedback_source: { type: 'api', metadata: {} },
      feedback_config: null,
      created_at: '2026-11-27T05:58:24.651Z',
      modified_at: '2026-11-27T05:58:24.651Z',
      comparative_experiment_id: null,
      feedback_group_id: null,
      extra: null,
    });
  });

  it('project', () => {
    expect(
      toLangSmithProject({
        id: PROJECT,
        name: 'p',
        startTime: new Date('2026-11-27T05:58:04.040Z'),
        runCount: '3',
      }),
    ).toEqual({
      id: PROJECT,
      name: 'p',
      description: null,
      extra: null,
      start_time: '2026-11-27T05:58:04.040Z',
      end_time: null,
      tenant_id: DEFAULT_TENANT_ID,
      reference_dataset_id: null,
      run_count: 3,
    });
    expect(isoTime('2026-11-27')).toBe('2026-11-27T00:00:00.000Z');
    expect(isoTime('nonsense')).toBeNull();
  });
});
