// Real OpenTelemetry JS exporters (OTLP/HTTP protobuf and JSON, with and without gzip) and
// the real SDK → a collector on each backend → checked through the native query API.
// The SDK side runs in a driver process (drivers/exporters.driver.ts; why: drivers/runtime.ts).
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runIdFromOtel, traceIdFromOtel } from '@loupe/collector';
import { startTestServer, testBackends, type TestServer } from '@loupe/collector/testing';
import {
  byName,
  hrTimeToNanos,
  loupeApi,
  otelOf,
  startDriver,
  startRecordingProxy,
  waitForRun,
  waitForRuns,
  type Driver,
  type LoupeApi,
  type RecordingProxy,
} from '../../support/otel-helpers.js';
import {
  LINKED,
  MANY_TYPES,
  RESOURCE_ATTRIBUTES,
  SCOPE,
  type BuiltTree,
  type ExportArgs,
  type HrTimeJson,
  type LogsResult,
  type RecordedTree,
  type SpanName,
  type TreeArgs,
} from './drivers/exporters-fixture.js';

const DRIVER = fileURLToPath(new URL('./drivers/exporters.driver.ts', import.meta.url));
const PROJECT = 'p';
const SEVERITY_INFO = 9; // SeverityNumber.INFO

const VARIANTS = [
  { label: 'protobuf', exporter: 'protobuf', gzip: false, contentType: 'application/x-protobuf' },
  {
    label: 'protobuf + gzip',
    exporter: 'protobuf',
    gzip: true,
    contentType: 'application/x-protobuf',
  },
  { label: 'JSON', exporter: 'json', gzip: false, contentType: 'application/json' },
  { label: 'JSON + gzip', exporter: 'json', gzip: true, contentType: 'application/json' },
] as const;

const msOf = ([s, ns]: HrTimeJson) => s * 1000 + Math.floor(ns / 1e6);

describe.each(testBackends())('real OTLP exporters → collector (%s)', (backend) => {
  let server: TestServer;
  let proxy: RecordingProxy;
  let api: LoupeApi;
  let driver: Driver;

  beforeAll(async () => {
    server = await startTestServer(backend);
    proxy = await startRecordingProxy(server.url);
    api = loupeApi(server);
    driver = await startDriver(DRIVER, {
      collectorUrl: server.url,
      apiKey: server.apiKey,
      project: PROJECT,
    });
  });

  afterAll(async () => {
    await driver?.close();
    await proxy?.close();
    await server?.close();
  });

  it.each(VARIANTS)('$label: a span tree arrives field by field', async (variant) => {
    proxy.requests.length = 0;
    const args: TreeArgs = {
      exporter: variant.exporter,
      gzip: variant.gzip,
      url: proxy.url,
      variant: variant.label,
    };
    const built = await driver.call<BuiltTree>('tree', args);

    // what went over the wire
    const sent = proxy.requests.filter((r) => r.path === '/v1/traces');
    expect(sent.length).toBeGreaterThan(0);
    for (const r of sent) {
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toContain(variant.contentType);
      expect(r.headers['content-encoding']).toBe(variant.gzip ? 'gzip' : undefined);
      expect(r.headers['x-api-key']).toBe(server.apiKey);
    }

    const runId = (span: SpanName) => runIdFromOtel(built.traceId, built.spanIds[span]);
    const traceUuid = traceIdFromOtel(built.traceId);
    const runs = await waitForRuns(
      api,
      { project: PROJECT, trace_id: traceUuid },
      (rs) => rs.length === 4,
    );
    expect(new Set(runs.map((r) => r.id))).toEqual(
      new Set([runId('root'), runId('load'), runId('call'), runId('retry')]),
    );
    expect(new Set(runs.map((r) => r.project_id)).size).toBe(1);

    // --- root
    const root = await api.run(runId('root'));
    expect(root).toMatchObject({
      id: runId('root'),
      trace_id: traceUuid,
      parent_run_id: null,
      name: 'handle request',
      run_type: 'chain',
      status: 'success',
      error: null,
      otel_trace_id: built.traceId,
      otel_span_id: built.spanIds.root,
      model: null,
      prompt_tokens: null,
      inputs: null,
      outputs: null,
    });
    expect(Date.parse(root.start_time!)).toBe(msOf(built.times.root.start));
    expect(Date.parse(root.end_time!)).toBe(msOf(built.times.root.end));
    expect(root.latency_ms).toBeCloseTo(
      msOf(built.times.root.end) - msOf(built.times.root.start),
      0,
    );
    expect(root.metadata).toMatchObject({
      service_name: 'exporter-e2e',
      service_version: '1.2.3',
      environment: 'test',
      otel_scope: SCOPE.name,
      otel_scope_version: SCOPE.version,
    });
    const rootOtel = otelOf(root);
    expect(rootOtel).toMatchObject({
      span_name: 'handle request',
      kind: 'SERVER',
      status: { code: 'UNSET', message: '' },
      start_time_unix_nano: hrTimeToNanos(built.times.root.start),
      end_time_unix_nano: hrTimeToNanos(built.times.root.end),
      parent_span_id: null,
      scope: { name: SCOPE.name, version: SCOPE.version },
    });
    expect(rootOtel.attributes).toEqual({ 'app.variant': variant.label, 'http.route': '/answer' });
    expect(rootOtel.resource).toMatchObject(RESOURCE_ATTRIBUTES);

    // --- load: every attribute type survives under otel.attributes; event and link kept
    const load = await api.run(runId('load'));
    expect(load).toMatchObject({
      parent_run_id: runId('root'),
      trace_id: traceUuid,
      name: 'load context',
      run_type: 'chain',
      status: 'success',
      error: null,
      otel_span_id: built.spanIds.load,
    });
    expect(Date.parse(load.start_time!)).toBe(msOf(built.times.load.start));
    expect(Date.parse(load.end_time!)).toBe(msOf(built.times.load.end));
    const loadOtel = otelOf(load);
    expect(loadOtel.attributes).toEqual(MANY_TYPES);
    expect(loadOtel).toMatchObject({
      kind: 'INTERNAL',
      status: { code: 'OK' },
      parent_span_id: built.spanIds.root,
      start_time_unix_nano: hrTimeToNanos(built.times.load.start),
      end_time_unix_nano: hrTimeToNanos(built.times.load.end),
      links: [
        {
          trace_id: LINKED.traceId,
          span_id: LINKED.spanId,
          attributes: { 'link.reason': 'follows' },
        },
      ],
    });
    expect(load.events).toEqual([
      expect.objectContaining({
        name: 'cache.lookup',
        attributes: { 'cache.hit': false, 'cache.key': 'k1' },
        time_unix_nano: hrTimeToNanos(built.eventTime),
      }),
    ]);

    // --- call: ERROR status with a message, exception event
    const call = await api.run(runId('call'));
    expect(call).toMatchObject({
      parent_run_id: runId('root'),
      name: 'call upstream',
      run_type: 'chain',
      status: 'error',
      error: 'upstream failed: boom',
    });
    expect(call.metadata).toMatchObject({ error_type: 'BoomError' });
    expect(String(call.metadata.error_stacktrace)).toContain('BoomError: boom');
    expect(otelOf(call)).toMatchObject({
      kind: 'CLIENT',
      status: { code: 'ERROR', message: 'upstream failed: boom' },
    });
    expect(otelOf(call).attributes).toEqual({ 'app.attempts': 2 });
    expect(call.events).toEqual([
      expect.objectContaining({
        name: 'exception',
        attributes: expect.objectContaining({
          'exception.type': 'BoomError',
          'exception.message': 'boom',
        }),
      }),
    ]);

    // --- retry: ERROR without a message → the exception gives the text
    const retry = await api.run(runId('retry'));
    expect(retry).toMatchObject({
      parent_run_id: runId('call'),
      name: 'retry upstream',
      status: 'error',
      error: 'BoomError: second boom',
    });

    // --- the tree
    const tree = await api.trace(traceUuid);
    expect(tree.run_count).toBe(4);
    expect(tree.roots.map((r) => r.id)).toEqual([runId('root')]);
    const treeRoot = tree.roots[0]!;
    expect(treeRoot.children.map((c) => c.name).sort()).toEqual(['call upstream', 'load context']);
    expect(byName(treeRoot.children, 'call upstream').children.map((c) => c.id)).toEqual([
      runId('retry'),
    ]);
  });

  it('re-exporting the same spans creates no duplicates', async () => {
    const rec = await driver.call<RecordedTree>('record', { variant: 're-export' });
    const all: SpanName[] = ['root', 'load', 'call', 'retry'];
    await driver.call('export', {
      handle: rec.handle,
      spans: all,
      exporter: 'protobuf',
      times: 2,
    } satisfies ExportArgs);
    await driver.call('export', {
      handle: rec.handle,
      spans: [...all].reverse(),
      exporter: 'json',
    } satisfies ExportArgs);
    const traceUuid = traceIdFromOtel(rec.traceId);
    const runs = await waitForRuns(api, { trace_id: traceUuid }, (rs) => rs.length >= 4);
    expect(runs).toHaveLength(4);
    expect(new Set(runs.map((r) => r.id)).size).toBe(4);
    const call = await api.run(runIdFromOtel(rec.traceId, rec.spanIds.call));
    expect(call.error).toBe('upstream failed: boom');
    expect(call.events).toHaveLength(1);
    const tree = await api.trace(traceUuid);
    expect(tree.run_count).toBe(4);
    expect(tree.roots).toHaveLength(1);
  });

  it('a child exported before its parent converges to one tree', async () => {
    const rec = await driver.call<RecordedTree>('record', { variant: 'out-of-order' });
    const traceUuid = traceIdFromOtel(rec.traceId);
    const runId = (span: SpanName) => runIdFromOtel(rec.traceId, rec.spanIds[span]);
    const send = (spans: SpanName[]) =>
      driver.call('export', {
        handle: rec.handle,
        spans,
        exporter: 'protobuf',
      } satisfies ExportArgs);

    // the grandchild alone: stored, already pointing at a parent that is not there yet
    await send(['retry']);
    const orphan = await waitForRun(api, runId('retry'));
    expect(orphan.parent_run_id).toBe(runId('call'));
    const partial = await api.trace(traceUuid);
    expect(partial.run_count).toBe(1);
    expect(partial.roots.map((r) => r.id)).toEqual([runId('retry')]);

    // then its parent, then the rest, root last
    await send(['call']);
    await send(['load']);
    await send(['root']);
    await waitForRuns(api, { trace_id: traceUuid }, (rs) => rs.length === 4);
    const tree = await api.trace(traceUuid);
    expect(tree.run_count).toBe(4);
    expect(tree.roots.map((r) => r.id)).toEqual([runId('root')]);
    const call = byName(tree.roots[0]!.children, 'call upstream');
    expect(call.children.map((c) => c.id)).toEqual([runId('retry')]);
    const roots = await api.runs({ trace_id: traceUuid, root: true });
    expect(roots.map((r) => r.id)).toEqual([runId('root')]);
  });

  it('log records joined to a span (sent before the span) become its inputs/outputs', async () => {
    proxy.requests.length = 0;
    // logs are flushed here; the spans stay in the driver until logs.flushSpans
    const ids = await driver.call<LogsResult>('logs.emit', { url: proxy.url });
    const llmId = runIdFromOtel(ids.llm.traceId, ids.llm.spanId);
    const plainId = runIdFromOtel(ids.plain.traceId, ids.plain.spanId);
    expect(ids.plain.traceId).toBe(ids.llm.traceId);

    const early = await waitForRun(api, llmId, (r) => otelOf(r).log_records !== undefined);
    expect(Object.keys(otelOf(early).log_records!)).toHaveLength(3);
    expect(proxy.requests.filter((r) => r.path === '/v1/traces')).toHaveLength(0);
    const logPosts = proxy.requests.filter((r) => r.path === '/v1/logs');
    expect(logPosts.length).toBeGreaterThan(0);
    for (const r of logPosts) {
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toBe('application/x-protobuf');
    }

    await driver.call('logs.flushSpans');
    const llm = await waitForRun(api, llmId, (r) => r.name !== null && r.start_time !== null);
    expect(llm).toMatchObject({
      name: 'chat gpt-4o-mini',
      run_type: 'llm',
      model: 'gpt-4o-mini-2024-07-18',
      provider: 'openai',
      prompt_tokens: 12,
      completion_tokens: 3,
      total_tokens: 15,
      status: 'success',
      parent_run_id: null,
    });
    expect(llm.inputs).toEqual({
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'Hello?' },
      ],
    });
    expect(llm.outputs).toEqual({
      messages: [{ role: 'assistant', content: 'Hi.', finish_reason: 'stop' }],
    });
    const records = Object.values(otelOf(llm).log_records!);
    expect(records.map((r) => r.event_name).sort()).toEqual([
      'gen_ai.choice',
      'gen_ai.system.message',
      'gen_ai.user.message',
    ]);
    expect(records.find((r) => r.event_name === 'gen_ai.user.message')).toMatchObject({
      body: { content: 'Hello?' },
      attributes: { 'event.name': 'gen_ai.user.message', 'gen_ai.system': 'openai' },
    });

    // a plain log line is kept on its run but is not chat content
    const plain = await waitForRun(api, plainId, (r) => r.name !== null);
    expect(plain).toMatchObject({ name: 'plain step', parent_run_id: llmId, run_type: 'chain' });
    expect(plain.inputs).toBeNull();
    expect(plain.outputs).toBeNull();
    expect(Object.values(otelOf(plain).log_records ?? {})).toEqual([
      expect.objectContaining({
        body: 'just an application log line',
        attributes: { 'app.step': 1 },
        severity: { number: SEVERITY_INFO, text: 'INFO' },
      }),
    ]);
  });
});
