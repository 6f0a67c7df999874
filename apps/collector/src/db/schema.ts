/**
 * Kysely table types. Timestamps are read back as ISO-8601 strings with microseconds
 * (see `database.ts`: pg's Date parsing would drop the µs that LangSmith run ordering
 * relies on); they are written as Date or ISO strings.
 */
import type { ColumnType, Generated } from 'kysely';

type NullableTimestamp = ColumnType<
  string | null,
  Date | string | null | undefined,
  Date | string | null
>;
/** jsonb: read as parsed JSON, written as a JSON string (or NULL). */
type Json<T = unknown> = ColumnType<T, string | null | undefined, string | null>;

export interface WorkspacesTable {
  id: string;
  name: string;
  created_at: ColumnType<string, Date | string | undefined, never>;
}

export interface ApiKeysTable {
  id: string;
  workspace_id: string;
  name: string;
  /** first characters of the key, shown in listings so a key can be recognised */
  prefix: string;
  /** sha256 of the whole key, hex */
  key_hash: string;
  role: 'admin' | 'member' | 'reviewer';
  created_at: ColumnType<string, Date | string | undefined, never>;
  last_used_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
}

export interface ProjectsTable {
  id: string;
  workspace_id: string;
  name: string;
  description: string | null;
  extra: Json<Record<string, unknown> | null>;
  reference_dataset_id: string | null;
  start_time: ColumnType<string, Date | string | undefined, Date | string>;
  end_time: NullableTimestamp;
  created_at: ColumnType<string, Date | string | undefined, never>;
}

/** The narrow, hot list table: everything a list/filter/sort needs and nothing big. */
export interface RunsTable {
  id: string;
  workspace_id: string;
  project_id: string;
  trace_id: string;
  parent_run_id: string | null;
  dotted_order: string | null;
  name: string | null;
  run_type: string | null;
  status: 'success' | 'error' | 'pending';
  start_time: NullableTimestamp;
  end_time: NullableTimestamp;
  error: string | null;
  model: string | null;
  provider: string | null;
  prompt_tokens: number | null;
  completion_tokens: number | null;
  total_tokens: number | null;
  token_details: Json<Record<string, number> | null>;
  cost: ColumnType<string | null, number | null | undefined, number | null>;
  tags: ColumnType<string[], string[] | undefined, string[]>;
  metadata: Json<Record<string, unknown>>;
  session_id: string | null;
  user_id: string | null;
  reference_example_id: string | null;
  first_token_time: NullableTimestamp;
  otel_trace_id: string | null;
  otel_span_id: string | null;
  created_at: ColumnType<string, Date | string | undefined, never>;
  updated_at: ColumnType<string, Date | string | undefined, Date | string>;
}

/** The wide side: payloads that list queries never read. */
export interface RunPayloadsTable {
  run_id: string;
  inputs: Json<unknown>;
  outputs: Json<unknown>;
  extra: Json<Record<string, unknown> | null>;
  events: Json<unknown[] | null>;
  otel: Json<Record<string, unknown> | null>;
  log_records: Json<Record<string, Record<string, unknown>> | null>;
}

export interface RunAttachmentsTable {
  run_id: string;
  name: string;
  content_type: string;
  data: Buffer;
  created_at: ColumnType<string, Date | string | undefined, never>;
}

export interface FeedbackTable {
  id: string;
  workspace_id: string;
  run_id: string | null;
  trace_id: string | null;
  project_id: string | null;
  key: string;
  score: number | null;
  value: Json<unknown>;
  comment: string | null;
  correction: Json<unknown>;
  feedback_source: Json<Record<string, unknown> | null>;
  feedback_config: Json<Record<string, unknown> | null>;
  created_at: ColumnType<string, Date | string | undefined, never>;
  modified_at: ColumnType<string, Date | string | undefined, Date | string>;
}

export interface Database {
  workspaces: WorkspacesTable;
  api_keys: ApiKeysTable;
  projects: ProjectsTable;
  runs: RunsTable;
  run_payloads: RunPayloadsTable;
  run_attachments: RunAttachmentsTable;
  feedback: FeedbackTable;
}

export type { Generated };
