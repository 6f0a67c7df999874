import fp from 'fastify-plugin';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { LoupeError } from '../errors.js';
import { isDatabaseUnavailable } from '../db/database.js';

export interface ErrorEnvelope {
  statusCode: number;
  code: string;
  error: string;
  message: string;
  requestId: string;
}

/** Routes that answer errors in their own wire format (OTLP: google.rpc.Status). */
export type ErrorRenderer = (
  request: FastifyRequest,
  reply: FastifyReply,
  envelope: ErrorEnvelope,
) => unknown;

declare module 'fastify' {
  interface FastifyContextConfig {
    renderError?: ErrorRenderer;
  }
}

const FASTIFY_CODE_MAP: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'LOUPE_ERR_BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'LOUPE_ERR_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'LOUPE_ERR_BAD_REQUEST',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'LOUPE_ERR_BAD_REQUEST',
  FST_ERR_VALIDATION: 'LOUPE_ERR_VALIDATION',
};

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** One handler, one envelope: `{statusCode, code, error, message, requestId}`; 5xx internals are logged, never sent. */
export const errorHandlerPlugin = fp(
  (app, _opts, done) => {
    app.setErrorHandler((err: FastifyError | LoupeError, request, reply) => {
      let statusCode: number;
      let code: string;
      let message: string;
      if (err instanceof LoupeError) {
        statusCode = err.statusCode;
        code = err.code;
        message = err.message;
        if (err.retryAfter !== undefined) void reply.header('retry-after', String(err.retryAfter));
      } else if (
        typeof err.statusCode === 'number' &&
        err.statusCode >= 400 &&
        err.statusCode < 500
      ) {
        statusCode = err.statusCode;
        code = FASTIFY_CODE_MAP[err.code] ?? 'LOUPE_ERR_BAD_REQUEST';
        message = err.message;
        if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
          message = 'Request body is larger than the configured limit (LOUPE_MAX_BODY_BYTES)';
        }
      } else if (err instanceof SyntaxError) {
        statusCode = 400;
        code = 'LOUPE_ERR_UNDECODABLE_BODY';
        message = `Body is not valid JSON: ${err.message}`;
      } else if (isDatabaseUnavailable(err)) {
        // e.g. a query route while the database is away: retryable, not an internal error
        statusCode = 503;
        code = 'LOUPE_ERR_DATABASE_UNAVAILABLE';
        message = 'The database is unreachable; retry later';
        void reply.header('retry-after', '2');
      } else {
        statusCode = 500;
        code = 'LOUPE_ERR_INTERNAL';
        message = 'Internal server error';
      }
      if (statusCode >= 500) request.log.error({ err }, 'request failed');
      else request.log.info({ code, message }, 'request rejected');
      const envelope: ErrorEnvelope = {
        statusCode,
        code,
        error: STATUS_TEXT[statusCode] ?? 'Error',
        message,
        requestId: String(request.id),
      };
      void reply.status(statusCode);
      const render = request.routeOptions.config?.renderError;
      if (render !== undefined) return render(request, reply, envelope);
      return reply.send(envelope);
    });
    app.setNotFoundHandler((request, reply) => {
      void reply.status(404).send({
        statusCode: 404,
        code: 'LOUPE_ERR_NOT_FOUND',
        error: 'Not Found',
        message: `Route ${request.method} ${request.url.split('?')[0]} does not exist`,
        requestId: String(request.id),
      } satisfies ErrorEnvelope);
    });
    done();
  },
  { name: 'loupe-error-handler' },
);
