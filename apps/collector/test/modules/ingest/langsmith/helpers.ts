import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

export interface CapturedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  /** the body as received on the wire */
  raw: Buffer;
  /** decompressed body (gunzipped here when `Content-Encoding: gzip`) */
  body: Buffer;
}

export interface Recorder {
  url: string;
  requests: CapturedRequest[];
  close(): Promise<void>;
}

/** `/info` body recommended by the wire notes (§2), with the two switches the tests flip. */
export function infoBody(opts: { multipart?: boolean; gzip?: boolean } = {}) {
  return {
    version: '0.18.0',
    batch_ingest_config: {
      use_multipart_endpoint: opts.multipart ?? true,
      size_limit: 100,
      size_limit_bytes: 20_971_520,
    },
    instance_flags: {
      dataset_examples_multipart_enabled: true,
      gzip_body_enabled: opts.gzip ?? false,
      zstd_compression_enabled: false,
      ch_query_enabled: true,
      sdb_query_enabled: false,
    },
  };
}

/** A tiny LangSmith stand-in on 127.0.0.1:0 that records every request body. */
export async function startRecorder(info: object): Promise<Recorder> {
  const requests: CapturedRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      requests.push({ method: req.method ?? 'GET', path, headers: req.headers, raw, body });
      res.setHeader('content-type', 'application/json');
      if (req.method === 'GET' && path === '/info') {
        res.end(JSON.stringify(info));
        return;
      }
      res.statusCode = path.startsWith('/runs') ? 202 : 200;
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

export interface PartSpec {
  name?: string;
  /** full Content-Type header value; default `application/json; length=<n>` */
  contentType?: string | null;
  filename?: string;
  body: string | Buffer | object;
}

export const BOUNDARY = '----LangSmithFormBoundarytest123';
export const MULTIPART_TYPE = `multipart/form-data; boundary=${BOUNDARY}`;

/** Builds a multipart body with the SDK's exact framing. */
export function buildMultipart(parts: PartSpec[], opts: { close?: boolean } = {}): Buffer {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const data = Buffer.isBuffer(p.body)
      ? p.body
      : Buffer.from(typeof p.body === 'string' ? p.body : JSON.stringify(p.body), 'utf8');
    const disposition =
      p.name === undefined
        ? 'form-data'
        : `form-data; name="${p.name}"${p.filename ? `; filename="${p.filename}"` : ''}`;
    const headers = [`Content-Disposition: ${disposition}`];
    const type =
      p.contentType === undefined ? `application/json; length=${data.length}` : p.contentType;
    if (type !== null) headers.push(`Content-Type: ${type}`);
    chunks.push(
      Buffer.from(`--${BOUNDARY}\r\n${headers.join('\r\n')}\r\n\r\n`),
      data,
      Buffer.from('\r\n'),
    );
  }
  if (opts.close !== false) chunks.push(Buffer.from(`--${BOUNDARY}--\r\n`));
  return Buffer.concat(chunks);
}

/** Part names of a multipart body, in order (for assertions on the SDK's framing). */
export function partNames(body: Buffer): string[] {
  return [
    ...body.toString('latin1').matchAll(/Content-Disposition: form-data; name="([^"]+)"/g),
  ].map((m) => m[1]!);
}
