/**
 * npm run bench:ingest — end-to-end OTLP/protobuf ingest through HTTP into PostgreSQL
 * (acknowledged = committed) against a raw COPY of the same rows into the same
 * database, in the same run; then the embedded PGlite figure and the HTTP stall
 * while PGlite runs a heavy query (Loupe's worker-thread setup vs PGlite on the
 * HTTP thread). Prints figures; asserts nothing. Knobs: BENCH_SPANS, BENCH_CLIENTS,
 * BENCH_ROUNDS (COPY/ingest rounds, default 3), BENCH_WORKERS (LOUPE_WORKERS of the
 * collector, default one per core), BENCH_PGLITE_SPANS, BENCH_PROFILE (a directory),
 * BENCH_DATABASE_URL (else TEST_DATABASE_URL, else local postgres).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { PGlite } from '@electric-sql/pglite';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { context, trace } from '@opentelemetry/api';
import { childProcesses } from '@loupe/collector/testing';
import {
  buildApp,
  decodeTraceRequest,
  loadConfig,
  mapSpans,
  openDatabase,
  migrateToLatest,
  type RunUpsert,
} from '@loupe/collector';
import {
  closeProbes,
  copyInto,
  measureStall,
  PAYLOAD_COLS,
  payloadsCsv,
  RUN_COLS,
  runsCsv,
} from './ingest-baselines.js';

const SPANS_PER_BATCH = 512;
const TOTAL_SPANS = Number(process.env.BENCH_SPANS ?? 51_200);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 4);
const PGLITE_SPANS = Number(process.env.BENCH_PGLITE_SPANS ?? 20_480);
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
/** collector processes (LOUPE_WORKERS) for the PostgreSQL phase: one per core unless set */
const WORKERS = process.env.BENCH_WORKERS ?? String(os.availableParallelism());
const API_KEY = 'lp_bench_0123456789abcdefghijklmnop';
const ADMIN_URL =
  process.env.BENCH_DATABASE_URL ??
  process.env.TEST_DATABASE_URL ??
  'postgres://postgres@127.0.0.1:5432/postgres';

/** LOUPE_* tuning variables of this run (e.g. LOUPE_WRITER_CONCURRENCY) reach the collector under test. */
const loupeEnv = () =>
  Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('LOUPE_'))) as Record<
    string,
    string
  >;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const log = (s: string) => console.log(s);

// ---------------------------------------------------------------- span generation
function text(bytes: number, seed: number): string {
  const words = [
    'the',
    'model',
    'answered',
    'question',
    'about',
    'retrieval',
    'latency',
    'tokens',
    'prompt',
    'user',
  ];
  let s = '';
  let i = seed;
  while (s.length < bytes) s += words[(i++ * 7) % words.length] + ' ';
  return s.slice(0, bytes);
}

/** Encoded OTLP requests of SPANS_PER_BATCH spans each, ~1 KB input + ~1 KB output per span. */
function makeBatches(count: number, service: string): Uint8Array[] {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': service }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
    spanLimits: { attributeValueLengthLimit: 4096 },
  });
  const tracer = provider.getTracer('loupe-bench');
  const out: Uint8Array[] = [];
  for (let b = 0; b < count; b++) {
    exporter.reset();
    const root = tracer.startSpan('agent');
    const ctx = trace.setSpan(context.active(), root);
    for (let i = 0; i < SPANS_PER_BATCH - 1; i++) {
      const span = tracer.startSpan(
        'chat gpt-4o-mini',
        {
          attributes: {
            'gen_ai.operation.name': 'chat',
            'gen_ai.provider.name': 'openai',
            'gen_ai.request.model': 'gpt-4o-mini',
            'gen_ai.usage.input_tokens': 250,
            'gen_ai.usage.output_tokens': 240,
            'input.value': JSON.stringify({
              messages: [{ role: 'user', content: text(1000, b * 1000 + i) }],
            }),
            'input.mime_type': 'application/json',
            'output.value': text(1000, b * 7 + i),
            'session.id': `s-${b}`,
          },
        },
        ctx,
      );
      span.end();
    }
    root.end();
    const bytes = ProtobufTraceSerializer.serializeRequest(exporter.getFinishedSpans());
    if (bytes === undefined) throw new Error('serializer returned nothing');
    out.push(bytes);
  }
  void provider.shutdown();
  return out;
}

// ---------------------------------------------------------------- HTTP clients
/**
 * CLIENTS concurrent senders in a separate process share the queue of batches; a batch
 * counts when it got its 200 (= committed). Returns the seconds the sending took.
 */
async function sendAll(baseUrl: string, batches: Uint8Array[], clients: number): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loupe-bench-bodies-'));
  batches.forEach((b, i) =>
    fs.writeFileSync(path.join(dir, `${String(i).padStart(6, '0')}.pb`), b),
  );
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        fileURLToPath(new URL('./ingest-client.mjs', import.meta.url)),
        baseUrl,
        dir,
        String(clients),
        API_KEY,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let text = '';
    child.stdout.on('data', (d: Buffer) => (text += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(text) : reject(new Error(`load generator exited with ${code}`)),
    );
  });
  fs.rmSync(dir, { recursive: true, force: true });
  const { seconds } = JSON.parse(out) as { seconds: number };
  return seconds;
}

// ---------------------------------------------------------------- the collector under test
const SERVER = fileURLToPath(new URL('../../apps/collector/dist/server.js', import.meta.url));

/** CPU seconds of a process and its children (the cluster workers), from /proc. */
function treeCpu(pid: number): number {
  const one = (p: number) => {
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(f[11]) + Number(f[12])) / 100;
    } catch {
      return 0;
    }
  };
  const kids = childProcesses(pid);
  return one(pid) + kids.reduce((n, k) => n + one(k), 0);
}

/**
 * The collector as `npm start` runs it (node on the built dist, same flags) in its own
 * process tree, LOUPE_WORKERS worker processes. BENCH_PROFILE=<dir> writes V8 CPU
 * profiles of every collector process into <dir> when they exit.
 */
async function startCollector(env: Record<string, string>) {
  const args = ['--max-semi-space-size=64'];
  if (process.env.BENCH_PROFILE)
    args.push('--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`);
  const proc = spawn(process.execPath, [...args, SERVER], {
    env: { ...process.env, ...env, PORT: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let text = '';
  proc.stdout.on('data', (d: Buffer) => (text += d.toString()));
  const exited = new Promise<void>((resolve) => proc.on('exit', () => resolve()));
  const deadline = Date.now() + 60_000;
  let port: string | undefined;
  while ((port = /running at http:\/\/127\.0\.0\.1:(\d+)/.exec(text)?.[1]) === undefined) {
    if (Date.now() > deadline || proc.exitCode !== null)
      throw new Error(`collector did not start:\n${text}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    cpu: () => treeCpu(proc.pid!),
    async stop() {
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * CPU seconds used so far by each PostgreSQL backend serving `db` (local server only:
 * read from /proc; undefined when that is not possible). Diagnostic: where a row's cost
 * goes. Compare two readings with `cpuSpent`.
 */
async function backendCpu(pool: pg.Pool, db: string): Promise<Map<number, number> | undefined> {
  try {
    const { rows } = await pool.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE datname = $1',
      [db],
    );
    const out = new Map<number, number>();
    for (const { pid } of rows) {
      try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        out.set(pid, (Number(fields[11]) + Number(fields[12])) / 100);
      } catch {
        // exited since the query
      }
    }
    return out;
  } catch {
    return undefined;
  }
}

/** CPU seconds between two readings; backends that exited in between are not counted. */
function cpuSpent(
  before: Map<number, number> | undefined,
  after: Map<number, number> | undefined,
): number | undefined {
  if (before === undefined || after === undefined) return undefined;
  let total = 0;
  for (const [pid, t] of after) total += t - (before.get(pid) ?? 0);
  return total;
}

const HEAVY_QUERY =
  'SELECT count(*) AS n, sum(length(md5(g::text))) AS s FROM generate_series(1, 1500000) AS g';

// ---------------------------------------------------------------- main
async function main() {
  log(
    `Loupe ingest benchmark — node ${process.version}, ${os.cpus().length} cores; ${fmt(TOTAL_SPANS)} spans in batches of ${SPANS_PER_BATCH}, ${CLIENTS} clients`,
  );
  const batchCount = Math.ceil(TOTAL_SPANS / SPANS_PER_BATCH);
  const t = performance.now();
  const batches = makeBatches(batchCount, 'bench');
  const totalSpans = batchCount * SPANS_PER_BATCH;
  const mb = batches.reduce((n, b) => n + b.byteLength, 0) / 1e6;
  log(
    `generated ${batchCount} OTLP protobuf requests (${mb.toFixed(1)} MB) in ${((performance.now() - t) / 1000).toFixed(1)} s`,
  );

  // a fresh PostgreSQL database for the run
  const dbName = `loupe_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  await admin.end();
  const url = new URL(ADMIN_URL);
  url.pathname = `/${dbName}`;
  const databaseUrl = url.toString();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'loupe-bench-'));
  try {
    // ---- the rows the collector would store, for the COPY baseline
    const handle = await openDatabase({ databaseUrl, dataDir, poolSize: 4 });
    await migrateToLatest(handle.db);
    const ws = '00000000-0000-4000-8000-000000000001';
    const project = '00000000-0000-4000-8000-000000000002';
    await handle.pool.query(
      `INSERT INTO workspaces (id, name) VALUES ($1, 'copy') ON CONFLICT DO NOTHING`,
      [ws],
    );
    // The baseline's rows are kept as CSV bytes only: this process also hosts the collector
    // under test, and 51,200 mapped run objects kept alive here would sit in its heap,
    // making every garbage collection of the collector trace through them.
    const { runsData, payloadData, rowCount } = (() => {
      const mapped: RunUpsert[] = [];
      for (const b of batches)
        mapped.push(
          ...mapSpans(decodeTraceRequest(Buffer.from(b), 'protobuf'), { defaultProject: 'bench' })
            .runs,
        );
      return {
        runsData: Buffer.from(runsCsv(mapped, ws, project)),
        payloadData: Buffer.from(payloadsCsv(mapped)),
        rowCount: mapped.length,
      };
    })();
    // Autovacuum off on the two tables for the run: it starts at random moments and lands
    // in whichever phase follows the inserts that triggered it, while the maintenance it
    // does is the same for both methods' (identical) rows.
    await handle.pool.query('ALTER TABLE runs SET (autovacuum_enabled = false)');
    await handle.pool.query('ALTER TABLE run_payloads SET (autovacuum_enabled = false)');
    const emptyTables = async () => {
      await handle.pool.query('TRUNCATE runs, run_payloads');
      await handle.pool.query('VACUUM ANALYZE runs');
      await handle.pool.query('VACUUM ANALYZE run_payloads');
      await handle.pool.query('CHECKPOINT');
    };

    // ---- the collector under test, on the same database
    const collector = await startCollector({
      ...loupeEnv(),
      DATABASE_URL: databaseUrl,
      LOUPE_DATA_DIR: dataDir,
      LOUPE_INIT_API_KEY: API_KEY,
      LOUPE_LOG_LEVEL: 'warn',
      LOUPE_WORKERS: WORKERS,
    });

    // ---- rounds: COPY, then ingest through HTTP, each into empty tables. This shared
    // 2-core machine swings ±20 % from one second to the next, so the ratio is taken
    // from alternating rounds (median) rather than one shot of each.
    const rounds: Array<{
      copy: number;
      ingest: number;
      cpu: number;
      pgCopy?: number;
      pgIngest?: number;
    }> = [];
    const perRow = (seconds: number | undefined) =>
      seconds === undefined ? undefined : (seconds * 1e6) / totalSpans;
    // warm-up, not measured: the collector is a long-running server; its processes are
    // fresh here (JIT, connection pools, the project row get created on first use)
    const warmup = batches.slice(0, Math.max(1, Math.ceil(batches.length / 10)));
    await sendAll(collector.url, warmup, CLIENTS);
    log(`warm-up: ${warmup.length} requests through the collector (not measured)\n`);
    for (let round = 1; round <= ROUNDS; round++) {
      await emptyTables();
      // both COPY connections exist before the CPU reading (a backend that exits is lost)
      const warm = await Promise.all([handle.pool.connect(), handle.pool.connect()]);
      warm.forEach((c) => c.release());
      let pg0 = await backendCpu(handle.pool, dbName);
      const t0 = performance.now();
      await Promise.all([
        copyInto(handle.pool, 'runs', RUN_COLS, runsData),
        copyInto(handle.pool, 'run_payloads', PAYLOAD_COLS, payloadData),
      ]);
      const copyRate = rowCount / ((performance.now() - t0) / 1000);
      let pg1 = await backendCpu(handle.pool, dbName);
      const pgCopy = perRow(cpuSpent(pg0, pg1));

      await emptyTables();
      pg0 = await backendCpu(handle.pool, dbName);
      const cpu0 = collector.cpu();
      const seconds = await sendAll(collector.url, batches, CLIENTS);
      const collectorCpu = collector.cpu() - cpu0;
      const stored = Number((await handle.pool.query('SELECT count(*) AS n FROM runs')).rows[0].n);
      if (stored !== totalSpans) log(`WARNING: stored ${stored} rows, expected ${totalSpans}`);
      pg1 = await backendCpu(handle.pool, dbName);
      const pgIngest = perRow(cpuSpent(pg0, pg1));
      const rate = totalSpans / seconds;
      rounds.push({ copy: copyRate, ingest: rate, cpu: collectorCpu / seconds, pgCopy, pgIngest });
      const us = (v: number | undefined) => (v === undefined ? 'n/a' : `${v.toFixed(0)} µs`);
      log(
        `round ${round}: COPY ${fmt(copyRate)} rows/s · Loupe ${fmt(rate)} spans/s (${stored} rows stored) · ratio ${(rate / copyRate).toFixed(2)}`,
      );
      log(
        `         CPU per row: PostgreSQL backends ${us(pgCopy)} under COPY, ${us(pgIngest)} under ingest; collector ${us(perRow(collectorCpu))}`,
      );
    }
    await collector.stop();
    await handle.close();
    const median = (xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b);
      return s.length % 2 === 1
        ? s[(s.length - 1) / 2]!
        : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
    };
    const ratios = rounds.map((r) => r.ingest / r.copy);
    log(
      `\nPostgreSQL COPY (runs + run_payloads, 2 streams):     ${fmt(median(rounds.map((r) => r.copy)))} rows/s  (median of ${ROUNDS} rounds, ${totalSpans} rows each)`,
    );
    log(
      `Loupe OTLP/HTTP ingest, PostgreSQL (acked=committed): ${fmt(median(rounds.map((r) => r.ingest)))} spans/s  (median of ${ROUNDS} rounds, ${totalSpans} spans each)`,
    );
    log(
      `ratio ingest / COPY: ${median(ratios).toFixed(2)} median (rounds: ${ratios.map((r) => r.toFixed(2)).join(', ')}; goal ≥ 0.5)`,
    );
    log(
      `collector: ${WORKERS} worker process(es) (LOUPE_WORKERS=${WORKERS}), together ${(median(rounds.map((r) => r.cpu)) * 100).toFixed(0)}% of one core; load generator in its own process`,
    );

    // ---- embedded PGlite
    const pgliteBatches = batches.slice(0, Math.ceil(PGLITE_SPANS / SPANS_PER_BATCH));
    const pgDir = fs.mkdtempSync(path.join(os.tmpdir(), 'loupe-bench-pglite-'));
    const lite = await buildApp(
      loadConfig({
        LOUPE_DATA_DIR: pgDir,
        LOUPE_INIT_API_KEY: API_KEY,
        LOUPE_LOG_LEVEL: 'warn',
        PORT: '0',
      }),
      { logger: false },
    );
    await lite.listen({ host: '127.0.0.1', port: 0 });
    const litePort = (lite.server.address() as { port: number }).port;
    const liteSeconds = await sendAll(`http://127.0.0.1:${litePort}`, pgliteBatches, 2);
    const liteSpans = pgliteBatches.length * SPANS_PER_BATCH;
    log(
      `\nLoupe OTLP/HTTP ingest, embedded PGlite:             ${fmt(liteSpans / liteSeconds)} spans/s  (${liteSpans} spans, ${liteSeconds.toFixed(2)} s; goal ≥ 2,000)`,
    );

    // ---- HTTP stall during a heavy PGlite query: worker thread (Loupe) vs same thread
    const withWorker = await measureStall(
      () =>
        lite.loupe.database.db.executeQuery({
          sql: HEAVY_QUERY,
          parameters: [],
          query: { kind: 'RawNode' },
        } as never),
      `http://127.0.0.1:${litePort}/healthz`,
    );
    await lite.close();
    fs.rmSync(pgDir, { recursive: true, force: true });

    const inThread = await PGlite.create();
    const probeServer = http.createServer((_req, res) => res.end('ok'));
    await new Promise<void>((r) => probeServer.listen(0, '127.0.0.1', r));
    const probePort = (probeServer.address() as { port: number }).port;
    const sameThread = await measureStall(
      () => inThread.query(HEAVY_QUERY),
      `http://127.0.0.1:${probePort}/`,
    );
    probeServer.close();
    await inThread.close();
    log(`\nHTTP stall while PGlite runs a heavy query (${HEAVY_QUERY.slice(0, 60)}…):`);
    log(
      `  Loupe (PGlite on a worker thread): query ${withWorker.queryMs.toFixed(0)} ms, event loop late by ≤ ${withWorker.loopMaxMs.toFixed(1)} ms, longest gap between /healthz answers ${withWorker.probeMaxGapMs.toFixed(1)} ms (${withWorker.probes} probes)`,
    );
    log(
      `  PGlite on the HTTP thread:         query ${sameThread.queryMs.toFixed(0)} ms, event loop late by ≤ ${sameThread.loopMaxMs.toFixed(1)} ms, longest gap between HTTP answers ${sameThread.probeMaxGapMs.toFixed(1)} ms (${sameThread.probes} probes)`,
    );
  } finally {
    closeProbes();
    const c = new pg.Client({ connectionString: ADMIN_URL });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await c.end();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
