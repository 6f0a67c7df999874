/**
 * LOUPE_WORKERS: the collector as a supervisor with worker processes sharing the port,
 * started exactly as `npm start` starts it (a real process, real signals, PostgreSQL).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  TEST_API_KEY,
  childProcesses as children,
  createTestDatabase,
  testBackends,
  type TestDatabase,
} from '../src/testing.js';

const SERVER = fileURLToPath(new URL('../src/server.ts', import.meta.url));

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function until<T>(
  what: string,
  fn: () => T | undefined | false | Promise<T | undefined | false>,
  ms = 20_000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function freePort(): Promise<number> {
  const probe = net.createServer();
  const port = await new Promise<number>((resolve) =>
    probe.listen(0, '127.0.0.1', () => resolve((probe.address() as net.AddressInfo).port)),
  );
  await new Promise((r) => probe.close(r));
  return port;
}

interface Started {
  proc: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<number | null>;
}

async function start(db: TestDatabase, workers: number, port = 0): Promise<Started> {
  const proc = spawn(process.execPath, ['--conditions=loupe-source', '--import', 'tsx', SERVER], {
    env: {
      ...process.env,
      DATABASE_URL: db.url!,
      LOUPE_DATA_DIR: db.dataDir,
      LOUPE_INIT_API_KEY: TEST_API_KEY,
      LOUPE_WORKERS: String(workers),
      LOUPE_LOG_LEVEL: 'warn',
      PORT: String(port),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  proc.stdout.on('data', (d: Buffer) => (text += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (text += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  // a fixed port is known before the banner (which waits for every worker)
  if (port !== 0) return { proc, url: `http://127.0.0.1:${port}`, output: () => text, exited };
  const chosen = await until(
    'the banner',
    () => /running at http:\/\/127\.0\.0\.1:(\d+)/.exec(text)?.[1],
  );
  return { proc, url: `http://127.0.0.1:${chosen}`, output: () => text, exited };
}

async function sendSpan(url: string, spanId: string): Promise<number> {
  const body = {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'cluster' } }] },
        scopeSpans: [
          {
            spans: [
              {
                traceId: '5b8efff798038103d269b633813fc60c',
                spanId,
                name: 'op',
                startTimeUnixNano: '1795759490314000000',
                endTimeUnixNano: '1795759490315000000',
              },
            ],
          },
        ],
      },
    ],
  };
  const res = await fetch(`${url}/v1/traces`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': TEST_API_KEY },
    body: JSON.stringify(body),
  });
  return res.status;
}

describe.runIf(testBackends().includes('postgres'))('LOUPE_WORKERS on PostgreSQL', () => {
  let db: TestDatabase | undefined;
  let running: Started | undefined;
  afterEach(async () => {
    if (running && running.proc.exitCode === null) {
      for (const pid of children(running.proc.pid!)) process.kill(pid, 'SIGKILL');
      running.proc.kill('SIGKILL');
    }
    await db?.drop();
    db = undefined;
  });

  it('serves from several workers, replaces a dead one, and drains them all on SIGTERM', async () => {
    db = await createTestDatabase('postgres');
    running = await start(db, 2);
    const supervisor = running.proc.pid!;
    expect(running.output()).toMatch(/2 worker processes/);
    // the banner appears once, not once per worker
    expect(running.output().match(/Loupe is running/g)).toHaveLength(1);
    const workers = await until('two workers', () => {
      const c = children(supervisor);
      return c.length === 2 ? c : undefined;
    });

    const ids = Array.from({ length: 20 }, (_, i) => (i + 1).toString(16).padStart(16, '0'));
    expect(await Promise.all(ids.map((id) => sendSpan(running!.url, id)))).toEqual(
      ids.map(() => 200),
    );

    // a worker that dies is replaced; the service keeps answering meanwhile
    process.kill(workers[0]!, 'SIGKILL');
    const replaced = await until('a replacement worker', () => {
      const c = children(supervisor);
      return c.length === 2 && !c.includes(workers[0]!) ? c : undefined;
    });
    expect(replaced).toContain(workers[1]);
    expect(await sendSpan(running.url, '00000000000000ff')).toBe(200);

    const res = await fetch(`${running.url}/api/loupe/v1/runs?limit=100`, {
      headers: { 'x-api-key': TEST_API_KEY },
    });
    expect(((await res.json()) as { runs: unknown[] }).runs).toHaveLength(21);

    running.proc.kill('SIGTERM');
    expect(await running.exited).toBe(0);
    for (const pid of replaced) expect(alive(pid)).toBe(false);
  }, 90_000);

  it('workers stop by themselves when the supervisor is killed', async () => {
    db = await createTestDatabase('postgres');
    running = await start(db, 2);
    const workers = await until('two workers', () => {
      const c = children(running!.proc.pid!);
      return c.length === 2 ? c : undefined;
    });
    running.proc.kill('SIGKILL');
    await running.exited;
    await until('orphaned workers to exit', () => workers.every((pid) => !alive(pid)));
  }, 90_000);

  it('SIGTERM while workers are still starting is a clean stop (exit 0), not a failed start', async () => {
    db = await createTestDatabase('postgres');
    running = await start(db, 3, await freePort());
    // the first worker answers before the others have started
    await until('the first worker', async () => {
      try {
        return (await fetch(`${running!.url}/healthz`)).status === 200;
      } catch {
        return false;
      }
    });
    running.proc.kill('SIGTERM');
    expect(await running.exited, running.output()).toBe(0);
  }, 90_000);

  it('a worker that cannot start stops the supervisor with an error, not a silent exit 0', async () => {
    db = await createTestDatabase('postgres');
    // a database nobody listens on: the first worker's migrations fail
    const nowhere = `postgres://postgres@127.0.0.1:${await freePort()}/nowhere`;
    running = await start({ ...db, url: nowhere }, 2, await freePort());
    expect(await running.exited).toBe(1);
    expect(running.output()).toMatch(/Loupe failed to start: worker exited during start/);
  }, 90_000);

  it('replaces every worker when all of them die at once', async () => {
    db = await createTestDatabase('postgres');
    running = await start(db, 2);
    const supervisor = running.proc.pid!;
    const first = await until('two workers', () => {
      const c = children(supervisor);
      return c.length === 2 ? c : undefined;
    });
    for (const pid of first) process.kill(pid, 'SIGKILL');
    await until(
      'two new workers',
      () => {
        const c = children(supervisor);
        return c.length === 2 && c.every((pid) => !first.includes(pid)) ? c : undefined;
      },
      30_000,
    );
    // with every worker gone the port was closed too; it answers again once they listen
    await until('the port to answer again', async () => {
      try {
        return (await fetch(`${running!.url}/healthz`)).status === 200;
      } catch {
        return false;
      }
    });
    expect(await sendSpan(running.url, '00000000000000aa')).toBe(200);
    running.proc.kill('SIGTERM');
    expect(await running.exited).toBe(0);
  }, 90_000);
});
