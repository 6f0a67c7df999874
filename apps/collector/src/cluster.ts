/**
 * LOUPE_WORKERS > 1: this process supervises collector worker processes that share
 * the listening port (node:cluster hands each accepted connection to a worker). The
 * collector is single-threaded; on a multi-core host decoding, mapping and encoding
 * then run on several cores. PostgreSQL only — every write path is safe across
 * processes (idempotent upserts; a COPY that loses an insert race retries as an upsert).
 *
 * - The first worker starts alone (migrations, workspace bootstrap); the others follow
 *   once it is listening, and the banner is printed once, from its report.
 * - SIGTERM/SIGINT: every worker drains and exits; the supervisor exits when all have.
 * - A worker that dies unexpectedly is replaced after a second; one that fails during
 *   the first start stops everything (the configuration or the database is wrong).
 * - A worker whose supervisor is killed drains and exits (server.ts).
 */
import cluster, { type Worker } from 'node:cluster';
import net from 'node:net';
import type { LoupeConfig } from './config.js';

/** What a worker reports once it listens. */
export interface WorkerReady {
  type: 'loupe:ready';
  port: number;
  databaseKind: 'pglite' | 'postgres';
  createdApiKey?: string;
}

function isReady(message: unknown): message is WorkerReady {
  return (message as { type?: unknown } | null)?.type === 'loupe:ready';
}

/** PORT=0 means "any free port": pick one here so that every worker binds the same. */
async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, host, () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

const log = (message: string) => console.error(`[loupe supervisor] ${message}`);

export async function runCluster(
  config: LoupeConfig,
  onReady: (ready: WorkerReady) => void,
): Promise<void> {
  const port = config.port === 0 ? await freePort(config.host) : config.port;
  let stopping = false;
  let started = false;

  const fork = (): Worker => cluster.fork({ PORT: String(port) });
  const waitReady = (worker: Worker) =>
    new Promise<WorkerReady>((resolve, reject) => {
      const onMessage = (message: unknown) => {
        if (!isReady(message)) return;
        worker.off('exit', onExit);
        worker.off('message', onMessage);
        resolve(message);
      };
      const onExit = (code: number | null, signal: string | null) => {
        worker.off('message', onMessage);
        reject(new Error(`worker exited during start (${signal ?? `code ${code}`})`));
      };
      worker.on('message', onMessage);
      worker.once('exit', onExit);
    });

  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: draining ${Object.keys(cluster.workers ?? {}).length} worker(s)`);
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
    const force = setTimeout(() => {
      log('workers did not stop within 35 s; exiting');
      process.exit(1);
    }, 35_000);
    force.unref();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  // the exit code of a shutdown is the worst of the workers' drains; crashes before it
  // were already handled by replacing the worker
  let exitCode = 0;
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (code !== 0 && code !== null) exitCode = code;
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(exitCode);
      return;
    }
    // during the start, waitReady reports the failure
    if (!started) return;
    log(`worker ${worker.process.pid} died (${signal ?? `code ${code}`}); starting another`);
    // not unref'd: when every worker died this timer is what keeps the supervisor alive
    setTimeout(() => {
      if (!stopping) fork();
    }, 1000);
  });

  let ready: WorkerReady;
  try {
    ready = await waitReady(fork());
    // a shutdown requested while the first worker started: start no more
    if (stopping) return;
    await Promise.all(Array.from({ length: config.workers - 1 }, fork).map(waitReady));
  } catch (error) {
    // SIGTERM during the start stops the workers that were starting: not a failure
    if (stopping) return;
    stopping = true;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
    throw error;
  }
  if (stopping) return;
  started = true;
  onReady(ready);
}
