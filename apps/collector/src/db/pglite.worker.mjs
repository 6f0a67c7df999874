// PGlite runs here, on its own thread, behind a PostgreSQL wire-protocol socket on
// loopback. PGlite executes queries synchronously in WASM; on the HTTP thread a
// 116 ms query stalled every request for 116 ms (DESIGN.md). Plain JS on purpose:
// worker entry points must load without a TypeScript loader (tsx, vitest, dist).
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

const { dataDir } = workerData;
let db;
let server;
try {
  db = await PGlite.create(dataDir);
  // One connection at a time: PGlite is a single backend session, so interleaving two
  // clients' extended-protocol messages would mix their unnamed statements.
  server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 1 });
  await server.start();
  const conn = server.getServerConn();
  const port = Number(conn.slice(conn.lastIndexOf(':') + 1));
  parentPort.postMessage({ type: 'ready', port });
} catch (error) {
  parentPort.postMessage({
    type: 'error',
    message: error instanceof Error ? error.message : String(error),
  });
}

parentPort.on('message', async (msg) => {
  if (msg?.type !== 'close') return;
  try {
    await server?.stop();
    await db?.close();
  } finally {
    parentPort.postMessage({ type: 'closed' });
  }
});
