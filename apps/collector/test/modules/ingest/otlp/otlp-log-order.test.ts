import { describe, expect, it } from 'vitest';
import { decodeLogsRequest } from '../../../../src/modules/ingest/otlp/otlp-decode.js';
import { mapLogs } from '../../../../src/modules/ingest/otlp/otlp-map.js';
import { contentFromLogRecords } from '../../../../src/modules/ingest/otlp/log-content.js';

const TRACE = '0af7651916cd43dd8448eb211c80319c';
const SPAN = 'b7ad6b7169203331';
const record = (event: string, body: unknown) => ({
  timeUnixNano: '1795759490270000000', // same millisecond for all, as the OTel JS SDK stamps them
  traceId: TRACE,
  spanId: SPAN,
  attributes: [{ key: 'event.name', value: { stringValue: event } }],
  body,
});
const kv = (values: Record<string, unknown>) => ({
  kvlistValue: { values: Object.entries(values).map(([key, v]) => ({ key, value: v })) },
});

describe('log records of one span sharing a timestamp', () => {
  const request = {
    resourceLogs: [
      {
        resource: { attributes: [] },
        scopeLogs: [
          {
            scope: { name: 'test' },
            logRecords: [
              record('gen_ai.user.message', kv({ content: { stringValue: 'weather in Paris?' } })),
              record(
                'gen_ai.assistant.message',
                kv({ content: { stringValue: 'calling the tool' } }),
              ),
              record(
                'gen_ai.tool.message',
                kv({ id: { stringValue: 'call_1' }, content: { stringValue: '21C' } }),
              ),
            ],
          },
        ],
      },
    ],
  };

  it('keep their emission order, and re-delivery adds nothing', () => {
    const first = mapLogs(decodeLogsRequest(Buffer.from(JSON.stringify(request)), 'json'), {});
    const again = mapLogs(decodeLogsRequest(Buffer.from(JSON.stringify(request)), 'json'), {});
    const records = { ...first.runs[0]!.logRecords!, ...again.runs[0]!.logRecords! };
    expect(Object.keys(records)).toHaveLength(3);
    const { inputs } = contentFromLogRecords(records);
    const text = JSON.stringify(inputs);
    const order = ['weather in Paris?', 'calling the tool', '21C'].map((s) => text.indexOf(s));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });
});
