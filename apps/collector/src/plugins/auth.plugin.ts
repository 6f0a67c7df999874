import fp from 'fastify-plugin';
import type { FastifyRequest } from 'fastify';
import { LoupeError } from '../errors.js';
import { hashApiKey } from '../modules/workspaces/api-keys.js';
import {
  findApiKeyByHash,
  type ApiKeyIdentity,
  type Db,
} from '../modules/workspaces/workspaces.repository.js';

declare module 'fastify' {
  interface FastifyRequest {
    identity: ApiKeyIdentity | undefined;
  }
  interface FastifyContextConfig {
    /** routes that answer without a key (health, info, docs) */
    public?: boolean;
  }
  interface FastifyInstance {
    requireIdentity(request: FastifyRequest): ApiKeyIdentity;
  }
}

const CACHE_TTL_MS = 30_000;

function readKey(request: FastifyRequest): string | undefined {
  const header = request.headers['x-api-key'];
  const apiKey = Array.isArray(header) ? header[0] : header;
  if (apiKey !== undefined && apiKey.trim() !== '') return apiKey.trim();
  const auth = request.headers.authorization;
  if (auth !== undefined) {
    const m = /^Bearer\s+(.+)$/i.exec(auth.trim());
    if (m !== null) return m[1]!.trim();
  }
  return undefined;
}

/**
 * API-key auth by `x-api-key` or `Authorization: Bearer`. Keys are looked up by
 * sha256; a short cache keeps ingest off the database for repeated keys (a revoked
 * key stops working within CACHE_TTL_MS).
 */
export const authPlugin = fp<{ db: Db }>(
  (app, opts, done) => {
    const cache = new Map<string, { identity: ApiKeyIdentity | undefined; at: number }>();
    app.decorateRequest('identity', undefined);
    app.decorate('requireIdentity', (request: FastifyRequest) => {
      if (request.identity === undefined) {
        throw new LoupeError(
          'UNAUTHENTICATED',
          'A valid API key is required (x-api-key or Authorization: Bearer)',
        );
      }
      return request.identity;
    });
    app.addHook('onRequest', async (request) => {
      if (request.routeOptions.config?.public === true) return;
      const key = readKey(request);
      if (key === undefined) {
        throw new LoupeError(
          'UNAUTHENTICATED',
          'Missing API key: send it as x-api-key or Authorization: Bearer <key>',
        );
      }
      const hash = hashApiKey(key);
      const now = Date.now();
      let entry = cache.get(hash);
      if (entry === undefined || now - entry.at > CACHE_TTL_MS) {
        try {
          entry = { identity: await findApiKeyByHash(opts.db, hash), at: now };
        } catch (error) {
          throw new LoupeError(
            'DATABASE_UNAVAILABLE',
            'Cannot verify the API key: the database is unreachable',
            {
              retryAfter: 2,
              cause: error,
            },
          );
        }
        if (cache.size > 1000) cache.clear();
        cache.set(hash, entry);
      }
      if (entry.identity === undefined)
        throw new LoupeError('UNAUTHENTICATED', 'Invalid or revoked API key');
      request.identity = entry.identity;
    });
    done();
  },
  { name: 'loupe-auth' },
);
