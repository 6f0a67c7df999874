/**
 * Inputs / outputs of a span. First source that yields content wins (reference §4):
 *   loupe.* › langfuse.observation.* › chat messages (GenAI new › OpenInference ›
 *   GenAI old flattened › span events) › tool call › retrieval › traceloop.entity.* ›
 *   input.value/output.value › embedding texts.
 * Chat messages use the shape documented in otlp-messages.ts; when OpenInference also
 * sent the whole request/response (`input.value`), it is kept as `raw`.
 */
import type { JsonObject, JsonValue } from '../run-upsert.js';
import type { AttributeBag } from './otlp-attribute-bag.js';
import { LOUPE_INPUTS, LOUPE_OUTPUTS } from './otlp-attributes.js';
import { asObject, asText, isObject, parseIfString, parseJsonLenient } from './otlp-json.js';
import {
  contentFromEvents,
  messagesFrom,
  systemMessage,
  withSystem,
  type ChatMessage,
} from './otlp-messages.js';
import type { NormalisedEvent } from './otlp-types.js';

type Side = 'input' | 'output';

const SIDES = {
  input: {
    loupe: LOUPE_INPUTS,
    langfuse: 'langfuse.observation.input',
    genai: 'gen_ai.input.messages',
    oi: 'llm.input_messages.',
    legacy: 'gen_ai.prompt.',
    legacyJson: 'gen_ai.prompt',
    role: 'user',
    tool: 'gen_ai.tool.call.arguments',
    traceloop: 'traceloop.entity.input',
  },
  output: {
    loupe: LOUPE_OUTPUTS,
    langfuse: 'langfuse.observation.output',
    genai: 'gen_ai.output.messages',
    oi: 'llm.output_messages.',
    legacy: 'gen_ai.completion.',
    legacyJson: 'gen_ai.completion',
    role: 'assistant',
    tool: 'gen_ai.tool.call.result',
    traceloop: 'traceloop.entity.output',
  },
} as const;

/** A JSON(-string) attribute taken as a whole, wrapped into an object if needed. */
function whole(bag: AttributeBag, key: string, side: Side): JsonObject | undefined {
  return bag.take(key, (v) => asObject(parseIfString(v), side));
}

/** Flattened messages (`prefix.N.…`); marks the keys only if messages came out. */
function flattenedMessages(
  bag: AttributeBag,
  prefix: string,
  role: string,
  legacy: boolean,
): ChatMessage[] {
  const flat = bag.unflatten(prefix);
  if (!flat || !Array.isArray(flat.value)) return [];
  const items = legacy ? flat.value.map(legacyQuirks) : flat.value;
  const messages = items.flatMap((m) => messagesFrom([m], role));
  if (messages.length > 0) bag.use(...flat.keys);
  return messages;
}

/** Traceloop ≤0.22 flattens an assistant tool-call turn's null content to "null". */
function legacyQuirks(m: JsonValue): JsonValue {
  if (!isObject(m)) return m;
  if (m.role === 'assistant' && (m.content === 'null' || m.content === ''))
    return { ...m, content: null };
  return m;
}

function chatMessages(bag: AttributeBag, side: Side, events: EventsContent): ChatMessage[] {
  const s = SIDES[side];
  let messages = bag.take(s.genai, (v) => {
    const m = messagesFrom(v, s.role);
    return m.length > 0 ? m : undefined;
  });
  messages ??= orUndefined(flattenedMessages(bag, s.oi, s.role, false));
  messages ??= orUndefined(flattenedMessages(bag, s.legacy, s.role, true));
  messages ??= bag.take(s.legacyJson, (v) => orUndefined(messagesFrom(v, s.role)));
  messages ??= orUndefined(events()[side]);
  if (!messages) return [];
  if (side === 'input') {
    // the instructions alone are not a conversation; when the messages travel as log
    // records (OTel JS contrib) the reader combines them — leave the attribute as is
    const system = bag.take('gen_ai.system_instructions', systemMessage);
    messages = withSystem(messages, system);
  }
  return messages;
}

function orUndefined<T>(list: T[]): T[] | undefined {
  return list.length > 0 ? list : undefined;
}

/** OpenInference `input.value` / `output.value`, parsed when its mime type says JSON. */
function valueAttribute(bag: AttributeBag, side: Side): JsonValue | undefined {
  const value = bag.get(`${side}.value`);
  if (value === undefined) return undefined;
  const mime = asText(bag.get(`${side}.mime_type`));
  bag.use(`${side}.value`);
  if (mime !== undefined) bag.use(`${side}.mime_type`);
  return typeof value === 'string' && mime?.toLowerCase().includes('json')
    ? parseJsonLenient(value)
    : value;
}

function retrieval(bag: AttributeBag, side: Side): JsonObject | undefined {
  if (side === 'input') {
    const query = bag.take('gen_ai.retrieval.query.text', asText);
    return query === undefined ? undefined : { query };
  }
  const docs = bag.take('gen_ai.retrieval.documents', (v) => parseIfString(v));
  if (docs !== undefined) return { documents: docs };
  const flat = bag.unflatten('retrieval.documents.');
  if (!flat || !Array.isArray(flat.value)) return undefined;
  bag.use(...flat.keys);
  return {
    documents: flat.value.map((d) => (isObject(d) && isObject(d.document) ? d.document : d)),
  };
}

/** Only the texts: the vectors are large and stay with the other attributes. */
function embeddingTexts(bag: AttributeBag): JsonObject | undefined {
  const texts: Array<[number, JsonValue]> = [];
  for (const [suffix, value] of bag.entries('embedding.embeddings.')) {
    const m = /^(\d+)\.embedding\.text$/.exec(suffix);
    if (!m) continue;
    texts.push([Number(m[1]), value]);
    bag.use(`embedding.embeddings.${suffix}`);
  }
  if (texts.length === 0) return undefined;
  return { input: texts.sort((a, b) => a[0] - b[0]).map(([, v]) => v) };
}

type EventsContent = () => { input: ChatMessage[]; output: ChatMessage[] };

function side(bag: AttributeBag, which: Side, events: EventsContent): JsonValue | undefined {
  const s = SIDES[which];
  const explicit = whole(bag, s.loupe, which) ?? whole(bag, s.langfuse, which);
  if (explicit) return explicit;
  const messages = chatMessages(bag, which, events);
  if (messages.length > 0) {
    const out: JsonObject = { messages };
    const raw = valueAttribute(bag, which);
    if (raw !== undefined) out.raw = raw;
    return out;
  }
  const specific =
    whole(bag, s.tool, which) ?? retrieval(bag, which) ?? whole(bag, s.traceloop, which);
  if (specific) return specific;
  const value = valueAttribute(bag, which);
  if (value !== undefined) return asObject(value, which);
  return which === 'input' ? embeddingTexts(bag) : undefined;
}

export function extractContent(
  bag: AttributeBag,
  events: NormalisedEvent[],
): { inputs?: JsonValue; outputs?: JsonValue } {
  let cached: ReturnType<EventsContent> | undefined;
  const fromEvents: EventsContent = () =>
    (cached ??= contentFromEvents(events.map((e) => ({ name: e.name, attributes: e.attributes }))));
  const inputs = side(bag, 'input', fromEvents);
  const outputs = side(bag, 'output', fromEvents);
  return {
    ...(inputs === undefined ? {} : { inputs }),
    ...(outputs === undefined ? {} : { outputs }),
  };
}
