/**
 * Baselines and probes of bench:ingest: the raw COPY of the same rows, and the HTTP
 * stall measurement. Kept apart from the driver so each stays readable.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { RunUpsert } from '@loupe/collector';

// ---------------------------------------------------------------- COPY baseline
export function csv(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s =
    typeof v === 'string'
      ? v
      : v instanceof Date
        ? v.toISOString()
        : Array.isArray(v) && v.every((x) => typeof x === 'string')
          ? `{${v.map((x) => `"${x.replace(/["\\]/g, '\\$&')}"`).join(',')}}`
          : JSON.stringify(v);
  return `"${s.replace(/"/g, '""')}"`;
}

export const RUN_COLS = [
  'id',
  'workspace_id',
  'project_id',
  'trace_id',
  'parent_run_id',
  'name',
  'run_type',
  'status',
  'start_time',
  'end_time',
  'model',
  'provider',
  'prompt_tokens',
  'completion_tokens',
  'total_tokens',
  'tags',
  'metadata',
  'session_id',
  'otel_trace_id',
  'otel_span_id',
];
export function runsCsv(runs: RunUpsert[], ws: string, project: string): string {
  return (
    runs
      .map((r) =>
        [
          r.id,
          ws,
          project,
          r.traceId,
          r.parentRunId,
          r.name,
          r.runType,
          r.error ? 'error' : r.endTime ? 'success' : 'pending',
          r.startTime,
          r.endTime,
          r.model,
          r.provider,
          r.promptTokens,
          r.completionTokens,
          r.totalTokens,
          r.tags ?? [],
          r.metadata ?? {},
          r.sessionId,
          r.otelTraceId,
          r.otelSpanId,
        ]
          .map(csv)
          .join(','),
      )
      .join('\n') + '\n'
  );
}
export const PAYLOAD_COLS = ['run_id', 'inputs', 'outputs', 'extra', 'events', 'otel'];
export function payloadsCsv(runs: RunUpsert[]): string {
  return (
    runs
      .map((r) => [r.id, r.inputs, r.outputs, r.extra, r.events, r.otel].map(csv).join(','))
      .join('\n') + '\n'
  );
}
export async function copyInto(
  pool: pg.Pool,
  table: string,
  cols: string[],
  data: Buffer,
): Promise<void> {
  const client = await pool.connect();
  try {
    await pipeline(
      Readable.from([data]),
      client.query(copyFrom(`COPY ${table} (${cols.join(',')}) FROM STDIN WITH (FORMAT csv)`)),
    );
  } finally {
    client.release();
  }
}

// ---------------------------------------------------------------- stall measurement
/**
 * Probes HTTP every 5 ms while the query runs and reports the longest gap between two
 * answered probes (how long HTTP was unavailable) and the event loop's worst lateness
 * (a 5 ms interval timer measuring how late it fires).
 */
export async function measureStall(runQuery: () => Promise<unknown>, probeUrl: string) {
  let stop = false;
  let lastAnswer = 0;
  let maxGap = 0;
  let probes = 0;
  const prober = (async () => {
    while (!stop) {
      await new Promise<void>((resolve, reject) =>
        http
          .get(probeUrl, { agent: probeAgent }, (res) => {
            res.resume();
            res.on('end', () => resolve());
          })
          .on('error', reject),
      );
      const now = performance.now();
      if (lastAnswer > 0) maxGap = Math.max(maxGap, now - lastAnswer);
      lastAnswer = now;
      probes++;
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  let expected = performance.now() + 5;
  let loopMax = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    loopMax = Math.max(loopMax, now - expected);
    expected = now + 5;
  }, 5);
  await new Promise((r) => setTimeout(r, 100));
  maxGap = 0;
  loopMax = 0;
  const t0 = performance.now();
  await runQuery();
  const queryMs = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 50));
  clearInterval(ticker);
  stop = true;
  await prober;
  return { queryMs, loopMaxMs: loopMax, probeMaxGapMs: maxGap, probes };
}

const probeAgent = new http.Agent({ keepAlive: true, maxSockets: 8 });

export function closeProbes(): void {
  probeAgent.destroy();
}
