/**
 * A loopback HTTP proxy whose upstream can be switched at run time. The SDK's init()
 * works once per process, so suites that test several backends point it here and set
 * `state.target` to each backend's collector in turn. Every request is logged with the
 * upstream's status, so tests can show retries.
 */
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LoggedRequest {
  method: string;
  path: string;
  status: number;
  body: string;
}

export interface SwitchableProxy {
  state: { target: string; log: LoggedRequest[] };
  url: string;
  close(): Promise<void>;
}

export async function startSwitchableProxy(): Promise<SwitchableProxy> {
  const state = { target: '', log: [] as LoggedRequest[] };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const up = new URL(state.target);
      const forward = httpRequest(
        {
          host: up.hostname,
          port: up.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: up.host },
        },
        (answer) => {
          state.log.push({
            method: req.method ?? '',
            path: req.url ?? '',
            status: answer.statusCode ?? 0,
            body: body.toString('utf8'),
          });
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      forward.on('error', (err) => res.writeHead(502).end(String(err)));
      forward.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    state,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
