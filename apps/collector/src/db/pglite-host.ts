import { Worker } from 'node:worker_threads';
import fs from 'node:fs';
import path from 'node:path';

export interface PgliteHost {
  port: number;
  close(): Promise<void>;
}

type WorkerMessage =
  { type: 'ready'; port: number } | { type: 'error'; message: string } | { type: 'closed' };

/** Starts PGlite on a worker thread and returns the loopback port of its wire-protocol socket. */
export async function startPgliteHost(dataDir: string): Promise<PgliteHost> {
  fs.mkdirSync(dataDir, { recursive: true });
  const releaseLock = lockDataDir(dataDir);
  const worker = new Worker(new URL('./pglite.worker.mjs', import.meta.url), {
    workerData: { dataDir },
    // The parent's loader flags (tsx) are not needed for a plain .mjs worker.
    execArgv: [],
  });
  const port = await new Promise<number>((resolve, reject) => {
    worker.once('exit', releaseLock);
    const onMessage = (msg: WorkerMessage) => {
      if (msg.type === 'ready') resolve(msg.port);
      else if (msg.type === 'error') {
        void worker.terminate();
        reject(new Error(`Embedded database failed to start in ${dataDir}: ${msg.message}`));
      }
    };
    worker.on('message', onMessage);
    worker.once('error', reject);
    worker.once('exit', (code) =>
      reject(new Error(`Embedded database worker exited with code ${code}`)),
    );
  });
  let closing: Promise<void> | undefined;
  return {
    port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        worker.once('exit', releaseLock);
        const timer = setTimeout(() => void worker.terminate().then(() => resolve()), 10_000);
        worker.on('message', (msg: WorkerMessage) => {
          if (msg.type === 'closed') {
            clearTimeout(timer);
            void worker.terminate().then(() => resolve());
          }
        });
        worker.once('exit', () => resolve());
        worker.postMessage({ type: 'close' });
      });
      return closing;
    },
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Lock files this process holds; a lock naming our pid but not in here is stale. */
const heldLocks = new Set<string>();

/**
 * PGlite is a single-process database: two collectors on one data directory would
 * corrupt it. A pid lock file makes the second start fail with a clear message; a
 * lock left by a killed process (its pid is gone) is taken over, also when that process
 * had our pid (a container's PID 1 gets the same pid on every start).
 */
export function lockDataDir(dataDir: string): () => void {
  const lockPath = path.join(dataDir, 'loupe.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(lockPath, String(process.pid), { flag: 'wx' });
      heldLocks.add(lockPath);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        heldLocks.delete(lockPath);
        try {
          if (fs.readFileSync(lockPath, 'utf8') === String(process.pid)) fs.unlinkSync(lockPath);
        } catch {
          // already gone
        }
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number(fs.readFileSync(lockPath, 'utf8').trim());
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
        throw new Error(
          `The embedded database in ${dataDir} is in use by process ${holder}. Stop it, or set LOUPE_DATA_DIR to another folder (or DATABASE_URL to use PostgreSQL).`,
          { cause: error },
        );
      }
      if (holder === process.pid && heldLocks.has(lockPath)) {
        throw new Error(`The embedded database in ${dataDir} is already open in this process`, {
          cause: error,
        });
      }
      fs.unlinkSync(lockPath); // stale: its process is gone
    }
  }
  throw new Error(`Could not lock ${lockPath}`);
}
