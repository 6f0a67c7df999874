// Shared helpers for the OpenTelemetry end-to-end suites (test/e2e/otel): a small client for
// the native query API, polling until ingested data is visible, a recording HTTP proxy that
// shows what an exporter really put on the wire (content type, compression, auth), and the
// parent side of the driver processes that run the OTel SDKs (test/e2e/otel/drivers).
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import {
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type Server,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { traceIdFromOtel } from '@loupe/collector';
import type { RunDetail, RunSummary, TraceResponse } from '@loupe/contracts';

export const API_PREFIX = '/api/loupe/v1';

export type RunQuery = Record<string, string | number | boolean | undefined>;

export interface LoupeApi {
  get<T>(path: string, query?: RunQuery): Promise<T>;
  /** Every page of `GET /runs` for the query. */
  runs(query: RunQuery): Promise<RunSummary[]>;
  run(id: string): Promise<RunDetail>;
  trace(traceId: string): Promise<TraceResponse>;
}

export class HttpStatusError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    path: string,
  ) {
    super(`GET ${path} → ${status}: ${body.slice(0, 300)}`);
  }
}

/** A client for the native query API of a collector under test. */
export function loupeApi(server: { url: string; apiKey: string }): LoupeApi {
  async function get<T>(path: string, query: RunQuery = {}): Promise<T> {
    const url = new URL(API_PREFIX + path, server.url);
    for (const [k, v] of Object.entries(query)) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    const res = await fetch(url, { headers: { 'x-api-key': server.apiKey } });
    const text = await res.text();
    if (!res.ok) throw new HttpStatusError(res.status, text, url.pathname + url.search);
    return JSON.parse(text) as T;
  }
  return {
    get,
    async runs(query) {
      const out: RunSummary[] = [];
      let cursor: string | undefined;
      do {
        const page = await get<{ runs: RunSummary[]; next_cursor: string | null }>('/runs', {
          limit: 200,
          ...query,
          cursor,
        });
        out.push(...page.runs);
        cursor = page.next_cursor ?? undefined;
      } while (cursor !== undefined);
      return out;
    },
    run: (id) => get<RunDetail>(`/runs/${id}`),
    trace: (traceId) => get<TraceResponse>(`/traces/${traceId}`),
  };
}

export interface PollOptions {
  timeoutMs?: number;
  intervalMs?: number;
}

/**
 * Calls `probe` until it returns something other than `undefined`, or fails after the
 * timeout with `what` and the last value / error seen (so a failure says what was there).
 */
export async function pollUntil<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  { timeoutMs = 15_000, intervalMs = 50 }: PollOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      const detail =
        last instanceof Error ? last.message : last === undefined ? '' : JSON.stringify(last);
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${detail ? `: ${detail}` : ''}`,
      );
    }
    await sleep(intervalMs);
  }
}

/** Polls `GET /runs` until `accept(runs)` holds; returns the runs of the last poll. */
export async function waitForRuns(
  api: LoupeApi,
  query: RunQuery,
  accept: (runs: RunSummary[]) => boolean,
  what = `runs matching ${JSON.stringify(query)}`,
  options?: PollOptions,
): Promise<RunSummary[]> {
  let seen: RunSummary[] = [];
  try {
    return await pollUntil(
      what,
      async () => {
        seen = await api.runs(query);
        return accept(seen) ? seen : undefined;
      },
      options,
    );
  } catch (error) {
    const names = seen.map((r) => `${r.run_type}:${r.name}`).join(', ');
    throw new Error(`${(error as Error).message} (last poll: ${seen.length} run(s) [${names}])`, {
      cause: error,
    });
  }
}

/** Polls `GET /runs/:id` until the run exists and `accept(run)` holds. */
export async function waitForRun(
  api: LoupeApi,
  id: string,
  accept: (run: RunDetail) => boolean = () => true,
  what = `run ${id}`,
  options?: PollOptions,
): Promise<RunDetail> {
  let seen: RunDetail | undefined;
  try {
    return await pollUntil(
      what,
      async () => {
        try {
          seen = await api.run(id);
        } catch (error) {
          if (error instanceof HttpStatusError && error.status === 404) return undefined;
          throw error;
        }
        return accept(seen) ? seen : undefined;
      },
      options,
    );
  } catch (error) {
    const last = seen === undefined ? 'not found' : JSON.stringify(seen).slice(0, 2000);
    throw new Error(`${(error as Error).message} (last poll: ${last})`, { cause: error });
  }
}

/** A run summary by name; fails listing what is there when there is not exactly one. */
export function byName<T extends { name: string | null }>(runs: T[], name: string): T {
  const found = runs.filter((r) => r.name === name);
  if (found.length !== 1) {
    throw new Error(
      `expected one run named "${name}", found ${found.length} among [${runs.map((r) => r.name).join(', ')}]`,
    );
  }
  return found[0]!;
}

/** `otel.attributes` (and other `otel` members) of a run detail, typed loosely for assertions. */
export function otelOf(run: RunDetail): Record<string, unknown> & {
  attributes?: Record<string, unknown>;
  resource?: Record<string, unknown>;
  scope?: Record<string, unknown>;
  log_records?: Record<string, Record<string, unknown>>;
} {
  const otel = run.otel;
  if (otel === null || typeof otel !== 'object') throw new Error(`run ${run.id} has no otel view`);
  return otel as Record<string, unknown>;
}

/** OpenTelemetry ReadableSpan time → decimal string of unix nanoseconds. */
export function hrTimeToNanos([seconds, nanos]: [number, number]): string {
  return (BigInt(seconds) * 1_000_000_000n + BigInt(nanos)).toString();
}

// ---- recording proxy ----

export interface ProxiedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  bodyBytes: number;
  status: number;
}

export interface RecordingProxy {
  /** http://127.0.0.1:<port> — use instead of the collector's URL */
  url: string;
  requests: ProxiedRequest[];
  close(): Promise<void>;
}

/**
 * Forwards every request to `target` unchanged and records method, path, headers, body
 * size and the upstream status, so a test can assert what a real exporter sent.
 */
export async function startRecordingProxy(target: string): Promise<RecordingProxy> {
  const upstream = new URL(target);
  const requests: ProxiedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const headers = { ...req.headers, host: upstream.host };
      const forward = httpRequest(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers,
        },
        (up) => {
          requests.push({
            method: req.method ?? 'GET',
            path: req.url ?? '/',
            headers: req.headers,
            bodyBytes: body.length,
            status: up.statusCode ?? 0,
          });
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      forward.on('error', (err) => {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(String(err));
      });
      forward.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

// ---- driver processes ----

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DRIVER_PREFIX = '@@driver ';

export interface Driver {
  call<T>(cmd: string, args?: unknown, timeoutMs?: number): Promise<T>;
  /** Everything the child wrote that was not a protocol line (stdout and stderr). */
  output(): string;
  /** Asks the child to flush and stop its SDK, then waits for it to exit. */
  close(): Promise<void>;
}

/**
 * Starts `node --import tsx <script>` in a clean environment (none of the test runner's
 * `--conditions`) with `config` as JSON in LOUPE_DRIVER_CONFIG, and waits until it is ready.
 * See test/e2e/otel/drivers/runtime.ts for the protocol.
 */
export async function startDriver(
  script: string,
  config: unknown,
  {
    env = {},
    readyTimeoutMs = 60_000,
  }: { env?: Record<string, string>; readyTimeoutMs?: number } = {},
): Promise<Driver> {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      NODE_OPTIONS: '',
      LOUPE_DRIVER_CONFIG: JSON.stringify(config),
      ...env,
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let chatter = '';
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let exited: string | undefined;
  let onReady: (() => void) | undefined;
  let onReadyFailed: ((e: Error) => void) | undefined;
  const ready = new Promise<void>((resolve, reject) => {
    onReady = resolve;
    onReadyFailed = reject;
  });

  createInterface({ input: child.stdout }).on('line', (line) => {
    if (!line.startsWith(DRIVER_PREFIX)) {
      chatter += `${line}\n`;
      return;
    }
    const msg = JSON.parse(line.slice(DRIVER_PREFIX.length)) as {
      id?: number;
      ok?: boolean;
      result?: unknown;
      error?: string;
      ready?: boolean;
    };
    if (msg.ready === true) {
      onReady?.();
      return;
    }
    const waiter = msg.id === undefined ? undefined : pending.get(msg.id);
    if (waiter === undefined) return;
    pending.delete(msg.id!);
    if (msg.ok === true) waiter.resolve(msg.result);
    else waiter.reject(new Error(`driver: ${msg.error ?? 'failed'}`));
  });
  // a write after the child died must not crash the test process
  child.stdin.on('error', () => undefined);
  child.stderr.on('data', (chunk: Buffer) => {
    chatter += chunk.toString('utf8');
  });
  const exit = new Promise<void>((resolve) => {
    child.on('exit', (code, signal) => {
      exited = `driver exited (code ${code}, signal ${signal})`;
      const error = new Error(`${exited}\n${chatter.slice(-4000)}`);
      onReadyFailed?.(error);
      for (const w of pending.values()) w.reject(error);
      pending.clear();
      resolve();
    });
  });

  const timer = setTimeout(
    () =>
      onReadyFailed?.(
        new Error(`driver ${script} not ready after ${readyTimeoutMs} ms\n${chatter}`),
      ),
    readyTimeoutMs,
  );
  try {
    await ready;
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  } finally {
    clearTimeout(timer);
  }

  function call<T>(cmd: string, args: unknown = {}, timeoutMs = 60_000): Promise<T> {
    if (exited !== undefined)
      return Promise.reject(new Error(`${exited}\n${chatter.slice(-4000)}`));
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      const t = setTimeout(() => {
        pending.delete(id);
        reject(
          new Error(
            `driver command ${cmd} timed out after ${timeoutMs} ms\n${chatter.slice(-4000)}`,
          ),
        );
      }, timeoutMs);
      pending.set(id, {
        resolve: (v) => {
          clearTimeout(t);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(t);
          reject(new Error(`${cmd}: ${e.message}\n--- driver output ---\n${chatter.slice(-4000)}`));
        },
      });
      child.stdin.write(`${JSON.stringify({ id, cmd, args })}\n`);
    });
  }

  return {
    call,
    output: () => chatter,
    async close() {
      if (exited === undefined) {
        try {
          await call('shutdown', {}, 30_000);
        } catch {
          // exit below
        }
        const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exit;
        clearTimeout(killer);
      }
    },
  };
}

// ---- runs of one trace ----

export interface TraceRuns {
  /** every run of the trace, in start order (ties: by name) */
  all: RunDetail[];
  byId(id: string): RunDetail;
  ofType(runType: string): RunDetail[];
}

/**
 * Waits until the trace (OTel hex id) has `count` runs and every run detail satisfies
 * `ready` (e.g. log-record content has arrived), then returns the details.
 */
export async function waitForTraceRuns(
  api: LoupeApi,
  otelTraceId: string,
  count: number,
  ready: (run: RunDetail) => boolean = () => true,
  options?: PollOptions,
): Promise<TraceRuns> {
  const traceId = traceIdFromOtel(otelTraceId);
  let last: RunDetail[] = [];
  try {
    await pollUntil(
      `${count} run(s) in trace ${traceId}`,
      async () => {
        const summaries = await api.runs({ trace_id: traceId });
        if (summaries.length !== count) {
          last = [];
          return undefined;
        }
        last = await Promise.all(summaries.map((s) => api.run(s.id)));
        return last.every(ready) ? true : undefined;
      },
      options,
    );
  } catch (error) {
    throw new Error(
      `${(error as Error).message}; last details: ${JSON.stringify(last).slice(0, 3000)}`,
      { cause: error },
    );
  }
  const all = [...last].sort(
    (a, b) =>
      Date.parse(a.start_time ?? '') - Date.parse(b.start_time ?? '') ||
      (a.name ?? '').localeCompare(b.name ?? ''),
  );
  return {
    all,
    byId(id) {
      const run = all.find((r) => r.id === id);
      if (!run) throw new Error(`run ${id} is not in trace ${traceId}`);
      return run;
    },
    ofType: (runType) => all.filter((r) => r.run_type === runType),
  };
}
