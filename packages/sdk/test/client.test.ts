// LoupeClient against a scripted local HTTP server: URLs, headers, query encoding,
// paging, and how failures become LoupeApiErrors. The same calls against the real
// collector are in test/e2e/sdk (the SDK must not depend on the collector package).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LoupeApiError, LoupeClient } from '../src/index.js';

interface Seen {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: string;
}
type Handler = (req: Seen, res: ServerResponse) => void;

/** A server answering with `handler`, remembering every request. */
function fakeServer() {
  const seen: Seen[] = [];
  let handler: Handler = (_req, res) => res.writeHead(500).end();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const s: Seen = {
        method: req.method ?? '',
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      seen.push(s);
      handler(s, res);
    });
  });
  return {
    seen,
    set: (h: Handler) => {
      handler = h;
    },
    url: '',
    async start() {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const json = (res: ServerResponse, status: number, body: unknown, headers = {}) =>
  res
    .writeHead(status, { 'content-type': 'application/json', ...headers })
    .end(JSON.stringify(body));

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function rejection(p: Promise<unknown>): Promise<LoupeApiError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(LoupeApiError);
    return e as LoupeApiError;
  }
  throw new Error('expected a rejection');
}

describe('LoupeClient', () => {
  const server = fakeServer();
  let client: LoupeClient;
  beforeAll(async () => {
    await server.start();
    client = new LoupeClient({ endpoint: server.url, apiKey: 'lp_key', timeoutMs: 2_000 });
  });
  afterEach(() => {
    server.seen.length = 0;
  });
  afterAll(() => server.close());

  it('listProjects: GET /api/loupe/v1/projects with the API key, unwrapped', async () => {
    const projects = [
      { id: 'p', name: 'n', description: null, created_at: '2024-01-01T00:00:00Z', run_count: 1 },
    ];
    server.set((_r, res) => json(res, 200, { projects }));
    expect(await client.listProjects()).toEqual(projects);
    const req = server.seen[0]!;
    expect(req.method).toBe('GET');
    expect(req.path).toBe('/api/loupe/v1/projects');
    expect(req.headers['x-api-key']).toBe('lp_key');
    expect(req.headers.accept).toBe('application/json');
    expect(req.headers['x-request-id']).toMatch(UUID);
  });

  it('projectStats: project name is path-encoded, query passed through', async () => {
    server.set((_r, res) => json(res, 200, { run_count: 3 }));
    await client.projectStats('my app/α', { root: true, start_time_gte: '2024-01-01T00:00:00Z' });
    const req = server.seen[0]!;
    expect(req.path).toBe(`/api/loupe/v1/projects/${encodeURIComponent('my app/α')}/stats`);
    expect(req.query.get('root')).toBe('true');
    expect(req.query.get('start_time_gte')).toBe('2024-01-01T00:00:00Z');
  });

  it('listRunsPage: repeated filters repeat the parameter; undefined ones are left out', async () => {
    server.set((_r, res) => json(res, 200, { runs: [], next_cursor: null }));
    await client.listRunsPage({
      project: 'p',
      tag: ['a', 'b'],
      metadata: ['k=v', 'n=1'],
      error: false,
      limit: 5,
      name: undefined,
    });
    const q = server.seen[0]!.query;
    expect(q.getAll('tag')).toEqual(['a', 'b']);
    expect(q.getAll('metadata')).toEqual(['k=v', 'n=1']);
    expect(q.get('error')).toBe('false');
    expect(q.get('limit')).toBe('5');
    expect(q.has('name')).toBe(false);
  });

  it('listRuns: follows next_cursor lazily and stops fetching on break', async () => {
    const pages: Record<string, { runs: { id: string }[]; next_cursor: string | null }> = {
      first: { runs: [{ id: '1' }, { id: '2' }], next_cursor: 'c2' },
      c2: { runs: [{ id: '3' }], next_cursor: 'c3' },
      c3: { runs: [{ id: '4' }], next_cursor: null },
    };
    server.set((r, res) => json(res, 200, pages[r.query.get('cursor') ?? 'first']));
    const all: string[] = [];
    for await (const run of client.listRuns({ project: 'p', limit: 2 })) all.push(run.id);
    expect(all).toEqual(['1', '2', '3', '4']);
    expect(server.seen.map((s) => s.query.get('cursor'))).toEqual([null, 'c2', 'c3']);
    expect(
      server.seen.every((s) => s.query.get('limit') === '2' && s.query.get('project') === 'p'),
    ).toBe(true);

    server.seen.length = 0;
    for await (const run of client.listRuns()) if (run.id === '2') break;
    expect(server.seen).toHaveLength(1);
  });

  it('getRun / getTrace: ids in the path', async () => {
    server.set((_r, res) => json(res, 200, { id: 'x' }));
    await client.getRun('0123');
    await client.getTrace('abcd');
    expect(server.seen.map((s) => s.path)).toEqual([
      '/api/loupe/v1/runs/0123',
      '/api/loupe/v1/traces/abcd',
    ]);
  });

  it('createFeedback: POST /feedback with the wire (snake_case) body', async () => {
    server.set((_r, res) => json(res, 201, { id: 'f1', key: 'thumbs' }));
    const item = await client.createFeedback({
      runId: 'r1',
      key: 'thumbs',
      score: true,
      comment: 'nice',
      correction: { answer: 'x' },
      value: 'up',
      source: { type: 'app', metadata: { widget: 'v2' } },
    });
    expect(item).toEqual({ id: 'f1', key: 'thumbs' });
    const req = server.seen[0]!;
    expect(req.method).toBe('POST');
    expect(req.path).toBe('/api/loupe/v1/feedback');
    expect(req.headers['content-type']).toBe('application/json');
    expect(JSON.parse(req.body)).toEqual({
      run_id: 'r1',
      key: 'thumbs',
      score: true,
      comment: 'nice',
      correction: { answer: 'x' },
      value: 'up',
      source: { type: 'app', metadata: { widget: 'v2' } },
    });
  });

  describe('errors', () => {
    it('the collector’s envelope becomes a LoupeApiError (status, code, message, requestId)', async () => {
      server.set((_r, res) =>
        json(res, 404, {
          statusCode: 404,
          code: 'LOUPE_ERR_NOT_FOUND',
          error: 'Not Found',
          message: 'Run r does not exist',
          requestId: 'req-7',
        }),
      );
      const e = await rejection(client.getRun('r'));
      expect(e).toMatchObject({
        name: 'LoupeApiError',
        status: 404,
        code: 'LOUPE_ERR_NOT_FOUND',
        message: 'Run r does not exist',
        requestId: 'req-7',
      });
    });

    it('a non-JSON error body (a proxy page) still gives status, a code and the request id sent', async () => {
      server.set((_r, res) =>
        res.writeHead(502, { 'content-type': 'text/html' }).end('<h1>Bad gateway</h1>'),
      );
      const e = await rejection(client.listProjects());
      expect(e.status).toBe(502);
      expect(e.code).toBe('LOUPE_ERR_HTTP_502');
      expect(e.message).toContain('Bad gateway');
      expect(e.requestId).toBe(server.seen[0]!.headers['x-request-id']);
    });

    it('Retry-After (seconds or date) is kept for the caller', async () => {
      server.set((_r, res) =>
        json(res, 503, { code: 'LOUPE_ERR_OVERLOADED', message: 'busy' }, { 'retry-after': '3' }),
      );
      expect((await rejection(client.listProjects())).retryAfterMs).toBe(3000);
      const at = new Date(Date.now() + 60_000).toUTCString();
      server.set((_r, res) => json(res, 429, {}, { 'retry-after': at }));
      const ms = (await rejection(client.listProjects())).retryAfterMs!;
      expect(ms).toBeGreaterThan(50_000);
      expect(ms).toBeLessThanOrEqual(60_000);
    });

    it('a 2xx that is not JSON → LOUPE_ERR_BAD_RESPONSE', async () => {
      server.set((_r, res) => res.writeHead(200).end('not json'));
      const e = await rejection(client.listProjects());
      expect(e).toMatchObject({ status: 200, code: 'LOUPE_ERR_BAD_RESPONSE' });
    });

    it('no answer within timeoutMs → LOUPE_ERR_TIMEOUT (status 0)', async () => {
      server.set(() => undefined); // never answers
      const slow = new LoupeClient({ endpoint: server.url, timeoutMs: 100 });
      const started = Date.now();
      const e = await rejection(slow.listProjects());
      expect(e).toMatchObject({ status: 0, code: 'LOUPE_ERR_TIMEOUT' });
      expect(Date.now() - started).toBeLessThan(2_000);
    });

    it('the caller’s AbortSignal cancels → LOUPE_ERR_ABORTED', async () => {
      server.set(() => undefined);
      const controller = new AbortController();
      const pending = client.getRun('r', { signal: controller.signal });
      setTimeout(() => controller.abort(), 20);
      expect((await rejection(pending)).code).toBe('LOUPE_ERR_ABORTED');
    });

    it('nothing listening → LOUPE_ERR_NETWORK with the reason', async () => {
      const dead = fakeServer();
      await dead.start();
      const url = dead.url;
      await dead.close();
      const e = await rejection(new LoupeClient({ endpoint: url }).listProjects());
      expect(e.status).toBe(0);
      expect(e.code).toBe('LOUPE_ERR_NETWORK');
      expect(e.message).toContain('ECONNREFUSED');
      expect(e.requestId).toMatch(UUID);
    });

    it('a body that is not JSON-serialisable (BigInt) → LOUPE_ERR_INVALID_ARGUMENT, no request', async () => {
      const e = await rejection(client.createFeedback({ runId: 'r', key: 'k', value: { n: 1n } }));
      expect(e).toMatchObject({ status: 0, code: 'LOUPE_ERR_INVALID_ARGUMENT' });
      expect(server.seen).toHaveLength(0);
    });

    it('createFeedback with a non-object rejects without a request', async () => {
      const untyped = client.createFeedback.bind(client) as (x: unknown) => Promise<unknown>;
      expect((await rejection(untyped(null))).code).toBe('LOUPE_ERR_INVALID_ARGUMENT');
      expect(server.seen).toHaveLength(0);
    });
  });
});

describe('LoupeClient endpoint and credentials', () => {
  const server = fakeServer();
  const saved = { endpoint: process.env.LOUPE_ENDPOINT, key: process.env.LOUPE_API_KEY };
  beforeAll(async () => {
    await server.start();
    server.set((_r, res) => json(res, 200, { projects: [] }));
  });
  afterEach(() => {
    server.seen.length = 0;
    for (const [name, value] of [
      ['LOUPE_ENDPOINT', saved.endpoint],
      ['LOUPE_API_KEY', saved.key],
    ] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });
  afterAll(() => server.close());

  it('defaults to LOUPE_ENDPOINT and LOUPE_API_KEY', async () => {
    process.env.LOUPE_ENDPOINT = server.url;
    process.env.LOUPE_API_KEY = 'lp_from_env';
    await new LoupeClient().listProjects();
    expect(server.seen[0]!.headers['x-api-key']).toBe('lp_from_env');
  });

  it('explicit options win over the environment', async () => {
    process.env.LOUPE_ENDPOINT = 'http://127.0.0.1:9';
    process.env.LOUPE_API_KEY = 'lp_from_env';
    await new LoupeClient({ endpoint: server.url, apiKey: 'lp_explicit' }).listProjects();
    expect(server.seen[0]!.headers['x-api-key']).toBe('lp_explicit');
  });

  it('keeps a path prefix (reverse proxy) and accepts the OTLP traces URL given to init()', async () => {
    await new LoupeClient({ endpoint: `${server.url}/loupe/` }).listProjects();
    await new LoupeClient({ endpoint: `${server.url}/loupe/v1/traces` }).listProjects();
    await new LoupeClient({ endpoint: `${server.url}?ignored=1` }).listProjects();
    expect(server.seen.map((s) => s.path)).toEqual([
      '/loupe/api/loupe/v1/projects',
      '/loupe/api/loupe/v1/projects',
      '/api/loupe/v1/projects',
    ]);
  });

  it('sends extra headers; without an API key sends none', async () => {
    delete process.env.LOUPE_API_KEY;
    await new LoupeClient({
      endpoint: server.url,
      headers: { 'x-proxy-auth': 't' },
    }).listProjects();
    expect(server.seen[0]!.headers['x-proxy-auth']).toBe('t');
    expect(server.seen[0]!.headers['x-api-key']).toBeUndefined();
  });

  it('an endpoint that is not an http(s) URL is refused at construction', () => {
    for (const endpoint of ['not a url', 'ftp://x.test']) {
      let error: unknown;
      try {
        new LoupeClient({ endpoint });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(LoupeApiError);
      expect((error as LoupeApiError).code).toBe('LOUPE_ERR_INVALID_ARGUMENT');
    }
  });
});

describe('LoupeClient connection defaults', () => {
  it('uses the endpoint and key given to loupeSpanProcessor()/init() before the environment', async () => {
    const { loupeSpanProcessor } = await import('../src/processor.js');
    const { LoupeClient: Client } = await import('../src/client.js');
    const seen: { url: string; key: string | undefined }[] = [];
    const server = createServer((req, res) => {
      seen.push({ url: req.url ?? '', key: req.headers['x-api-key'] as string | undefined });
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ projects: [] }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const processor = loupeSpanProcessor({
      endpoint: `http://127.0.0.1:${port}`,
      apiKey: 'lp_from_init_0123456789',
    });
    try {
      await new Client().listProjects();
      expect(seen).toEqual([{ url: '/api/loupe/v1/projects', key: 'lp_from_init_0123456789' }]);
    } finally {
      await processor.shutdown();
      server.close();
    }
  });
});
