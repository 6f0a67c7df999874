/**
 * Real OTel JS SDK output for tests, produced in a child process (see
 * fixtures/otel-sdk-payloads.mjs for why).
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('./fixtures/otel-sdk-payloads.mjs', import.meta.url));

export interface SpanSpec {
  ref?: string;
  name: string;
  /** SpanKind number (0 INTERNAL … 4 CONSUMER in the JS API) */
  kind?: number;
  parent?: string;
  attributes?: Record<string, unknown>;
  events?: Array<{ name: string; attributes?: Record<string, unknown>; time?: string }>;
  exception?: { type?: string; message: string; stack?: string; time?: string };
  /** JS API SpanStatusCode: 0 UNSET, 1 OK, 2 ERROR */
  status?: { code: number; message?: string };
  links?: string[];
  /** decimal unix nanoseconds */
  start?: string;
  end?: string;
}

export interface LogSpec {
  span?: string;
  eventName?: string;
  body?: unknown;
  attributes?: Record<string, unknown>;
  severityNumber?: number;
  severityText?: string;
  time?: string;
}

export interface Scenario {
  resource?: Record<string, unknown>;
  scope?: { name: string; version?: string };
  spans?: SpanSpec[];
  logs?: LogSpec[];
}

export interface Bodies {
  protobuf: Buffer;
  json: Buffer;
}

export interface Generated {
  ids: Record<string, { traceId: string; spanId: string }>;
  traces: Bodies;
  logs: Bodies;
}

type Job =
  | { scenario: Scenario }
  | { deserialize: 'trace' | 'logs'; format: 'protobuf' | 'json'; body: string };

function run(jobs: Job[]): unknown[] {
  const out = execFileSync(process.execPath, [SCRIPT], {
    input: JSON.stringify(jobs),
    // a clean Node: none of the runner's --conditions
    env: { ...process.env, NODE_OPTIONS: '' },
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(out.toString('utf8')) as unknown[];
}

interface RawGenerated {
  ids: Generated['ids'];
  traces: { protobuf: string; json: string };
  logs: { protobuf: string; json: string };
}

const bodies = (b: { protobuf: string; json: string }): Bodies => ({
  protobuf: Buffer.from(b.protobuf, 'base64'),
  json: Buffer.from(b.json, 'base64'),
});

/** One child process for all scenarios of a test file. */
export function generate(scenarios: Scenario[]): Generated[] {
  return (run(scenarios.map((scenario) => ({ scenario }))) as RawGenerated[]).map((g) => ({
    ids: g.ids,
    traces: bodies(g.traces),
    logs: bodies(g.logs),
  }));
}

/** What the OTel JS exporter's response deserialiser reads from our response bytes. */
export function exporterReads(
  signal: 'trace' | 'logs',
  format: 'protobuf' | 'json',
  body: Buffer,
): unknown {
  return run([{ deserialize: signal, format, body: body.toString('base64') }])[0];
}
