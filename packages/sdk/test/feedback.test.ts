// createFeedback (the app-facing helper) against a scripted local HTTP server: it never
// rejects, retries what passes with time inside its budget, and is idempotent across
// retries. Against the real collector: test/e2e/sdk/feedback.test.ts.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createFeedback, LoupeApiError } from '../src/index.js';

interface Seen {
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const RUN_ID = '0123abcd-0000-4000-8000-000000000001';

const envelope = (statusCode: number, code: string, message: string) => ({
  statusCode,
  code,
  error: 'x',
  message,
  requestId: 'srv-req',
});

describe('createFeedback', () => {
  const seen: Seen[] = [];
  /** answers, in order; the last one repeats */
  let script: ((res: ServerResponse, body: Record<string, unknown>) => void)[] = [];
  let url = '';
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const body = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
      seen.push({ path: req.url ?? '', headers: req.headers, body });
      const answer = script[Math.min(seen.length - 1, script.length - 1)];
      answer?.(res, body);
    });
  });
  const reply =
    (status: number, body: unknown, headers: Record<string, string> = {}) =>
    (res: ServerResponse) =>
      res
        .writeHead(status, { 'content-type': 'application/json', ...headers })
        .end(JSON.stringify(body));
  const created = (res: ServerResponse, body: Record<string, unknown>) =>
    reply(201, { id: body.id, run_id: body.run_id, key: body.key, score: body.score })(res);
  const silent = () => undefined;

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(() => {
    seen.length = 0;
    script = [];
  });
  afterAll(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );

  it('sends the feedback with a client-chosen id and source {type: "app"}; resolves ok', async () => {
    script = [created];
    const result = await createFeedback(
      { runId: RUN_ID, key: 'thumbs', score: 1, comment: 'great' },
      { endpoint: url, apiKey: 'lp_k' },
    );
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.feedback).toMatchObject({ run_id: RUN_ID, key: 'thumbs', score: 1 });
    expect(seen).toHaveLength(1);
    expect(seen[0]!.path).toBe('/api/loupe/v1/feedback');
    expect(seen[0]!.headers['x-api-key']).toBe('lp_k');
    expect(seen[0]!.body).toEqual({
      id: expect.stringMatching(UUID),
      run_id: RUN_ID,
      key: 'thumbs',
      score: 1,
      comment: 'great',
      source: { type: 'app' },
    });
  });

  it('keeps a given id and source', async () => {
    script = [created];
    const id = '11111111-2222-4333-8444-555555555555';
    await createFeedback(
      {
        runId: RUN_ID,
        key: 'k',
        value: 'up',
        id,
        source: { type: 'human', metadata: { by: 'qa' } },
      },
      { endpoint: url },
    );
    expect(seen[0]!.body).toMatchObject({ id, source: { type: 'human', metadata: { by: 'qa' } } });
  });

  it('retries while the run is not ingested yet (404), with the same id each time', async () => {
    const notYet = reply(
      404,
      envelope(
        404,
        'LOUPE_ERR_NOT_FOUND',
        'Run does not exist (it may not have been ingested yet)',
      ),
    );
    script = [notYet, notYet, created];
    const result = await createFeedback({ runId: RUN_ID, key: 'k', score: 0 }, { endpoint: url });
    expect(result.ok).toBe(true);
    expect(seen).toHaveLength(3);
    const ids = new Set(seen.map((s) => s.body.id));
    expect(ids.size).toBe(1);
  });

  it('retries 503 honouring Retry-After, then succeeds', async () => {
    script = [
      reply(503, envelope(503, 'LOUPE_ERR_OVERLOADED', 'busy'), { 'retry-after': '0' }),
      created,
    ];
    const result = await createFeedback({ runId: RUN_ID, key: 'k', score: 1 }, { endpoint: url });
    expect(result.ok).toBe(true);
    expect(seen).toHaveLength(2);
  });

  it('does not retry a 400; resolves {ok: false} with the collector’s error', async () => {
    script = [
      reply(400, envelope(400, 'LOUPE_ERR_VALIDATION', 'body/run_id must match format "uuid"')),
    ];
    const result = await createFeedback(
      { runId: 'not-a-uuid', key: 'k', score: 1 },
      { endpoint: url },
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toBeInstanceOf(LoupeApiError);
    expect(result.error).toMatchObject({
      status: 400,
      code: 'LOUPE_ERR_VALIDATION',
      message: 'body/run_id must match format "uuid"',
      requestId: 'srv-req',
    });
    expect(seen).toHaveLength(1);
  });

  it('gives up at the time budget: a run that never appears → the 404 error', async () => {
    script = [reply(404, envelope(404, 'LOUPE_ERR_NOT_FOUND', 'Run does not exist'))];
    const started = Date.now();
    const result = await createFeedback(
      { runId: RUN_ID, key: 'k', score: 1 },
      { endpoint: url, timeoutMs: 600 },
    );
    const elapsed = Date.now() - started;
    expect(result).toMatchObject({
      ok: false,
      error: { status: 404, code: 'LOUPE_ERR_NOT_FOUND' },
    });
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(elapsed).toBeLessThan(1_500);
  });

  it('a collector that does not answer → {ok: false, TIMEOUT} within the budget', async () => {
    script = [silent];
    const started = Date.now();
    const result = await createFeedback(
      { runId: RUN_ID, key: 'k', score: 1 },
      { endpoint: url, timeoutMs: 200 },
    );
    expect(result).toMatchObject({ ok: false, error: { code: 'LOUPE_ERR_TIMEOUT', status: 0 } });
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it('nothing listening → retried until the budget, then {ok: false, NETWORK}', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const result = await createFeedback(
      { runId: RUN_ID, key: 'k', score: 1 },
      { endpoint: deadUrl, timeoutMs: 400 },
    );
    expect(result).toMatchObject({ ok: false, error: { code: 'LOUPE_ERR_NETWORK', status: 0 } });
  });

  it('never throws or rejects on bad input or config, and sends nothing', async () => {
    const untyped = createFeedback as (input: unknown, options?: unknown) => Promise<unknown>;
    const results = await Promise.all([
      untyped(null),
      untyped({ runId: undefined, key: 'k', score: 1 }, { endpoint: url }),
      untyped({ runId: RUN_ID, key: '', score: 1 }, { endpoint: url }),
      untyped({ runId: RUN_ID, key: 'k' }, { endpoint: 'not a url' }),
      untyped({ runId: RUN_ID, key: 'k' }, { endpoint: 42 }),
    ]);
    for (const r of results) {
      expect(r).toMatchObject({ ok: false, error: { code: expect.stringMatching(/^LOUPE_ERR_/) } });
      expect((r as { error: unknown }).error).toBeInstanceOf(LoupeApiError);
    }
    expect((results[1] as { error: Error }).error.message).toContain('getCurrentRunId()');
    expect(seen).toHaveLength(0);
  });
});
