import { Type, type Static } from '@sinclair/typebox';
import { IsoTime, JsonAny, JsonRecord, Uuid } from './common.schemas.js';

export const RUN_TYPES = [
  'llm',
  'chain',
  'tool',
  'retriever',
  'embedding',
  'prompt',
  'parser',
  'agent',
] as const;
export const RunType = Type.Union(RUN_TYPES.map((t) => Type.Literal(t)));
export type RunType = Static<typeof RunType>;
export const RunStatus = Type.Union([
  Type.Literal('success'),
  Type.Literal('error'),
  Type.Literal('pending'),
]);

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) =>
  Type.Union([t, Type.Null()]);

/** A run as list queries return it: the narrow columns, no payloads. */
export const RunSummary = Type.Object(
  {
    id: Uuid,
    trace_id: Uuid,
    parent_run_id: Nullable(Uuid),
    project_id: Uuid,
    dotted_order: Nullable(Type.String()),
    name: Nullable(Type.String()),
    run_type: Nullable(Type.String()),
    status: RunStatus,
    start_time: Nullable(IsoTime),
    end_time: Nullable(IsoTime),
    latency_ms: Nullable(Type.Number()),
    error: Nullable(Type.String()),
    model: Nullable(Type.String()),
    provider: Nullable(Type.String()),
    prompt_tokens: Nullable(Type.Integer()),
    completion_tokens: Nullable(Type.Integer()),
    total_tokens: Nullable(Type.Integer()),
    token_details: Nullable(Type.Record(Type.String(), Type.Number())),
    cost: Nullable(Type.Number()),
    tags: Type.Array(Type.String()),
    metadata: JsonRecord,
    session_id: Nullable(Type.String()),
    user_id: Nullable(Type.String()),
    reference_example_id: Nullable(Uuid),
    first_token_time: Nullable(IsoTime),
    otel_trace_id: Nullable(Type.String()),
    otel_span_id: Nullable(Type.String()),
  },
  { $id: 'RunSummary' },
);
export type RunSummary = Static<typeof RunSummary>;

export const FeedbackItem = Type.Object(
  {
    id: Uuid,
    run_id: Nullable(Uuid),
    trace_id: Nullable(Uuid),
    project_id: Nullable(Uuid),
    key: Type.String(),
    score: Nullable(Type.Number()),
    value: JsonAny,
    comment: Nullable(Type.String()),
    correction: JsonAny,
    feedback_source: JsonAny,
    created_at: IsoTime,
    modified_at: IsoTime,
  },
  { $id: 'FeedbackItem' },
);
export type FeedbackItem = Static<typeof FeedbackItem>;

/** One run with everything: payloads, attachments (names), feedback. */
export const RunDetail = Type.Intersect(
  [
    RunSummary,
    Type.Object({
      inputs: JsonAny,
      outputs: JsonAny,
      extra: JsonAny,
      events: JsonAny,
      otel: JsonAny,
      attachments: Type.Array(
        Type.Object({ name: Type.String(), content_type: Type.String(), size: Type.Integer() }),
      ),
      feedback: Type.Array(FeedbackItem),
    }),
  ],
  { $id: 'RunDetail' },
);
export type RunDetail = Static<typeof RunDetail>;

export const RunListQuery = Type.Object(
  {
    project: Type.Optional(Type.String({ description: 'project id or name' })),
    run_type: Type.Optional(Type.String({ description: 'comma-separated run types' })),
    name: Type.Optional(Type.String({ description: 'exact run name' })),
    status: Type.Optional(RunStatus),
    error: Type.Optional(
      Type.Boolean({ description: 'true: only errored runs; false: only runs without error' }),
    ),
    tag: Type.Optional(
      Type.Union([Type.String(), Type.Array(Type.String())], {
        description: 'runs carrying every given tag',
      }),
    ),
    metadata: Type.Optional(
      Type.Union([Type.String(), Type.Array(Type.String())], {
        description: 'key=value; repeat for AND',
      }),
    ),
    start_time_gte: Type.Optional(IsoTime),
    start_time_lt: Type.Optional(IsoTime),
    feedback_key: Type.Optional(Type.String()),
    feedback_score_gte: Type.Optional(Type.Number()),
    feedback_score_lte: Type.Optional(Type.Number()),
    root: Type.Optional(Type.Boolean({ description: 'only root runs (no parent)' })),
    trace_id: Type.Optional(Uuid),
    session_id: Type.Optional(Type.String()),
    user_id: Type.Optional(Type.String()),
    q: Type.Optional(
      Type.String({ description: 'full-text search over inputs and outputs', minLength: 1 }),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 50 })),
    cursor: Type.Optional(Type.String({ description: 'next_cursor from the previous page' })),
  },
  { additionalProperties: false },
);
export type RunListQuery = Static<typeof RunListQuery>;

export const RunListResponse = Type.Object(
  { runs: Type.Array(RunSummary), next_cursor: Nullable(Type.String()) },
  { $id: 'RunListResponse' },
);
export type RunListResponse = Static<typeof RunListResponse>;

export interface TraceNode extends RunSummary {
  children: TraceNode[];
}
export const TraceNode = Type.Recursive(
  (Self) => Type.Intersect([RunSummary, Type.Object({ children: Type.Array(Self) })]),
  { $id: 'TraceNode' },
);

export const TraceResponse = Type.Object(
  {
    trace_id: Uuid,
    run_count: Type.Integer(),
    roots: Type.Array(TraceNode),
  },
  { $id: 'TraceResponse' },
);
export type TraceResponse = { trace_id: string; run_count: number; roots: TraceNode[] };

export const ProjectStatsQuery = Type.Object(
  {
    start_time_gte: Type.Optional(IsoTime),
    start_time_lt: Type.Optional(IsoTime),
    root: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type ProjectStatsQuery = Static<typeof ProjectStatsQuery>;

export const ProjectStats = Type.Object(
  {
    project_id: Uuid,
    start_time_gte: Nullable(IsoTime),
    start_time_lt: Nullable(IsoTime),
    run_count: Type.Integer(),
    error_count: Type.Integer(),
    error_rate: Nullable(Type.Number()),
    latency_p50_ms: Nullable(Type.Number()),
    latency_p95_ms: Nullable(Type.Number()),
    prompt_tokens: Type.Integer(),
    completion_tokens: Type.Integer(),
    total_tokens: Type.Integer(),
    cost: Nullable(Type.Number()),
  },
  { $id: 'ProjectStats' },
);
export type ProjectStats = Static<typeof ProjectStats>;

export const Project = Type.Object(
  {
    id: Uuid,
    name: Type.String(),
    description: Nullable(Type.String()),
    created_at: IsoTime,
    run_count: Type.Integer(),
  },
  { $id: 'Project' },
);
export type Project = Static<typeof Project>;

export const FeedbackCreate = Type.Object(
  {
    id: Type.Optional(Uuid),
    run_id: Uuid,
    key: Type.String({ minLength: 1, maxLength: 200 }),
    score: Type.Optional(Type.Union([Type.Number(), Type.Boolean(), Type.Null()])),
    value: Type.Optional(JsonAny),
    comment: Type.Optional(Type.Union([Type.String({ maxLength: 20_000 }), Type.Null()])),
    correction: Type.Optional(JsonAny),
    source: Type.Optional(
      Type.Object(
        {
          type: Type.String({ description: 'api | app | model | human …' }),
          metadata: Type.Optional(JsonRecord),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { $id: 'FeedbackCreate', additionalProperties: false },
);
export type FeedbackCreate = Static<typeof FeedbackCreate>;

export const ProjectList = Type.Object({ projects: Type.Array(Project) }, { $id: 'ProjectList' });
export type ProjectList = Static<typeof ProjectList>;
