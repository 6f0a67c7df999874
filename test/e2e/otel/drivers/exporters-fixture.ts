// What exporters.driver.ts sends, shared with exporters.test.ts (data and types only).

export const RESOURCE_ATTRIBUTES = {
  'service.name': 'exporter-e2e',
  'service.version': '1.2.3',
  'deployment.environment.name': 'test',
  'app.region': 'eu-west-3',
  'app.replicas': 3,
};

export const SCOPE = { name: 'loupe-e2e-scope', version: '0.4.2' };

/** Attributes of every type an OTel JS span can carry; none of them is a mapped convention. */
export const MANY_TYPES = {
  'app.string': 'héllo ✓ "quoted" \\ back',
  'app.empty': '',
  'app.int': 42,
  'app.negative': -7,
  'app.max_safe': Number.MAX_SAFE_INTEGER,
  'app.double': 3.25,
  'app.true': true,
  'app.false': false,
  'app.strings': ['a', 'b', ''],
  'app.ints': [1, 2, 3],
  'app.doubles': [0.5, 1.5],
  'app.bools': [true, false],
  'app.json_looking': '{"not":"parsed"}',
};

/** The span link `load` carries (a span of another trace). */
export const LINKED = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331' };

export type SpanName = 'root' | 'load' | 'call' | 'retry';
export type HrTimeJson = [number, number];

/**
 * root "handle request" (SERVER, UNSET; attributes app.variant, http.route)
 * ├── load "load context" (INTERNAL, OK, MANY_TYPES, event cache.lookup, a link)
 * └── call "call upstream" (CLIENT, ERROR "upstream failed: boom", exception BoomError: boom)
 *     └── retry "retry upstream" (CLIENT, ERROR without message, exception BoomError: second boom)
 */
export interface BuiltTree {
  traceId: string;
  spanIds: Record<SpanName, string>;
  times: Record<SpanName, { start: HrTimeJson; end: HrTimeJson }>;
  /** time of the `cache.lookup` event on `load` */
  eventTime: HrTimeJson;
}

export type ExporterKind = 'protobuf' | 'json';

export interface TreeArgs {
  exporter: ExporterKind;
  gzip: boolean;
  /** base URL the exporter posts to (the collector or a recording proxy) */
  url: string;
  variant: string;
}

export interface RecordedTree extends BuiltTree {
  handle: string;
}

export interface ExportArgs {
  handle: string;
  spans: SpanName[];
  exporter: ExporterKind;
  /** how many times the same ReadableSpans are exported */
  times?: number;
}

export interface LogsArgs {
  url: string;
}

export interface LogsResult {
  llm: { traceId: string; spanId: string };
  plain: { traceId: string; spanId: string };
}
