import type { FeedbackRow } from '../../feedback/feedback.repository.js';
import type { ProjectRow } from '../../projects/projects.repository.js';
import type { RunWithPayloadRow } from '../../runs/runs.repository.js';
import { runPayloadView } from '../../runs/runs.service.js';
import type { JsonObject, JsonValue } from '../run-upsert.js';
import type {
  StoredFeedbackView,
  StoredProjectView,
  StoredRunView,
} from './langsmith-serialize.js';

/** Repository rows (snake_case) → the serializer's views (camelCase). */
export function runRowToView(row: RunWithPayloadRow): StoredRunView {
  const { inputs, outputs } = runPayloadView(row);
  return {
    id: row.id,
    traceId: row.trace_id,
    projectId: row.project_id,
    status: row.status,
    createdAt: row.created_at,
    parentRunId: row.parent_run_id,
    dottedOrder: row.dotted_order,
    name: row.name,
    runType: row.run_type,
    startTime: row.start_time,
    endTime: row.end_time,
    error: row.error,
    model: row.model,
    provider: row.provider,
    promptTokens: row.prompt_tokens,
    completionTokens: row.completion_tokens,
    totalTokens: row.total_tokens,
    tokenDetails: row.token_details,
    cost: row.cost,
    tags: row.tags,
    metadata: row.metadata as JsonObject,
    sessionId: row.session_id,
    userId: row.user_id,
    referenceExampleId: row.reference_example_id,
    firstTokenTime: row.first_token_time,
    inputs: inputs as JsonValue,
    outputs: outputs as JsonValue,
    extra: (row.extra ?? null) as JsonObject | null,
    events: (row.events ?? null) as JsonValue[] | null,
  };
}

export function feedbackRowToView(row: FeedbackRow): StoredFeedbackView {
  return {
    id: row.id,
    runId: row.run_id,
    traceId: row.trace_id,
    projectId: row.project_id,
    key: row.key,
    score: row.score,
    value: row.value as JsonValue,
    comment: row.comment,
    correction: row.correction as JsonValue,
    feedbackSource: row.feedback_source as JsonObject | null,
    feedbackConfig: row.feedback_config as JsonObject | null,
    createdAt: row.created_at,
    modifiedAt: row.modified_at,
  };
}

export function projectRowToView(
  row: ProjectRow & { run_count?: number | string | null },
): StoredProjectView {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    extra: row.extra as JsonObject | null,
    startTime: row.start_time,
    endTime: row.end_time,
    tenantId: row.workspace_id,
    referenceDatasetId: row.reference_dataset_id,
    runCount: Number(row.run_count ?? 0),
  };
}
