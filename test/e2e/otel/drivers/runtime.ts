// Child-process side of the OTel e2e drivers (parent side: startDriver in
// test/support/otel-helpers.ts).
//
// Why a child process: vitest runs its workers with `--conditions module`, which makes Node
// (require and import alike) resolve @opentelemetry/* to their bundler-only `build/esm`
// files, which do not load. The drivers run in a clean `node --import tsx`, own the whole
// OTel SDK / instrumentation / client side, and answer commands from the test:
//
//   stdin   one JSON object per line: { id, cmd, args }
//   stdout  `@@driver {"id":…,"ok":true,"result":…}` / `{"id":…,"ok":false,"error":"…"}`;
//           `@@driver {"ready":true}` once started. Other stdout lines (SDK chatter) are
//           ignored by the parent and only shown when something fails.
import { createInterface } from 'node:readline';

export const DRIVER_PREFIX = '@@driver ';

/** Trace and span id (hex) of a span the driver created. */
export interface SpanRef {
  traceId: string;
  spanId: string;
}

export type Handler = (args: never) => Promise<unknown>;

/** The JSON the parent passed in LOUPE_DRIVER_CONFIG. */
export function driverConfig<T>(): T {
  const raw = process.env.LOUPE_DRIVER_CONFIG;
  if (raw === undefined) throw new Error('LOUPE_DRIVER_CONFIG is not set');
  return JSON.parse(raw) as T;
}

function send(message: unknown): Promise<void> {
  return new Promise((resolve) => {
    process.stdout.write(`${DRIVER_PREFIX}${JSON.stringify(message)}\n`, () => resolve());
  });
}

function describeError(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  return String(error);
}

/**
 * Answers commands one at a time, in arrival order. `shutdown` runs `onShutdown` (flush
 * and stop the SDK), answers, and exits: SDKs keep timers that would hold the process.
 */
export function serve(handlers: Record<string, Handler>, onShutdown: () => Promise<void>): void {
  const lines = createInterface({ input: process.stdin });
  let queue = Promise.resolve();
  lines.on('line', (line) => {
    if (line.trim() === '') return;
    queue = queue.then(async () => {
      const { id, cmd, args } = JSON.parse(line) as { id: number; cmd: string; args: unknown };
      if (cmd === 'shutdown') {
        let error: string | undefined;
        try {
          await onShutdown();
        } catch (e) {
          error = describeError(e);
        }
        await send(error === undefined ? { id, ok: true, result: null } : { id, ok: false, error });
        process.exit(0);
      }
      const handler = handlers[cmd];
      if (handler === undefined) {
        await send({ id, ok: false, error: `unknown command ${cmd}` });
        return;
      }
      try {
        const result = await handler(args as never);
        await send({ id, ok: true, result: result ?? null });
      } catch (e) {
        await send({ id, ok: false, error: describeError(e) });
      }
    });
  });
  lines.on('close', () => {
    void queue.then(async () => {
      await onShutdown().catch(() => undefined);
      process.exit(0);
    });
  });
  void send({ ready: true });
}
