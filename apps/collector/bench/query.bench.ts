/**
 * npm run bench:query — the list/trace/stats queries of the native API at scale, on
 * PostgreSQL, with Loupe's indexes and with them dropped, so every index in the
 * initial migration is justified by a number. Rows are COPYed in (BENCH_QUERY_ROWS,
 * default 300k); queries go through the same repository functions as the API.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { openDatabase } from '../src/db/database.js';
import { migrateToLatest } from '../src/db/migrate.js';
import {
  listRuns,
  listTraceRuns,
  projectStats,
  type RunFilter,
} from '../src/modules/runs/runs.repository.js';

const ROWS = Number(process.env.BENCH_QUERY_ROWS ?? 300_000);
const ADMIN_URL =
  process.env.BENCH_DATABASE_URL ??
  process.env.TEST_DATABASE_URL ??
  'postgres://postgres@127.0.0.1:5432/postgres';
const PROJECTS = 20;
const TYPES = ['llm', 'chain', 'tool', 'retriever', 'embedding', 'prompt', 'parser', 'agent'];
const WS = '00000000-0000-4000-8000-00000000beef';
const log = (s: string) => console.log(s);

function* rows(projectIds: string[], traces: string[]): Generator<string> {
  const t0 = Date.parse('2026-10-01T00:00:00Z');
  for (let i = 0; i < ROWS; i++) {
    const trace = traces[i % traces.length]!;
    const root = i % 5 === 0;
    const start = new Date(t0 + Math.floor((i / ROWS) * 30 * 86_400_000) + (i % 997));
    const end = new Date(start.getTime() + 50 + (i % 2000));
    const meta =
      i % 1000 === 7
        ? `{"experiment": "rare-${i % 3}", "user_tier": "gold"}`
        : `{"user_tier": "${['gold', 'silver', 'free'][i % 3]}"}`;
    const fields = [
      randomUUID(),
      WS,
      projectIds[i % PROJECTS],
      trace,
      root ? '' : trace,
      `op-${i % 50}`,
      TYPES[i % TYPES.length],
      i % 97 === 0 ? 'error' : 'success',
      start.toISOString(),
      end.toISOString(),
      i % 97 === 0 ? 'Error: boom' : '',
      'gpt-4o-mini',
      'openai',
      String(i % 500),
      String(i % 300),
      String((i % 500) + (i % 300)),
      '{prod}',
      meta,
    ];
    yield (
      fields
        .map((f) => (f === undefined || f === '' ? '' : `"${f.replace(/"/g, '""')}"`))
        .join(',') + '\n'
    );
  }
}

async function timeIt(fn: () => Promise<unknown>, n = 25): Promise<{ p50: number; p95: number }> {
  await fn();
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    samples.push(performance.now() - t);
  }
  samples.sort((a, b) => a - b);
  return { p50: samples[Math.floor(n * 0.5)]!, p95: samples[Math.floor(n * 0.95)]! };
}

async function main() {
  const dbName = `loupe_qbench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  await admin.end();
  const url = new URL(ADMIN_URL);
  url.pathname = `/${dbName}`;
  const handle = await openDatabase({ databaseUrl: url.toString(), dataDir: '/tmp', poolSize: 2 });
  try {
    await migrateToLatest(handle.db);
    const projectIds = Array.from({ length: PROJECTS }, () => randomUUID());
    const traces = Array.from({ length: Math.ceil(ROWS / 5) }, () => randomUUID());
    const t = performance.now();
    const client = await handle.pool.connect();
    try {
      await pipeline(
        Readable.from(rows(projectIds, traces)),
        client.query(
          copyFrom(
            `COPY runs (id, workspace_id, project_id, trace_id, parent_run_id, name, run_type, status, start_time, end_time, error, model, provider, prompt_tokens, completion_tokens, total_tokens, tags, metadata) FROM STDIN WITH (FORMAT csv)`,
          ),
        ),
      );
    } finally {
      client.release();
    }
    await handle.pool.query('ANALYZE runs');
    log(
      `loaded ${ROWS.toLocaleString('en-US')} runs (${PROJECTS} projects, ${TYPES.length} run types) in ${((performance.now() - t) / 1000).toFixed(1)} s`,
    );

    const p = projectIds[3]!;
    const base: RunFilter = { workspaceId: WS, projectId: p };
    const queries: [string, () => Promise<unknown>][] = [
      ['latest 50 runs of a project', () => listRuns(handle.db, base, 50, undefined)],
      [
        'latest 50 llm runs of a project',
        () => listRuns(handle.db, { ...base, runTypes: ['llm'] }, 50, undefined),
      ],
      [
        'latest 50 errored runs of a project',
        () => listRuns(handle.db, { ...base, hasError: true }, 50, undefined),
      ],
      [
        'project + rare metadata key=value',
        () => listRuns(handle.db, { ...base, metadata: [{ experiment: 'rare-1' }] }, 50, undefined),
      ],
      [
        'latest 50 root runs of a project',
        () => listRuns(handle.db, { ...base, rootOnly: true }, 50, undefined),
      ],
      [
        'one trace (all its runs)',
        () => listTraceRuns(handle.db, WS, traces[1234 % traces.length]!),
      ],
      [
        'project stats over one day',
        () =>
          projectStats(handle.db, {
            ...base,
            startTimeGte: '2026-10-10T00:00:00Z',
            startTimeLt: '2026-10-11T00:00:00Z',
          }),
      ],
    ];
    const withIdx: { p50: number; p95: number }[] = [];
    for (const [, q] of queries) withIdx.push(await timeIt(q));
    await handle.pool.query(
      'DROP INDEX runs_project_start_idx, runs_project_type_start_idx, runs_trace_idx, runs_metadata_idx',
    );
    await handle.pool.query('ANALYZE runs');
    const without: { p50: number; p95: number }[] = [];
    for (const [, q] of queries) without.push(await timeIt(q, 5));
    log(`\n${'query'.padEnd(40)} ${'with indexes p50 / p95'.padEnd(26)} without indexes p50`);
    queries.forEach(([name], i) => {
      const a = withIdx[i]!;
      const b = without[i]!;
      log(
        `${name.padEnd(40)} ${`${a.p50.toFixed(2)} / ${a.p95.toFixed(2)} ms`.padEnd(26)} ${b.p50.toFixed(1)} ms  (×${(b.p50 / a.p50).toFixed(0)})`,
      );
    });
  } finally {
    await handle.close();
    const c = new pg.Client({ connectionString: ADMIN_URL });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await c.end();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
