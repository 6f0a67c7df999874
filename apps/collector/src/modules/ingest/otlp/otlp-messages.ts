/**
 * Chat content normalisation, shared by span mapping (ingest time) and log-record
 * content (read time), so every convention ends in ONE shape:
 *
 *   inputs  = { messages: ChatMessage[], raw?: <request as sent, e.g. OpenInference input.value> }
 *   outputs = { messages: ChatMessage[], raw?: <response as sent> }
 *
 *   ChatMessage = {
 *     role: string                              system | user | assistant | tool | …
 *     content: string | ContentPart[] | null    a single text part collapses to its string
 *     tool_calls?: ToolCall[]                   assistant turns that call tools
 *     tool_call_id?: string                     role 'tool': the call it answers
 *     name?: string
 *     finish_reason?: string                    output messages / choices
 *   }
 *   ToolCall    = { id?: string, type: 'function', function: { name: string, arguments: string } }
 *   ContentPart = { type: 'text', text: string } | any other part as sent (image, blob, uri, reasoning…)
 *
 * That is the OpenAI chat shape, which LangSmith-style UIs already render. GenAI
 * `parts`, OpenInference `contents`/`tool_calls.N.tool_call`, legacy flattened
 * prompts and per-message events are all folded into it. Messages with neither
 * content nor tool calls are dropped: they are what "content capture off" sends.
 */
import type { JsonObject, JsonValue } from '../run-upsert.js';
import { asNumber, asText, getOwn, isObject, parseIfString } from './otlp-json.js';

export type ChatMessage = JsonObject;

const TEXT_PARTS = new Set(['text', 'input_text', 'output_text']);
const CALL_PARTS = new Set(['tool_call', 'tool_use', 'function_call']);
const RESPONSE_PARTS = new Set(['tool_call_response', 'tool_result', 'function_call_output']);

function argumentsString(v: JsonValue | undefined): string {
  if (v === undefined || v === null) return '';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function contentString(v: JsonValue | undefined): string | null {
  if (v === undefined || v === null) return null;
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** OpenAI `{id,type,function:{name,arguments}}`, GenAI/legacy `{id,name,arguments}`, OI `{tool_call:{…}}`. */
export function toolCall(raw: JsonValue): JsonObject | undefined {
  if (!isObject(raw)) return undefined;
  const tc = isObject(raw.tool_call) ? raw.tool_call : raw;
  const fn = isObject(tc.function) ? tc.function : tc;
  const name = asText(fn.name);
  const args = fn.arguments ?? tc.input ?? fn.input;
  if (name === undefined && args === undefined) return undefined;
  const id = asText(tc.id) ?? asText(tc.call_id);
  const fnOut: JsonObject = { name: name ?? '', arguments: argumentsString(args) };
  return id === undefined
    ? { type: 'function', function: fnOut }
    : { id, type: 'function', function: fnOut };
}

function toolCalls(raw: JsonValue | undefined): JsonObject[] {
  if (raw === undefined || raw === null) return [];
  const v = parseIfString(raw);
  const items = Array.isArray(v) ? v : [v];
  return items.map(toolCall).filter((t): t is JsonObject => t !== undefined);
}

interface Parts {
  content: JsonValue[];
  calls: JsonObject[];
  responses: Array<{ id: string | undefined; content: string | null }>;
}

function collectParts(items: JsonValue[]): Parts {
  const out: Parts = { content: [], calls: [], responses: [] };
  for (const item of items) {
    if (typeof item === 'string') {
      out.content.push({ type: 'text', text: item });
      continue;
    }
    if (!isObject(item)) continue;
    const p = isObject(item.message_content) ? item.message_content : item; // OpenInference
    const type = asText(p.type) ?? (typeof p.text === 'string' ? 'text' : '');
    if (TEXT_PARTS.has(type)) {
      const text =
        typeof p.content === 'string' ? p.content : typeof p.text === 'string' ? p.text : '';
      out.content.push({ type: 'text', text });
    } else if (CALL_PARTS.has(type)) {
      const call = toolCall(p);
      if (call) out.calls.push(call);
    } else if (RESPONSE_PARTS.has(type)) {
      const id = asText(p.id) ?? asText(p.tool_use_id) ?? asText(p.call_id);
      out.responses.push({
        id,
        content: contentString(p.response ?? p.result ?? p.content ?? p.output),
      });
    } else {
      out.content.push(p);
    }
  }
  return out;
}

function collapse(content: JsonValue[]): JsonValue {
  if (content.length === 0) return null;
  const only = content[0];
  if (
    content.length === 1 &&
    isObject(only) &&
    only.type === 'text' &&
    typeof only.text === 'string'
  )
    return only.text;
  return content;
}

function hasContent(m: ChatMessage): boolean {
  const c = m.content;
  const calls = m.tool_calls;
  return (c !== null && c !== undefined && c !== '') || (Array.isArray(calls) && calls.length > 0);
}

/** One source message → normalised messages (tool responses split into `tool` turns). */
export function normaliseMessage(raw: JsonValue, fallbackRole: string): ChatMessage[] {
  if (typeof raw === 'string') return raw === '' ? [] : [{ role: fallbackRole, content: raw }];
  if (!isObject(raw)) return [];
  // OpenInference / LangSmith variants nest the message one level down
  const m =
    isObject(raw.message) && raw.role === undefined && raw.content === undefined
      ? raw.message
      : raw;
  const role = asText(m.role) ?? fallbackRole;
  let parts: Parts;
  if (Array.isArray(m.parts)) parts = collectParts(m.parts);
  else if (Array.isArray(m.contents)) parts = collectParts(m.contents);
  else if (Array.isArray(m.content)) parts = collectParts(m.content);
  else {
    const c = m.content;
    const part: JsonValue | undefined =
      c === undefined || c === null
        ? undefined
        : isObject(c)
          ? c
          : { type: 'text', text: typeof c === 'string' ? c : String(c) };
    parts = { content: part === undefined ? [] : [part], calls: [], responses: [] };
  }
  const calls = [...parts.calls, ...toolCalls(getOwn(m, 'tool_calls'))];
  const msg: ChatMessage = { role, content: collapse(parts.content) };
  if (calls.length > 0) msg.tool_calls = calls;
  const callId = asText(m.tool_call_id) ?? (role === 'tool' ? asText(m.id) : undefined);
  if (callId !== undefined) msg.tool_call_id = callId;
  const name = asText(m.name);
  if (name !== undefined) msg.name = name;
  const finish = asText(m.finish_reason);
  if (finish !== undefined) msg.finish_reason = finish;
  const out: ChatMessage[] = hasContent(msg) ? [msg] : [];
  for (const r of parts.responses) {
    const t: ChatMessage = { role: 'tool', content: r.content };
    const id = r.id ?? callId;
    if (id !== undefined) t.tool_call_id = id;
    if (hasContent(t)) out.push(t);
  }
  return out;
}

/** A message list in any supported shape (JSON string, array, `{messages}`). */
export function messagesFrom(value: JsonValue | undefined, fallbackRole: string): ChatMessage[] {
  if (value === undefined || value === null) return [];
  const v = parseIfString(value);
  if (Array.isArray(v)) return v.flatMap((m) => normaliseMessage(m, fallbackRole));
  if (isObject(v) && Array.isArray(v.messages))
    return v.messages.flatMap((m) => normaliseMessage(m, fallbackRole));
  return normaliseMessage(v, fallbackRole);
}

/** `gen_ai.system_instructions`: parts (structured or JSON) or a plain string. */
export function systemMessage(value: JsonValue | undefined): ChatMessage | undefined {
  if (value === undefined || value === null) return undefined;
  const v = parseIfString(value);
  const raw: JsonObject =
    typeof v === 'string'
      ? { role: 'system', content: v }
      : { role: 'system', parts: Array.isArray(v) ? v : [v] };
  return normaliseMessage(raw, 'system')[0];
}

/** Prepends the system instructions unless the conversation already starts with them. */
export function withSystem(
  messages: ChatMessage[],
  system: ChatMessage | undefined,
): ChatMessage[] {
  if (!system) return messages;
  const first = messages[0];
  if (
    first &&
    first.role === 'system' &&
    JSON.stringify(first.content) === JSON.stringify(system.content)
  )
    return messages;
  return [system, ...messages];
}

// ---- events (span events and log records share the vocabulary) ----

const ROLE_EVENTS: Record<string, string> = {
  'gen_ai.system.message': 'system',
  'gen_ai.user.message': 'user',
  'gen_ai.assistant.message': 'assistant',
  'gen_ai.tool.message': 'tool',
};
export const CONTENT_EVENT_NAMES = new Set([
  ...Object.keys(ROLE_EVENTS),
  'gen_ai.choice',
  'gen_ai.client.inference.operation.details',
  'gen_ai.content.prompt',
  'gen_ai.content.completion',
]);

export interface ContentEvent {
  name: string;
  /** span-event attributes or log-record attributes */
  attributes: JsonObject;
  /** log-record body (span events have none) — content lives here for log records */
  body?: JsonValue;
}

export interface EventContent {
  input: ChatMessage[];
  output: ChatMessage[];
}

function payloadOf(e: ContentEvent): JsonObject {
  if (isObject(e.body)) return { ...e.attributes, ...e.body };
  if (typeof e.body === 'string' && e.body !== '') return { ...e.attributes, content: e.body };
  return e.attributes;
}

/** Messages from events in the order given; choices are ordered by their index. */
export function contentFromEvents(events: ContentEvent[]): EventContent {
  const input: ChatMessage[] = [];
  const output: ChatMessage[] = [];
  const choices: Array<{ index: number; order: number; messages: ChatMessage[] }> = [];
  for (const e of events) {
    const p = payloadOf(e);
    const role = ROLE_EVENTS[e.name];
    if (role !== undefined) {
      input.push(...normaliseMessage({ ...p, role: asText(p.role) ?? role }, role));
    } else if (e.name === 'gen_ai.choice') {
      const message = parseIfString(p.message ?? null);
      const base: JsonObject = isObject(message)
        ? { ...message }
        : { content: p.content ?? null, tool_calls: p.tool_calls ?? null };
      if (p.finish_reason !== undefined && base.finish_reason === undefined)
        base.finish_reason = p.finish_reason;
      const index = asNumber(p.index) ?? 0;
      choices.push({ index, order: choices.length, messages: normaliseMessage(base, 'assistant') });
    } else if (e.name === 'gen_ai.client.inference.operation.details') {
      const msgs = messagesFrom(p['gen_ai.input.messages'], 'user');
      if (msgs.length > 0)
        input.push(...withSystem(msgs, systemMessage(p['gen_ai.system_instructions'])));
      output.push(...messagesFrom(p['gen_ai.output.messages'], 'assistant'));
    } else if (e.name === 'gen_ai.content.prompt') {
      input.push(...messagesFrom(p['gen_ai.prompt'], 'user'));
    } else if (e.name === 'gen_ai.content.completion') {
      output.push(...messagesFrom(p['gen_ai.completion'], 'assistant'));
    }
  }
  choices.sort((a, b) => a.index - b.index || a.order - b.order);
  for (const c of choices) output.push(...c.messages);
  return { input, output };
}
