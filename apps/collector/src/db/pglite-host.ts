import { Worker } from 'node:worker_threads';
import fs from 'node:fs';

export interface PgliteHost {
  port: number;
  close(): Promise<void>;
}

type WorkerMessage =
  { type: 'ready'; port: number } | { type: 'error'; message: string } | { type: 'closed' };

/** Starts PGlite on a worker thread and returns the loopback port of its wire-protocol socket. */
export async function startPgliteHost(dataDir: string): Promise<PgliteHost> {
  fs.mkdirSync(dataDir, { recursive: true });
  const worker = new Worker(new URL('./pglite.worker.mjs', import.meta.url), {
    workerData: { dataDir },
    // The parent's loader flags (tsx) are not needed for a plain .mjs worker.
    execArgv: [],
  });
  const port = await new Promise<number>((resolve, reject) => {
    const onMessage = (msg: WorkerMessage) => {
      if (msg.type === 'ready') resolve(msg.port);
      else if (msg.type === 'error')
        reject(new Error(`Embedded database failed to start in ${dataDir}: ${msg.message}`));
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
        const timer = setTimeout(() => void worker.terminate().then(() => resolve()), 10_000);
        worker.on('message', (msg: WorkerMessage) => {
          if (msg.type === 'closed') {
            clearTimeout(timer);
            void worker.terminate().then(() => resolve());
          }
        });
        worker.postMessage({ type: 'close' });
      });
      return closing;
    },
  };
}
