/**
 * Span attribute names the Loupe SDK writes and the collector reads. Dependency-free
 * on purpose: the SDK imports this subpath without pulling TypeBox.
 */
export const LoupeAttr = {
  RUN_TYPE: 'loupe.run_type',
  INPUTS: 'loupe.inputs',
  OUTPUTS: 'loupe.outputs',
  METADATA_PREFIX: 'loupe.metadata.',
  TAGS: 'loupe.tags',
  SESSION_ID: 'loupe.session_id',
  USER_ID: 'loupe.user_id',
  PROMPT_VERSION: 'loupe.prompt_version',
  PROJECT: 'loupe.project',
} as const;
