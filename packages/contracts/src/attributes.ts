/**
 * Span attributes the Loupe SDK writes and the collector reads. They win over every
 * other convention when the collector maps a span (the SDK sets them deliberately;
 * the others are inferred from third-party instrumentations). Dependency-free on
 * purpose: the SDK imports this subpath without pulling TypeBox.
 */

/** one of RunType (`llm`, `chain`, `tool`, …); other values are mapped like other conventions */
export const LOUPE_RUN_TYPE = 'loupe.run_type';
/** JSON string; a non-object value is wrapped as `{input: value}` */
export const LOUPE_INPUTS = 'loupe.inputs';
/** JSON string; a non-object value is wrapped as `{output: value}` */
export const LOUPE_OUTPUTS = 'loupe.outputs';
/** prefix: `loupe.metadata.<key>` → metadata[key] */
export const LOUPE_METADATA_PREFIX = 'loupe.metadata.';
/** string[], JSON string of an array, or a comma-separated string */
export const LOUPE_TAGS = 'loupe.tags';
export const LOUPE_SESSION_ID = 'loupe.session_id';
export const LOUPE_USER_ID = 'loupe.user_id';
/** stored as metadata `prompt_version`; A/B comparisons group runs by it */
export const LOUPE_PROMPT_VERSION = 'loupe.prompt_version';
/** project name; only a request header overrides it */
export const LOUPE_PROJECT = 'loupe.project';

export const LOUPE_ATTRIBUTES = [
  LOUPE_RUN_TYPE,
  LOUPE_INPUTS,
  LOUPE_OUTPUTS,
  LOUPE_TAGS,
  LOUPE_SESSION_ID,
  LOUPE_USER_ID,
  LOUPE_PROMPT_VERSION,
  LOUPE_PROJECT,
] as const;
