/**
 * One error catalogue. Domain code throws `LoupeError`s with a code from here and
 * knows nothing of HTTP beyond the status the code maps to; the root error handler
 * turns them into the one envelope `{statusCode, code, error, message, requestId}`
 * (OTLP routes: a google.rpc.Status in the request's encoding).
 */
export const ErrorCodes = {
  BAD_REQUEST: { code: 'LOUPE_ERR_BAD_REQUEST', status: 400 },
  UNDECODABLE: { code: 'LOUPE_ERR_UNDECODABLE_BODY', status: 400 },
  VALIDATION: { code: 'LOUPE_ERR_VALIDATION', status: 400 },
  UNAUTHENTICATED: { code: 'LOUPE_ERR_UNAUTHENTICATED', status: 401 },
  FORBIDDEN: { code: 'LOUPE_ERR_FORBIDDEN', status: 403 },
  NOT_FOUND: { code: 'LOUPE_ERR_NOT_FOUND', status: 404 },
  CONFLICT: { code: 'LOUPE_ERR_CONFLICT', status: 409 },
  BODY_TOO_LARGE: { code: 'LOUPE_ERR_BODY_TOO_LARGE', status: 413 },
  UNSUPPORTED_MEDIA_TYPE: { code: 'LOUPE_ERR_UNSUPPORTED_MEDIA_TYPE', status: 415 },
  OVERLOADED: { code: 'LOUPE_ERR_OVERLOADED', status: 503 },
  DATABASE_UNAVAILABLE: { code: 'LOUPE_ERR_DATABASE_UNAVAILABLE', status: 503 },
  INTERNAL: { code: 'LOUPE_ERR_INTERNAL', status: 500 },
} as const;

export type ErrorKind = keyof typeof ErrorCodes;

export class LoupeError extends Error {
  readonly code: string;
  readonly statusCode: number;
  /** seconds; set on 503s so the handler can send `Retry-After` */
  readonly retryAfter: number | undefined;

  constructor(
    kind: ErrorKind,
    message: string,
    options: { cause?: unknown; retryAfter?: number } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LoupeError';
    this.code = ErrorCodes[kind].code;
    this.statusCode = ErrorCodes[kind].status;
    this.retryAfter = options.retryAfter;
  }
}

export const badRequest = (message: string) => new LoupeError('BAD_REQUEST', message);
export const undecodable = (message: string, cause?: unknown) =>
  new LoupeError('UNDECODABLE', message, { cause });
export const notFound = (message: string) => new LoupeError('NOT_FOUND', message);
export const conflict = (message: string) => new LoupeError('CONFLICT', message);
