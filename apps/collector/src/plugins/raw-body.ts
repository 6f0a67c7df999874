import zlib from 'node:zlib';
import { promisify } from 'node:util';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { LoupeError } from '../errors.js';

const gunzip = promisify(zlib.gunzip);
const inflate = promisify(zlib.inflate);
const brotli = promisify(zlib.brotliDecompress);
type ZstdFn = (
  buf: Buffer,
  opts: { maxOutputLength: number },
  cb: (e: Error | null, r: Buffer) => void,
) => void;
const zstdRaw = (zlib as unknown as { zstdDecompress?: ZstdFn }).zstdDecompress;
const zstd = zstdRaw === undefined ? undefined : promisify(zstdRaw);

/** Encodings this Node can decode; zstd only where node:zlib has it (Node ≥ 22.15). */
export const SUPPORTED_ENCODINGS = [
  'identity',
  'gzip',
  'x-gzip',
  'deflate',
  'br',
  ...(zstd ? ['zstd'] : []),
];

/**
 * Makes every body in this (encapsulated) context arrive as a raw Buffer; the wire
 * size is capped by fastify's bodyLimit, the decoded size by `decodeBody`.
 */
export function acceptRawBodies(app: FastifyInstance, maxBodyBytes: number): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    '*',
    { parseAs: 'buffer', bodyLimit: maxBodyBytes },
    (_req, body, done) => {
      done(null, body);
    },
  );
}

/**
 * Decompresses per Content-Encoding with the SAME cap on the output (zip-bomb safe:
 * zlib stops at maxOutputLength instead of inflating a 10 GB body into memory).
 */
export async function decodeBody(request: FastifyRequest, maxBodyBytes: number): Promise<Buffer> {
  const raw = request.body;
  const body = Buffer.isBuffer(raw) ? raw : Buffer.alloc(0);
  const encoding = String(request.headers['content-encoding'] ?? 'identity')
    .trim()
    .toLowerCase();
  const opts = { maxOutputLength: maxBodyBytes };
  try {
    switch (encoding) {
      case '':
      case 'identity':
        return body;
      case 'gzip':
      case 'x-gzip':
        return await gunzip(body, opts);
      case 'deflate':
        return await inflate(body, opts);
      case 'br':
        return await brotli(body, opts);
      case 'zstd':
        if (zstd !== undefined) return await zstd(body, opts);
        break;
    }
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new LoupeError(
        'BODY_TOO_LARGE',
        `Decompressed body exceeds the limit of ${maxBodyBytes} bytes (LOUPE_MAX_BODY_BYTES)`,
      );
    }
    throw new LoupeError(
      'UNDECODABLE',
      `Body is not valid ${encoding} data: ${(error as Error).message}`,
    );
  }
  throw new LoupeError(
    'UNSUPPORTED_MEDIA_TYPE',
    `Content-Encoding "${encoding}" is not supported; use one of ${SUPPORTED_ENCODINGS.join(', ')}`,
  );
}

/** Media type of Content-Type without parameters, lower-cased ('' when absent). */
export function mediaType(request: FastifyRequest): string {
  return String(request.headers['content-type'] ?? '')
    .split(';')[0]!
    .trim()
    .toLowerCase();
}
