// The collector as a real child process (`npm start` without npm), for tests that
// kill, drain or restart it. Every spawned process is tracked; `killAllCollectors()`
// in afterEach/afterAll guarantees none outlives its test file.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { TEST_API_KEY, type TestDatabase } from '@loupe/collector/testing';
import { REPO_ROOT } from './robustness-otlp.js';

export const SERVER_ENTRY = path.join(REPO_ROOT, 'apps/collector/src/server.ts');

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface CollectorProcess {
  readonly child: ChildProcess;
  readonly port: number;
  /** http://127.0.0.1:<port> */
  readonly url: string;
  stdout(): string;
  stderr(): string;
  /** settles when the process has exited */
  readonly exited: Promise<ExitInfo>;
  running(): boolean;
  /** polls /healthz until it answers 200; throws if the process exits or time runs out */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** sends the signal and waits for the exit (SIGKILL after `timeoutMs` if still running) */
  stop(signal: NodeJS.Signals, timeoutMs?: number): Promise<ExitInfo>;
}

const live = new Set<CollectorProcess>();

/** The environment of a collector on `db` (PGlite data dir or PostgreSQL database). */
export function collectorEnv(
  db: TestDatabase,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    LOUPE_DATA_DIR: db.dataDir,
    ...(db.url === undefined ? {} : { DATABASE_URL: db.url }),
    LOUPE_INIT_API_KEY: TEST_API_KEY,
    LOUPE_LOG_LEVEL: 'warn',
    ...extra,
  };
}

/** A free loopback port (bound and released; fine for tests that run one at a time). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (port === 0) throw new Error('could not get a free port');
  return port;
}

/**
 * Starts `node --conditions=loupe-source --import tsx apps/collector/src/server.ts`
 * with exactly `env` (plus PATH/HOME), on 127.0.0.1. Does not wait for readiness.
 */
export function spawnCollector(port: number, env: Record<string, string>): CollectorProcess {
  const child = spawn(
    process.execPath,
    ['--conditions=loupe-source', '--import', 'tsx', SERVER_ENTRY],
    {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        NODE_OPTIONS: '',
        HOST: '127.0.0.1',
        PORT: String(port),
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const url = `http://127.0.0.1:${port}`;
  const proc: CollectorProcess = {
    child,
    port,
    url,
    stdout: () => out,
    stderr: () => err,
    exited,
    running: () => child.exitCode === null && child.signalCode === null,
    async waitHealthy(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (!proc.running()) {
          const info = await exited;
          throw new Error(
            `collector exited (code ${info.code}, signal ${info.signal}) before it was healthy\nstdout:\n${out}\nstderr:\n${err}`,
          );
        }
        try {
          const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2_000) });
          await res.arrayBuffer();
          if (res.status === 200) return;
        } catch {
          // not listening yet
        }
        await sleep(100);
      }
      throw new Error(
        `collector on ${url} not healthy after ${timeoutMs} ms\nstdout:\n${out}\nstderr:\n${err}`,
      );
    },
    async stop(signal, timeoutMs = 40_000) {
      if (proc.running()) child.kill(signal);
      const timer = setTimeout(() => {
        if (proc.running()) child.kill('SIGKILL');
      }, timeoutMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
  live.add(proc);
  void exited.then(() => live.delete(proc));
  return proc;
}

/** SIGKILLs every collector this file started that is still running and waits for them. */
export async function killAllCollectors(): Promise<void> {
  await Promise.all([...live].map((p) => p.stop('SIGKILL', 5_000)));
}
