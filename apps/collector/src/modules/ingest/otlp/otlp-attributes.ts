// The SDK's attribute names are defined once, in @loupe/contracts.
export {
  LOUPE_ATTRIBUTES,
  LOUPE_INPUTS,
  LOUPE_METADATA_PREFIX,
  LOUPE_OUTPUTS,
  LOUPE_PROJECT,
  LOUPE_PROMPT_VERSION,
  LOUPE_RUN_TYPE,
  LOUPE_SESSION_ID,
  LOUPE_TAGS,
  LOUPE_USER_ID,
} from '@loupe/contracts/attributes';
