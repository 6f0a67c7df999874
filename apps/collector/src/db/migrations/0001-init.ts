import { sql, type Kysely, type Migration } from 'kysely';

/**
 * Initial schema. Plain SQL kept to the PostgreSQL 15 subset (PGlite is PG 18; CI
 * runs the suite on both). Index choices follow DESIGN.md's 1M-row measurement:
 * btree (project_id, run_type, start_time desc) took "latest runs of a type" from
 * ~360 ms to ~1.9 ms; GIN jsonb_path_ops on metadata covers rare key=value filters.
 */
export const m0001Init: Migration = {
  async up(db: Kysely<unknown>) {
    await sql`
      CREATE TABLE workspaces (
        id uuid PRIMARY KEY,
        name text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE api_keys (
        id uuid PRIMARY KEY,
        workspace_id uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        name text NOT NULL,
        prefix text NOT NULL,
        key_hash text NOT NULL UNIQUE,
        role text NOT NULL CHECK (role IN ('admin', 'member', 'reviewer')),
        created_at timestamptz NOT NULL DEFAULT now(),
        last_used_at timestamptz,
        revoked_at timestamptz
      );
      CREATE TABLE projects (
        id uuid PRIMARY KEY,
        workspace_id uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        name text NOT NULL,
        description text,
        extra jsonb,
        reference_dataset_id uuid,
        start_time timestamptz NOT NULL DEFAULT now(),
        end_time timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (workspace_id, name)
      );
      CREATE TABLE runs (
        id uuid PRIMARY KEY,
        workspace_id uuid NOT NULL,
        project_id uuid NOT NULL,
        trace_id uuid NOT NULL,
        parent_run_id uuid,
        dotted_order text,
        name text,
        run_type text,
        status text NOT NULL,
        start_time timestamptz,
        end_time timestamptz,
        error text,
        model text,
        provider text,
        prompt_tokens integer,
        completion_tokens integer,
        total_tokens integer,
        token_details jsonb,
        cost numeric,
        tags text[] NOT NULL DEFAULT '{}',
        metadata jsonb NOT NULL DEFAULT '{}',
        session_id text,
        user_id text,
        reference_example_id uuid,
        first_token_time timestamptz,
        otel_trace_id text,
        otel_span_id text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX runs_project_start_idx ON runs (project_id, start_time DESC NULLS LAST, id DESC);
      CREATE INDEX runs_project_type_start_idx ON runs (project_id, run_type, start_time DESC);
      CREATE INDEX runs_trace_idx ON runs (trace_id);
      CREATE INDEX runs_metadata_idx ON runs USING gin (metadata jsonb_path_ops);
      CREATE TABLE run_payloads (
        run_id uuid PRIMARY KEY,
        inputs jsonb,
        outputs jsonb,
        extra jsonb,
        events jsonb,
        otel jsonb,
        log_records jsonb
      );
      CREATE TABLE run_attachments (
        run_id uuid NOT NULL,
        name text NOT NULL,
        content_type text NOT NULL,
        data bytea NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (run_id, name)
      );
      CREATE TABLE feedback (
        id uuid PRIMARY KEY,
        workspace_id uuid NOT NULL,
        run_id uuid,
        trace_id uuid,
        project_id uuid,
        key text NOT NULL,
        score double precision,
        value jsonb,
        comment text,
        correction jsonb,
        feedback_source jsonb,
        feedback_config jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        modified_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX feedback_run_idx ON feedback (run_id);
      CREATE INDEX feedback_project_key_idx ON feedback (project_id, key);
    `.execute(db);
  },
  async down(db: Kysely<unknown>) {
    await sql`DROP TABLE feedback, run_attachments, run_payloads, runs, projects, api_keys, workspaces`.execute(
      db,
    );
  },
};
