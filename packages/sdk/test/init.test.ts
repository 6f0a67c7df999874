import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  context,
  diag,
  DiagLogLevel,
  ProxyTracer,
  trace,
  type DiagLogger,
} from '@opentelemetry/api';
import { LOUPE_METADATA_PREFIX, LOUPE_TAGS } from '@loupe/contracts/attributes';
import { flush, init, shutdown } from '../src/init.js';
import { getStats } from '../src/stats.js';
import { setRunContext } from '../src/internal/context.js';
import { getPayloadOptions } from '../src/internal/state.js';
import { startFakeCollector, type FakeCollector, type Reply } from './support/fake-collector.js';

const messages: string[] = [];
const record = (...args: unknown[]) => void messages.push(args.map(String).join(' '));
const logger: DiagLogger = {
  error: record,
  warn: record,
  info: () => undefined,
  debug: () => undefined,
  verbose: () => undefined,
};

const collectors: FakeCollector[] = [];
afterAll(async () => {
  await shutdown();
  for (const c of collectors) await c.close();
});
async function collector(reply?: (i: number) => Reply) {
  const c = await startFakeCollector(reply);
  collectors.push(c);
  return c;
}

// init() works once per process; this file owns its process (vitest forks pool), so the
// in-process tests below run in order as one story: before → init → use → shutdown.
describe('init() in this process', () => {
  it('before init everything is a no-op', async () => {
    const tracer = trace.getTracer('app');
    expect(tracer).toBeInstanceOf(ProxyTracer);
    const span = tracer.startSpan('before');
    expect(span.isRecording()).toBe(false);
    span.end();
    await expect(flush()).resolves.toBeUndefined();
    expect(getStats().queued).toBe(0);
  });

  it('sets up NodeSDK with the Loupe processor, service name, sampler and payload options', async () => {
    diag.setLogger(logger, DiagLogLevel.WARN);
    const c = await collector();
    const errorsBefore = getStats().internalErrors;
    expect(() =>
      init({
        endpoint: c.url,
        apiKey: 'key-i',
        project: 'proj-i',
        serviceName: 'svc-i',
        sampleRate: 2, // invalid: reported, default 1
        hideInputs: true,
        scheduledDelayMillis: 60_000,
      }),
    ).not.toThrow();
    expect(getStats().internalErrors - errorsBefore).toBe(1);
    expect(messages.some((m) => m.includes('sampleRate') && m.includes('using 1'))).toBe(true);
    expect(getPayloadOptions().hideInputs).toBe(true);

    const tracer = trace.getTracer('app');
    // run context flows through the context manager NodeSDK installed
    const ctx = setRunContext(context.active(), { metadata: { tenant: 't1' }, tags: ['x'] });
    context.with(ctx, () =>
      tracer.startActiveSpan('root', (root) => {
        tracer.startSpan('third-party').end();
        root.end();
      }),
    );
    await flush();
    expect(c.requests).toHaveLength(1);
    const [req] = c.requests;
    expect(req!.headers).toMatchObject({ 'x-api-key': 'key-i', 'x-loupe-project': 'proj-i' });
    expect(req!.resource['service.name']).toBe('svc-i');
    expect(req!.spans.map((s) => s.name).sort()).toEqual(['root', 'third-party']);
    for (const s of req!.spans) {
      expect(s.attributes).toMatchObject({
        [`${LOUPE_METADATA_PREFIX}tenant`]: 't1',
        [LOUPE_TAGS]: ['x'],
      });
    }
    expect(new Set(req!.spans.map((s) => s.traceId)).size).toBe(1);
    expect(getStats()).toMatchObject({ exported: 2, queued: 0 });
  });

  it('a second init() is a no-op with a warning', () => {
    messages.length = 0;
    expect(() => init({ endpoint: 'http://127.0.0.1:1', apiKey: 'other' })).not.toThrow();
    expect(messages.some((m) => m.includes('already called'))).toBe(true);
  });

  it('shutdown() flushes, is idempotent, and tracing stops', async () => {
    const c = collectors[0]!;
    trace.getTracer('app').startSpan('last').end();
    const a = shutdown();
    expect(shutdown()).toBe(a);
    await a;
    expect(c.requests.at(-1)!.spans.map((s) => s.name)).toEqual(['last']);
    const count = c.requests.length;
    trace.getTracer('app').startSpan('after-shutdown').end();
    await flush();
    await shutdown();
    expect(c.requests).toHaveLength(count);
  });
});

// ---- child processes: the host's lifecycle ----

const INIT_URL = new URL('../src/init.ts', import.meta.url).href;
const STATS_URL = new URL('../src/stats.ts', import.meta.url).href;
const SDK_DIR = fileURLToPath(new URL('..', import.meta.url));

interface ChildResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** ms from the script's last line ("END") to process exit */
  exitLag: number;
}

function runChild(body: string, env: Record<string, string> = {}): Promise<ChildResult> {
  const script = `
    const { init, shutdown } = await import(${JSON.stringify(INIT_URL)});
    const { getStats } = await import(${JSON.stringify(STATS_URL)});
    const { trace } = await import('@opentelemetry/api');
    const tracer = trace.getTracer('child');
    const spans = (n) => { for (let i = 0; i < n; i++) tracer.startSpan('s' + i).end(); };
    ${body}
    console.log('STATS ' + JSON.stringify(getStats()));
    console.log('END');
  `;
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('LOUPE_') && !k.startsWith('OTEL_')),
  );
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--conditions=loupe-source', '--import', 'tsx', '--input-type=module', '-e', script],
      {
        cwd: SDK_DIR,
        env: { ...clean, NODE_OPTIONS: '', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    let endAt = 0;
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (endAt === 0 && stdout.includes('END\n')) endAt = Date.now();
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr, exitLag: endAt === 0 ? Infinity : Date.now() - endAt });
    });
  });
}

const statsOf = (r: ChildResult) =>
  JSON.parse(/STATS (.*)/.exec(r.stdout)?.[1] ?? 'null') as Record<string, number> | null;

describe('the host process lifecycle', () => {
  it.each([
    ['an export hangs in flight', 'hang', 10],
    ['the batch timer is armed', 'ok', 60_000],
    ['the collector is down (backoff timer armed)', 'down', 10],
  ] as const)('exits by itself without shutdown() when %s', async (_label, mode, delay) => {
    const c = await collector(() => (mode === 'hang' ? 'hang' : { status: 200 }));
    let url = c.url;
    if (mode === 'down') {
      const dead = await startFakeCollector();
      url = dead.url;
      await dead.close();
    }
    const result = await runChild(`
      init({ endpoint: ${JSON.stringify(url)}, apiKey: 'k', scheduledDelayMillis: ${delay} });
      spans(5);
      await new Promise((r) => setTimeout(r, 300));
    `);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.exitLag).toBeLessThan(1_000);
    if (mode === 'hang') expect(c.requests).toHaveLength(1); // it really was in flight
    if (mode === 'down') expect(statsOf(result)?.retries).toBeGreaterThanOrEqual(1);
  });

  it('awaiting shutdown() at the end of an ESM main delivers the queue (env config)', async () => {
    // the answer comes late: only the flush keeps the process alive meanwhile
    const c = await collector(() => ({ status: 200, delayMs: 600 }));
    const result = await runChild(
      `
      init({ scheduledDelayMillis: 60000 });
      spans(7);
      await shutdown();
    `,
      {
        LOUPE_ENDPOINT: c.url,
        LOUPE_API_KEY: 'env-key',
        LOUPE_PROJECT: 'env-proj',
        LOUPE_SAMPLE_RATE: '1',
      },
    );
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(c.spanIds()).toHaveLength(7);
    expect(c.requests[0]!.headers).toMatchObject({
      'x-api-key': 'env-key',
      'x-loupe-project': 'env-proj',
    });
    expect(statsOf(result)).toMatchObject({ exported: 7, dropped: 0, queued: 0 });
  });

  it('LOUPE_SAMPLE_RATE=0 sends nothing', async () => {
    const c = await collector();
    const result = await runChild(
      `init({ scheduledDelayMillis: 10 }); spans(20); await shutdown();`,
      {
        LOUPE_ENDPOINT: c.url,
        LOUPE_API_KEY: 'k',
        LOUPE_SAMPLE_RATE: '0',
      },
    );
    expect(result.code).toBe(0);
    expect(c.requests).toHaveLength(0);
    expect(statsOf(result)).toMatchObject({ exported: 0, dropped: 0 });
  });
});
