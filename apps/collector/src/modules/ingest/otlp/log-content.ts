/**
 * Read-time view of content that arrived as OTLP log records (the OTel JS contrib
 * instrumentations put prompts and completions there, not on the span). Records are
 * stored as they came (see `storedLogRecord` in otlp-map.ts) because they can arrive
 * before or after their span and in any order; they are turned into llm inputs /
 * outputs here, in the message shape of otlp-messages.ts.
 */
import type { JsonObject, JsonValue } from '../run-upsert.js';
import { asText, getOwn, isObject } from './otlp-json.js';
import { CONTENT_EVENT_NAMES, contentFromEvents, type ContentEvent } from './otlp-messages.js';

function timeOf(record: JsonObject): bigint {
  const t = getOwn(record, 'time_unix_nano');
  if (typeof t === 'string' && /^\d{1,20}$/.test(t)) return BigInt(t);
  if (typeof t === 'number' && Number.isInteger(t) && t >= 0) return BigInt(t);
  return 0n;
}

/** The event name is in `event_name` (LogRecord field) or, for older emitters, the `event.name` attribute. */
function eventNameOf(record: JsonObject, attributes: JsonObject): string {
  return asText(getOwn(record, 'event_name')) ?? asText(getOwn(attributes, 'event.name')) ?? '';
}

export function contentFromLogRecords(records: Record<string, JsonObject>): {
  inputs?: JsonValue;
  outputs?: JsonValue;
} {
  const ordered = Object.entries(records)
    .filter(([, r]) => isObject(r))
    .map(([key, record]) => ({ key, record, time: timeOf(record) }))
    .sort((a, b) =>
      a.time < b.time ? -1 : a.time > b.time ? 1 : a.key < b.key ? -1 : a.key > b.key ? 1 : 0,
    );
  const events: ContentEvent[] = [];
  for (const { record } of ordered) {
    const rawAttributes = getOwn(record, 'attributes');
    const attributes = isObject(rawAttributes) ? rawAttributes : {};
    const name = eventNameOf(record, attributes);
    if (!CONTENT_EVENT_NAMES.has(name)) continue;
    events.push({ name, attributes, body: getOwn(record, 'body') ?? null });
  }
  const { input, output } = contentFromEvents(events);
  return {
    ...(input.length > 0 ? { inputs: { messages: input } } : {}),
    ...(output.length > 0 ? { outputs: { messages: output } } : {}),
  };
}
