/**
 * Model, provider, token usage, cost and invocation parameters of a span. Token
 * counts are stored as the provider reported them (GenAI `input_tokens` includes
 * cached tokens); cache / reasoning / modality counts are subsets kept as details,
 * never subtracted (reference §0.5).
 */
import type { JsonObject, JsonValue, TokenDetails } from '../run-upsert.js';
import type { AttributeBag } from './otlp-attribute-bag.js';
import { asCount, asNumber, asText, isObject, parseIfString, setKey } from './otlp-json.js';

const MODEL_KEYS = [
  'langfuse.observation.model.name',
  'gen_ai.response.model',
  'gen_ai.request.model',
  'llm.response.model',
  'llm.model_name',
  'llm.request.model',
  'embedding.model_name',
];
const REQUESTED_MODEL_KEYS = ['gen_ai.request.model', 'llm.request.model'];
const PROVIDER_KEYS = ['gen_ai.provider.name', 'gen_ai.system', 'llm.provider', 'llm.system'];

/** Older and vendor spellings → current `gen_ai.provider.name` values. */
const PROVIDER_ALIASES: Record<string, string> = {
  'az.ai.openai': 'azure.ai.openai',
  azure_openai: 'azure.ai.openai',
  azureopenai: 'azure.ai.openai',
  'az.ai.inference': 'azure.ai.inference',
  vertex_ai: 'gcp.vertex_ai',
  vertexai: 'gcp.vertex_ai',
  gemini: 'gcp.gemini',
  google_genai: 'gcp.gen_ai',
  bedrock: 'aws.bedrock',
  aws_bedrock: 'aws.bedrock',
  mistral: 'mistral_ai',
  mistralai: 'mistral_ai',
  xai: 'x_ai',
  watsonx: 'ibm.watsonx.ai',
};

export function normaliseProvider(value: string): string {
  const p = value.trim().toLowerCase();
  return PROVIDER_ALIASES[p] ?? p;
}

export interface ModelInfo {
  model?: string;
  requested?: string;
  provider?: string;
}

export function extractModel(bag: AttributeBag): ModelInfo {
  const out: ModelInfo = {};
  const model = bag.first(MODEL_KEYS, asText);
  if (model !== undefined) out.model = model;
  const requested = bag.first(REQUESTED_MODEL_KEYS, asText);
  if (requested !== undefined) out.requested = requested;
  const provider = bag.first(PROVIDER_KEYS, (v) => {
    const s = asText(v);
    return s === undefined || s.trim() === '' ? undefined : normaliseProvider(s);
  });
  if (provider !== undefined) out.provider = provider;
  return out;
}

const PROMPT_KEYS = [
  'gen_ai.usage.input_tokens',
  'gen_ai.usage.prompt_tokens',
  'llm.token_count.prompt',
  'llm.usage.prompt_tokens',
];
const COMPLETION_KEYS = [
  'gen_ai.usage.output_tokens',
  'gen_ai.usage.completion_tokens',
  'llm.token_count.completion',
  'llm.usage.completion_tokens',
];
const TOTAL_KEYS = ['gen_ai.usage.total_tokens', 'llm.token_count.total', 'llm.usage.total_tokens'];

/** detail name → source keys in precedence order (GenAI new › GenAI old/Traceloop › OpenInference). */
const DETAIL_KEYS: Record<string, string[]> = {
  cache_read: [
    'gen_ai.usage.cache_read.input_tokens',
    'gen_ai.usage.cache_read_input_tokens',
    'llm.token_count.prompt_details.cache_read',
  ],
  cache_write: [
    'gen_ai.usage.cache_write.input_tokens',
    'gen_ai.usage.cache_creation.input_tokens',
    'gen_ai.usage.cache_creation_input_tokens',
    'llm.token_count.prompt_details.cache_write',
  ],
  reasoning: [
    'gen_ai.usage.reasoning.output_tokens',
    'gen_ai.usage.reasoning_tokens',
    'gen_ai.usage.details.reasoning_tokens',
    'llm.token_count.completion_details.reasoning',
  ],
};
for (const modality of ['text', 'audio', 'image', 'video']) {
  DETAIL_KEYS[`${modality}_input`] = [
    `gen_ai.usage.${modality}.input_tokens`,
    `llm.token_count.prompt_details.${modality}`,
  ];
  DETAIL_KEYS[`${modality}_output`] = [
    `gen_ai.usage.${modality}.output_tokens`,
    `llm.token_count.completion_details.${modality}`,
  ];
}

export interface UsageInfo {
  promptTokens?: number;
  completionTokens?: number;
  totalTokens?: number;
  tokenDetails?: TokenDetails;
  cost?: number;
}

export function extractUsage(bag: AttributeBag): UsageInfo {
  const out: UsageInfo = {};
  const prompt = bag.first(PROMPT_KEYS, asCount);
  const completion = bag.first(COMPLETION_KEYS, asCount);
  const total = bag.first(TOTAL_KEYS, asCount);
  if (prompt !== undefined) out.promptTokens = prompt;
  if (completion !== undefined) out.completionTokens = completion;
  if (total !== undefined) out.totalTokens = total;
  else if (prompt !== undefined || completion !== undefined)
    out.totalTokens = (prompt ?? 0) + (completion ?? 0);

  const details: TokenDetails = {};
  for (const [name, keys] of Object.entries(DETAIL_KEYS)) {
    const n = bag.first(keys, asCount);
    if (n !== undefined) details[name] = n;
  }
  // OpenInference details we have no name for keep theirs (side-suffixed on a clash)
  const rest = [
    ['input', 'llm.token_count.prompt_details.'],
    ['output', 'llm.token_count.completion_details.'],
  ] as const;
  for (const [side, prefix] of rest) {
    for (const [suffix] of bag.entries(prefix)) {
      if (
        suffix.includes('.') ||
        Object.values(DETAIL_KEYS).some((keys) => keys.includes(prefix + suffix))
      )
        continue;
      const name = details[suffix] === undefined ? suffix : `${suffix}_${side}`;
      const n = bag.take(prefix + suffix, asCount);
      if (n !== undefined) details[name] = n;
    }
  }
  if (Object.keys(details).length > 0) out.tokenDetails = details;

  const cost = bag.first(['llm.cost.total', 'gen_ai.usage.cost'], (v) => {
    const n = asNumber(v);
    return n !== undefined && n >= 0 ? n : undefined;
  });
  if (cost !== undefined) out.cost = cost;
  return out;
}

const asObjectValue = (v: JsonValue): JsonObject | undefined => {
  const p = parseIfString(v);
  return isObject(p) ? p : undefined;
};

/** LangSmith's `extra.invocation_params`: request settings and tool definitions. */
export function extractInvocationParams(bag: AttributeBag): JsonObject | undefined {
  const params: JsonObject = {};
  const oi = bag.take('llm.invocation_parameters', asObjectValue);
  if (oi) for (const [k, v] of Object.entries(oi)) setKey(params, k, v);
  for (const prefix of ['gen_ai.openai.request.', 'gen_ai.request.']) {
    for (const [k, v] of bag.entries(prefix)) {
      if (k === 'model') continue;
      setKey(params, k, v);
      bag.use(prefix + k);
    }
  }
  const tools = bag.take('gen_ai.tool.definitions', (v) => parseIfString(v));
  if (tools !== undefined) params.tools = tools;
  const oiTools = bag.unflatten('llm.tools.');
  if (tools === undefined && oiTools && Array.isArray(oiTools.value)) {
    params.tools = oiTools.value.map((t) => {
      const schema = isObject(t) && isObject(t.tool) ? t.tool.json_schema : undefined;
      return schema === undefined ? t : parseIfString(schema);
    });
    bag.use(...oiTools.keys);
  }
  const functions = bag.unflatten('llm.request.functions.');
  if (functions && Array.isArray(functions.value)) {
    params.functions = functions.value;
    bag.use(...functions.keys);
  }
  return Object.keys(params).length > 0 ? params : undefined;
}
